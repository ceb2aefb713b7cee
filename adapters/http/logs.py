"""Structured logs: one JSON object per line, with message ids and parties, never a BSN.

Every line has `ts`, `level`, `logger` and `msg`; call sites add fields with
`extra={"fields": {...}}` (message_id, message_type, status, party, route, duration_ms).
The free text (`msg`, exception text) is passed through `mask_text`, which masks any
stand-alone nine-digit number, so even a BSN quoted in an error message never reaches a log.
The structured fields are ids the hub itself makes or checks (UUIDs, 4- and 8-digit codes) and
are left as they are: masking a UUID that happens to contain nine digits would break it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any, Final, TextIO

from hub.masking import mask_text

#: The logger of the HTTP adapter's own events (requests, intake outcomes).
LOGGER: Final = "iwmo_hub.http"


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
        payload: dict[str, Any] = {
            "ts": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_text(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        if record.exc_info:
            payload["exception"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)


def configure(level: str = "info", stream: TextIO | None = None) -> logging.Handler:
    """Send every log record (ours, uvicorn's, the hub's) as JSON lines to `stream`."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True
    return handler


def event(logger: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    """Log `msg` with structured fields (left out when None)."""
    if logger.isEnabledFor(level):
        clean = {k: v for k, v in fields.items() if v is not None}
        logger.log(level, msg, extra={"fields": clean})
