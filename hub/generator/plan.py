"""One client-aanbieder case as a plan: the gemeente's decisions and the aanbieder's
deliveries, turned into 301/305/307 messages with their arrival times.

A `CaseBuilder` collects `Decision`s (new versions of ToegewezenProducten, one 301 per day
that bundles all current toewijzingen of the client and aanbieder, OP087) and `Delivery`s
(StartProduct/StopProduct records, bundled per day into one 305 or 307). Nothing dated after
the run's last day is kept. `assemble` gives the messages in the order they reach the hub.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hub.generator.results import ToewijzingTruth
from hub.generator.world import Identity
from hub.messagetypes import MessageType
from hub.model import StartProduct, StopProduct, ToegewezenProduct

_EPOCH = dt.date(1970, 1, 1)
DAY = 86_400
#: Office hours in which decisions are taken and messages sent (seconds after midnight, UTC).
OPEN, CLOSE = 8 * 3600, 17 * 3600

Record = StartProduct | StopProduct


def day_seconds(day: dt.date) -> int:
    """Seconds since the epoch at the start of `day` (UTC)."""
    return (day - _EPOCH).days * DAY


def moment(seconds: int) -> dt.datetime:
    """An aware UTC datetime for seconds since the epoch."""
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)


@dataclass(slots=True, eq=False)
class Decision:
    """New versions of one or more toewijzingen, decided at one moment by the gemeente."""

    day: dt.date
    at: int  # seconds since the epoch; Toewijzingstijd is its time of day
    lines: tuple[ToegewezenProduct, ...]
    own: bool = False  # sent in a 301 of its own, not merged with other decisions that day


@dataclass(slots=True, eq=False)
class Delivery:
    """One start or stop record the aanbieder sends on `day` (its Dagtekening)."""

    day: dt.date
    record: Record
    rejected: bool = False  # refused by a cross-message TR rule: does not change the status
    own: bool = False


@dataclass(slots=True, eq=False)
class Planned:
    """One message of the run: what it holds, when it is dated and when it reaches the hub."""

    message_type: MessageType
    sender: str
    receiver: str
    identificatie: str
    dagtekening: dt.date
    sent_at: int
    lines: tuple[ToegewezenProduct, ...] | tuple[StartProduct, ...] | tuple[StopProduct, ...]
    case: CasePlan
    parts: tuple[Decision | Delivery, ...] = ()
    anomaly: str | None = None
    duplicate_of: Planned | None = None
    order: int = 0  # creation order within the case: breaks ties between equal times
    seq: int = -1  # position in the run, set when the message is emitted


@dataclass(slots=True, eq=False)
class Expectation:
    """A mismatch the hub must find: code, ToewijzingNummer, and the parts behind it."""

    code: str
    nummer: int
    parts: tuple[Decision | Delivery | Planned, ...]
    anomaly: str
    status: str = "open"


@dataclass(slots=True, eq=False)
class CasePlan:
    """Everything one client-aanbieder case sends, and what the hub must make of it."""

    index: int
    gemeente: str
    aanbieder: str
    identity: Identity
    #: In arrival order; the stream drops each one (None) once it is emitted.
    messages: list[Planned | None] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    nummers: list[int] = field(default_factory=list)  # toewijzingen, in order of issue
    heads: dict[str, str] = field(default_factory=dict)  # rendered client parts, per type
    # Set by `truth.settle` once the case is planned: the truth, short of sequence numbers.
    toewijzing_truth: tuple[ToewijzingTruth, ...] = ()
    expected: list[tuple[Expectation, tuple[Planned, ...]]] = field(default_factory=list)
    duplicate_pairs: list[tuple[Planned, Planned]] = field(default_factory=list)


class CaseBuilder:
    """Collects one case's decisions and deliveries, dropping anything after `as_of`."""

    def __init__(self, plan: CasePlan, as_of: dt.date, rng: random.Random) -> None:
        self.plan = plan
        self.as_of = as_of
        self.rng = rng
        self._latest: dict[int, ToegewezenProduct] = {}
        #: Changes to arrival times (late, out of order, duplicated), applied by `assemble`.
        self.rearrange: list[Callable[[list[Planned]], None]] = []

    # --- what the gemeente decides ----------------------------------------------------------

    def decide(
        self, day: dt.date, lines: Sequence[ToegewezenProduct], *, own: bool = False
    ) -> Decision | None:
        """New versions (Toewijzingsdatum = `day`, a Toewijzingstijd in office hours), or None
        when `day` is after the run."""
        if day > self.as_of:
            return None
        at = day_seconds(day) + self.rng.randrange(OPEN, CLOSE - 3600)
        tijd = moment(at).time()
        versions = tuple(
            dataclasses.replace(line, toewijzingsdatum=day, toewijzingstijd=tijd) for line in lines
        )
        decision = Decision(day=day, at=at, lines=versions, own=own)
        for version in versions:
            if version.toewijzing_nummer not in self._latest:
                self.plan.nummers.append(version.toewijzing_nummer)
            self._latest[version.toewijzing_nummer] = version
        self.plan.decisions.append(decision)
        return decision

    def current(self, nummer: int) -> ToegewezenProduct:
        """The latest version decided so far of a toewijzing."""
        return self._latest[nummer]

    # --- what the aanbieder sends -----------------------------------------------------------

    def deliver(
        self, day: dt.date, record: Record, *, rejected: bool = False, own: bool = False
    ) -> Delivery | None:
        """A start or stop record sent on `day`, or None when that is after the run."""
        if day > self.as_of:
            return None
        delivery = Delivery(day=day, record=record, rejected=rejected, own=own)
        self.plan.deliveries.append(delivery)
        return delivery

    def start_of(
        self, nummer: int, begindatum: dt.date, *, status: str = "1", **fixed: object
    ) -> StartProduct:
        """A StartProduct for a toewijzing, copying its product and Ingangsdatum."""
        line = self._latest[nummer]
        values: dict[str, object] = {
            "toewijzing_nummer": nummer,
            "product": line.product,
            "toewijzing_ingangsdatum": line.ingangsdatum,
            "begindatum": begindatum,
            "status_aanlevering": status,
        }
        values.update(fixed)
        return StartProduct(**values)  # type: ignore[arg-type]

    def stop_of(
        self, start: StartProduct, reden: str, einddatum: dt.date, *, status: str = "1"
    ) -> StopProduct:
        """A StopProduct with the key of a start (TR382: Bsn, ToewijzingNummer, Product,
        Begindatum unchanged)."""
        return StopProduct(
            toewijzing_nummer=start.toewijzing_nummer,
            product=start.product,
            toewijzing_ingangsdatum=start.toewijzing_ingangsdatum,
            begindatum=start.begindatum,
            reden_beeindiging=reden,
            einddatum=einddatum,
            status_aanlevering=status,
        )

    def expect(
        self,
        code: str,
        nummer: int,
        *parts: Decision | Delivery | Planned | None,
        anomaly: str,
        status: str = "open",
    ) -> None:
        """Record a mismatch the hub must report (`resolved` if later messages undo it)."""
        kept = tuple(p for p in parts if p is not None)
        self.plan.expectations.append(Expectation(code, nummer, kept, anomaly, status))

    # --- messages ---------------------------------------------------------------------------

    def assemble(self, ids: IdSource) -> list[Planned]:
        """The case's 301s (one per day, OP087 content) and 305/307s (one per day and type),
        in order of arrival."""
        messages = [*self._toewijzingen(ids), *self._leveringen(ids)]
        for order, message in enumerate(messages):
            message.order = order
        messages.sort(key=lambda m: (m.sent_at, m.order))
        self.plan.messages = messages  # type: ignore[assignment]  # (message_of needs them)
        for change in self.rearrange:
            change(messages)
        messages.sort(key=lambda m: (m.sent_at, m.order))
        self.plan.messages = messages  # type: ignore[assignment]
        return messages

    def _toewijzingen(self, ids: IdSource) -> list[Planned]:
        groups: list[list[Decision]] = []
        for decision in sorted(self.plan.decisions, key=lambda d: d.at):
            last = groups[-1] if groups else None
            if last and not decision.own and not last[0].own and last[0].day == decision.day:
                last.append(decision)
            else:
                groups.append([decision])
        latest: dict[int, ToegewezenProduct] = {}
        out = []
        for group in groups:
            day = group[0].day
            changed: dict[int, ToegewezenProduct] = {}
            for decision in group:
                for line in decision.lines:
                    changed[line.toewijzing_nummer] = line
            latest.update(changed)
            lines = []
            for nummer, line in sorted(latest.items()):
                if nummer in changed:
                    lines.append(line)
                elif _current(line, day):
                    # OP087: still valid, so sent again; unchanged, so no RedenWijziging (IV099).
                    lines.append(dataclasses.replace(line, reden_wijziging=None))
            sent = max(d.at for d in group) + self.rng.randrange(300, 5_400)
            out.append(self._message(ids, MessageType.WMO301, day, sent, tuple(lines), group))
        return out

    def _leveringen(self, ids: IdSource) -> list[Planned]:
        groups: dict[tuple[dt.date, bool, int], list[Delivery]] = {}
        for n, delivery in enumerate(self.plan.deliveries):
            is_stop = isinstance(delivery.record, StopProduct)
            groups.setdefault((delivery.day, is_stop, n if delivery.own else -1), []).append(
                delivery
            )
        out = []
        for (day, is_stop, _), group in groups.items():
            message_type = MessageType.WMO307 if is_stop else MessageType.WMO305
            sent = day_seconds(day) + self.rng.randrange(OPEN, CLOSE)
            records = tuple(d.record for d in group)
            out.append(self._message(ids, message_type, day, sent, records, group))
        return out

    def _message(
        self,
        ids: IdSource,
        message_type: MessageType,
        day: dt.date,
        sent: int,
        lines: tuple[ToegewezenProduct, ...] | tuple[Record, ...],
        parts: Sequence[Decision | Delivery],
    ) -> Planned:
        plan = self.plan
        sender, receiver = plan.gemeente, plan.aanbieder
        if message_type is not MessageType.WMO301:
            sender, receiver = receiver, sender
        return Planned(
            message_type=message_type,
            sender=sender,
            receiver=receiver,
            identificatie=ids.identificatie(sender, message_type),
            dagtekening=day,
            sent_at=sent,
            lines=lines,  # type: ignore[arg-type]
            case=plan,
            parts=tuple(parts),
        )


class IdSource(Protocol):
    """Where BerichtIdentificaties come from (the run's `World`)."""

    def identificatie(self, sender: str, message_type: MessageType) -> str: ...


def _current(line: ToegewezenProduct, day: dt.date) -> bool:
    """OP087: valid on or after `day`; a deleted line (RedenWijziging 13) never is."""
    if line.reden_wijziging in ("01", "13") and line.einddatum == line.ingangsdatum:
        return False
    return line.einddatum is None or line.einddatum >= day


def message_of(plan: CasePlan, part: Decision | Delivery) -> Planned:
    """The (first) message that carries a decision or a delivery."""
    for message in plan.messages:
        if message and message.duplicate_of is None and any(p is part for p in message.parts):
            return message
    raise LookupError("part is in no message")
