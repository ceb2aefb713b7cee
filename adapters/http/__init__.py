"""The HTTP API: intake of iWmo messages, retours, the read side and operations (FastAPI)."""
