"""Dead letters: the rejected submissions on the `rejected` stream, shown and submitted again.

`rejections(log)` lists every MessageRejected with the redrives recorded for it. `redrive`
submits a rejection's exact bytes again through the ingest service (after a schema or rule
fix, say) and records the outcome as a `RedriveRecorded` event on the same stream, so the
dead-letter history says what became of every rejection. Its Avro schema is
`schemas/events/RedriveRecorded.avsc`; the payload codec comes from the composition root
(`adapters.bootstrap.payload_codec`), so this module needs no adapter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from hub.eventlog import EventLog
from hub.events import EventMapper, MessageRejected, PayloadCodec, epoch_ms
from hub.ingest import IngestResult
from hub.masking import mask_text
from hub.messagetypes import MessageType
from hub.records import REJECTED, UNKNOWN_KEY, StoredRecord

REDRIVE_TYPE: Final = "RedriveRecorded"
REDRIVE_VERSION: Final = 1
_GEMEENTE_SENDS: Final = frozenset({"WMO301", "WMO306", "WMO308"})


@dataclass(frozen=True, slots=True)
class Redrive:
    """One recorded redrive of a rejection."""

    redriven_at: str
    status: str
    message_id: str | None
    rules: tuple[str, ...]
    detail: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "redriven_at": self.redriven_at,
            "status": self.status,
            "message_id": self.message_id,
            "rules": list(self.rules),
            "detail": self.detail,
        }


@dataclass
class Rejection:
    """A rejected submission as the dead-letter stream holds it, with its redrives."""

    event: MessageRejected
    record: StoredRecord
    redrives: list[Redrive] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.event.hub_message_id

    @property
    def gemeente(self) -> str:
        """The gemeente the message is about: the sender of a 301, the receiver of a 305."""
        e = self.event
        party = e.sender if e.message_type in _GEMEENTE_SENDS else e.receiver
        return party or UNKNOWN_KEY

    @property
    def outcome(self) -> str:
        """`open` until a redrive was accepted or found a duplicate."""
        if any(r.status in ("accepted", "duplicate") for r in self.redrives):
            return "resolved"
        return "redriven" if self.redrives else "open"

    def summary(self) -> dict[str, object]:
        rules = sorted({e.rule for e in self.event.errors})
        return {
            "id": self.id,
            "received_at": _iso(self.event.received_at),
            "gemeente": self.gemeente,
            "message_type": self.event.message_type,
            "sender": self.event.sender,
            "identificatie": self.event.identificatie,
            "errors": len(self.event.errors),
            "rules": rules,
            "first_error": mask_text(self.event.errors[0].message) if self.event.errors else None,
            "position": str(self.record.position),
            "outcome": self.outcome,
        }

    def details(self) -> dict[str, object]:
        e = self.event
        return {
            **self.summary(),
            "receiver": e.receiver,
            "dagtekening": None if e.dagtekening is None else e.dagtekening.isoformat(),
            "size_bytes": len(e.content),
            "error_list": [
                {
                    "rule": x.rule,
                    "retour_code": x.retour_code,
                    "path": x.path,
                    "line": x.line,
                    "message": mask_text(x.message),
                }
                for x in e.errors
            ],
            "redrives": [r.as_dict() for r in self.redrives],
        }


def rejections(log: EventLog, avro: PayloadCodec) -> list[Rejection]:
    """Every rejection on the dead-letter stream, oldest first, with its redrives."""
    mapper = EventMapper(avro)
    found: dict[str, Rejection] = {}
    for record in log.read(REJECTED):
        if record.event_type == MessageRejected.event_type():
            event = mapper.to_event(record)
            assert isinstance(event, MessageRejected)
            found.setdefault(event.hub_message_id, Rejection(event, record))
        elif record.event_type == REDRIVE_TYPE:
            data = avro.decode(record.payload, REDRIVE_TYPE, REDRIVE_VERSION)
            target = found.get(data["rejected_id"])
            if target is not None:
                target.redrives.append(_redrive(data))
    return list(found.values())


def _iso(moment: dt.datetime) -> str:
    """ISO 8601 UTC with milliseconds, as the projection tables write times."""
    text = moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _redrive(data: dict[str, Any]) -> Redrive:
    at = data["redriven_at"]
    return Redrive(
        redriven_at=_iso(at) if isinstance(at, dt.datetime) else str(at),
        status=data["status"],
        message_id=data["message_id"],
        rules=tuple(data["rules"]),
        detail=data["detail"],
    )


def find(found: Iterable[Rejection], ids: Sequence[str]) -> list[Rejection]:
    """The rejections with these ids (a unique prefix of at least 8 characters will do)."""
    pool = list(found)
    chosen = []
    for wanted in ids:
        hits = [r for r in pool if r.id == wanted] or (
            [r for r in pool if r.id.startswith(wanted)] if len(wanted) >= 8 else []
        )
        if len(hits) != 1:
            why = "no rejection" if not hits else f"{len(hits)} rejections"
            raise LookupError(f"{why} with id {wanted!r}")
        chosen.append(hits[0])
    return chosen


def redrive_record(
    rejection: Rejection, result: IngestResult, at: dt.datetime, avro: PayloadCodec
) -> StoredRecord:
    """The RedriveRecorded event for one redrive's result."""
    data = {
        "rejected_id": rejection.id,
        "redriven_at": at,
        "status": result.status,
        "message_id": result.message_id,
        "rules": sorted({e.rule for e in result.errors}),
        "detail": None if result.detail is None else mask_text(result.detail),
    }
    return StoredRecord(
        stream=REJECTED,
        key=rejection.record.key,
        event_type=REDRIVE_TYPE,
        schema_version=REDRIVE_VERSION,
        payload=avro.encode(REDRIVE_TYPE, REDRIVE_VERSION, data),
        timestamp_ms=epoch_ms(at),
    )


def redrive(
    log: EventLog,
    chosen: Sequence[Rejection],
    ingest: Callable[[bytes], IngestResult],
    *,
    avro: PayloadCodec,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> Iterator[tuple[Rejection, IngestResult]]:
    """Submit each rejection's bytes again; record every outcome before reporting it."""
    for rejection in chosen:
        result = ingest(rejection.event.content)
        log.append([redrive_record(rejection, result, clock(), avro)])
        yield rejection, result


def message_type_name(value: str | None) -> str:
    """A readable type for listings ('?' when the bytes never said)."""
    if value is None:
        return "?"
    try:
        return MessageType.from_name(value).name
    except ValueError:
        return value
