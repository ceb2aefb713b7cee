"""Contract suites: one abstract test class per port, subclassed once per adapter."""
