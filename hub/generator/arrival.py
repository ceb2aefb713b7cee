"""Arrival anomalies: messages that reach the hub late, out of order, or twice.

Each script plans a case with one toewijzing (nothing else can be caught up in the change of
order) and moves one message's arrival in `CaseBuilder.rearrange`. A message that arrives
before the message it depends on raises a mismatch that the late one resolves (OP080): a
305 before its 301 gives TR019, a 307 before its 305 gives TR382, both `resolved` in the
ground truth. A newer 301 version before an older one, a late message, or an exact resend
(same BerichtIdentificatie, TR056) must change nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from hub.generator.anomalies import Script, opened
from hub.generator.lifecycle import Planner
from hub.generator.plan import DAY, Decision, Delivery, Planned, message_of


def _end_of_run(p: Planner) -> int:
    """The latest a message may arrive: 21:00 UTC on the last day, which is still that day
    in the Netherlands (a hub that counts days locally sees it within the run)."""
    return (p.as_of - dt.date(1970, 1, 1)).days * DAY + 21 * 3600


def _move_after(
    p: Planner, moved: Decision | Delivery, anchor: Decision | Delivery, kind: str
) -> None:
    """Let the message with `moved` arrive shortly after the message with `anchor`."""
    gap = p.rng.randint(60, 7_200)
    end = _end_of_run(p)

    def change(messages: list[Planned]) -> None:
        late, first = message_of(p.b.plan, moved), message_of(p.b.plan, anchor)
        late.sent_at = min(first.sent_at + gap, end)
        late.order = first.order + len(messages)  # after the anchor even at the same second
        late.anomaly = kind

    p.b.rearrange.append(change)


def duplicate(p: Planner, d0: dt.date, taken: set[str]) -> bool:
    """A message sent again unchanged, same BerichtIdentificatie (TR056), hours or days on."""
    o = opened(p, d0, taken, 1)
    if o is None:
        return False
    part: Decision | Delivery = p.rng.choice((o.decision, o.delivery))
    delay = p.rng.randint(3_600, 3 * DAY)
    end = _end_of_run(p)

    def change(messages: list[Planned]) -> None:
        original = message_of(p.b.plan, part)
        again = dataclasses.replace(
            original,
            sent_at=min(original.sent_at + delay, end),
            duplicate_of=original,
            anomaly="DUPLICATE_MESSAGE",
            order=len(messages),
        )
        messages.append(again)

    p.b.rearrange.append(change)
    return True


def late(p: Planner, d0: dt.date, taken: set[str]) -> bool:
    """A start that reaches the hub days after its Dagtekening, nothing overtaking it."""
    o = opened(p, d0, taken, 5)
    if o is None:
        return False
    delivery = o.delivery
    delay = p.rng.randint(4 * DAY, 15 * DAY)
    end = _end_of_run(p)

    def change(messages: list[Planned]) -> None:
        message = message_of(p.b.plan, delivery)
        message.sent_at = min(message.sent_at + delay, end)
        message.anomaly = "LATE_ARRIVAL"

    p.b.rearrange.append(change)
    return True


def start_before_toewijzing(p: Planner, d0: dt.date, taken: set[str]) -> bool:
    """The 305 arrives before the 301 it starts: TR019, resolved when the 301 arrives."""
    o = opened(p, d0, taken, 1)
    if o is None:
        return False
    _move_after(p, o.decision, o.delivery, "OUT_OF_ORDER_START")
    p.b.expect(
        "TR019",
        o.nummer,
        o.delivery,
        o.decision,
        anomaly="OUT_OF_ORDER_START",
        status="resolved",
    )
    return True


def stop_before_start(p: Planner, d0: dt.date, taken: set[str]) -> bool:
    """The 307 arrives before the 305 it stops: TR382, resolved when the 305 arrives."""
    o = opened(p, d0, taken, 5)
    if o is None:
        return False
    day = o.sent + p.lag(1, 4)
    eind = max(day - p.lag(0, 2), o.start.begindatum)
    stopped = p.b.deliver(day, p.b.stop_of(o.start, p.rng.choice(("21", "23")), eind), own=True)
    assert stopped is not None
    _move_after(p, o.delivery, stopped, "OUT_OF_ORDER_STOP")
    p.b.expect(
        "TR382",
        o.nummer,
        stopped,
        o.delivery,
        anomaly="OUT_OF_ORDER_STOP",
        status="resolved",
    )
    return True


def versions_swapped(p: Planner, d0: dt.date, taken: set[str]) -> bool:
    """An extension (RW 04) and its correction a day or two later (RW 14, a later Einddatum)
    arrive the other way round; the later Toewijzingsdatum/-tijd still wins (IV013), so
    nothing is flagged."""
    o = opened(p, d0, taken, 5)
    if o is None:
        return False
    line = o.line
    assert line.einddatum is not None
    first = o.sent + p.lag(1, 3)
    longer = line.einddatum + p.lag(30, 180)
    v2 = p.b.decide(
        first, [dataclasses.replace(line, einddatum=longer, reden_wijziging="04")], own=True
    )
    fixed = longer + p.lag(5, 20)  # the extension was entered a little too short
    v3 = p.b.decide(
        first + p.lag(1, 2),
        [dataclasses.replace(line, einddatum=fixed, reden_wijziging="14")],
        own=True,
    )
    assert v2 is not None and v3 is not None
    _move_after(p, v2, v3, "OUT_OF_ORDER_VERSIONS")
    return True


#: Arrival anomalies, cycled through after the toewijzing-level ones.
ARRIVAL_SCRIPTS: dict[str, Script] = {
    "DUPLICATE_MESSAGE": duplicate,
    "LATE_ARRIVAL": late,
    "OUT_OF_ORDER_START": start_before_toewijzing,
    "OUT_OF_ORDER_STOP": stop_before_start,
    "OUT_OF_ORDER_VERSIONS": versions_swapped,
}
