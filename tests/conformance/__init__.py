"""Conformance tests: the project's artefacts measured against the official iWmo 3.2 ones."""
