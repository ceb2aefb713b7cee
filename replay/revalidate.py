"""Re-validation: every stored message through today's schemas and rules, the log untouched.

A rule fix or a stricter rule set raises the question "which messages we accepted would we
reject now?". `revalidate` reads each MessageReceived (the exact bytes the hub accepted) and
runs them through a `Validator`; by default each message is judged as of the day the hub
received it, so date-dependent rules (a Dagtekening in the future, ...) give what they gave
then and only changes in the rules show up. Nothing is written to the log.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from hub.errors import InvalidMessage
from hub.eventlog import EventLog
from hub.events import EventMapper, MessageReceived
from hub.masking import mask_text
from hub.records import EVENTS, StoredRecord
from hub.rules.base import RuleRegistry, registry
from hub.validation import Validator

#: Makes the validator that judges a message received on a given day.
ValidatorFor = Callable[[dt.date], Validator]


def load_rules(version: str) -> RuleRegistry:
    """`current` (the rules this hub runs), or `package.module:attribute` naming a RuleRegistry
    (a candidate rule set to try against history before deploying it)."""
    if version in ("", "current"):
        return registry
    module_name, sep, attribute = version.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"--rules {version!r}: expected 'current' or 'package.module:attribute'")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"--rules {version!r}: {e}") from e
    if not isinstance(found, RuleRegistry):
        raise ValueError(f"--rules {version!r} is a {type(found).__name__}, not a RuleRegistry")
    return found


def validators(rules: RuleRegistry = registry, today: dt.date | None = None) -> ValidatorFor:
    """One validator per judging day (cached): `today` for all, else each receipt day."""
    made: dict[dt.date, Validator] = {}

    def validator_for(received: dt.date) -> Validator:
        day = today or received
        if day not in made:
            made[day] = Validator(rules=rules, today=day)
        return made[day]

    return validator_for


@dataclass(frozen=True, slots=True)
class Finding:
    """A stored message the rules would reject now, and why (BSNs masked)."""

    gemeente: str
    message_type: str
    hub_message_id: str
    identificatie: str
    received_at: str
    position: str
    errors: tuple[tuple[str, str, str, str], ...]  # (rule, retour_code, path, message)

    def as_dict(self) -> dict[str, object]:
        return {
            "gemeente": self.gemeente,
            "message_type": self.message_type,
            "hub_message_id": self.hub_message_id,
            "identificatie": self.identificatie,
            "received_at": self.received_at,
            "position": self.position,
            "errors": [
                {"rule": r, "retour_code": c, "path": p, "message": m} for r, c, p, m in self.errors
            ],
        }


@dataclass
class Report:
    """Per (gemeente, message type): messages checked, and the findings."""

    checked: Counter[tuple[str, str]] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.checked.values())

    def rejected(self) -> Counter[tuple[str, str]]:
        return Counter((f.gemeente, f.message_type) for f in self.findings)

    def by_rule(self) -> Counter[str]:
        return Counter(e[0] for f in self.findings for e in f.errors)

    def as_dict(self) -> dict[str, object]:
        rejected = self.rejected()
        return {
            "checked": self.total,
            "would_reject": len(self.findings),
            "by_rule": dict(sorted(self.by_rule().items())),
            "groups": [
                {"gemeente": g, "message_type": t, "checked": n, "would_reject": rejected[(g, t)]}
                for (g, t), n in sorted(self.checked.items())
            ],
            "messages": [f.as_dict() for f in self.findings],
        }


def _errors(found: tuple[InvalidMessage, ...]) -> tuple[tuple[str, str, str, str], ...]:
    return tuple((e.rule, e.retour_code, e.path, mask_text(e.message)) for e in found)


def received_messages(
    log: EventLog, mapper: EventMapper
) -> Iterator[tuple[StoredRecord, MessageReceived]]:
    """Every accepted message once (readers keep the first MessageReceived per id)."""
    seen: set[str] = set()
    for record in log.read(EVENTS):
        if record.event_type != MessageReceived.event_type():
            continue
        event = mapper.to_event(record)
        assert isinstance(event, MessageReceived)
        if event.hub_message_id in seen:
            continue
        seen.add(event.hub_message_id)
        yield record, event


def revalidate(
    log: EventLog,
    mapper: EventMapper,
    validator_for: ValidatorFor,
    *,
    gemeente: str | None = None,
    on_message: Callable[[int], None] | None = None,
) -> Report:
    """Check every stored message; the log is only read."""
    report = Report()
    for record, message in received_messages(log, mapper):
        if gemeente is not None and record.key != gemeente:
            continue
        group = (record.key, message.message_type)
        report.checked[group] += 1
        result = validator_for(message.received_at.date()).check(message.content)
        if on_message is not None:
            on_message(1)
        if result.valid:
            continue
        report.findings.append(
            Finding(
                gemeente=record.key,
                message_type=message.message_type,
                hub_message_id=message.hub_message_id,
                identificatie=message.identificatie,
                received_at=message.received_at.isoformat(),
                position=str(record.position),
                errors=_errors(result.errors),
            )
        )
    return report
