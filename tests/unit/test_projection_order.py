"""OP080: for any set of messages, every arrival order gives the same arrangements and the same
open mismatches. Scenarios come from the message factory: toewijzingen with revisions,
withdrawals and deletions, starts, temporary and definitive stops, deletions of starts and
stops, resent and duplicated messages, and anomalies (unknown references, wrong products,
early starts). Hypothesis draws scenarios and shuffles of the events they yield."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.events import DomainEvent
from hub.factory import MessageFactory
from hub.model import Product, Wmo301, Wmo305, Wmo307
from projections.state import Fold
from tests.unit.projection_scenarios import T0_MS, messages_as_events

TODAY = dt.date(2025, 6, 30)
OPS = (
    "start",
    "stop",
    "temporary_stop",
    "delete_start",
    "delete_stop",
    "duplicate_start",
    "revise",
    "withdraw",
    "delete_toewijzing",
    "resend_partial",
    "wrong_product",
    "early_start",
    "unknown_reference",
    "orphan_stop",
)
Message = Wmo301 | Wmo305 | Wmo307


def _with_starts(message: Wmo305, **changes: Any) -> Wmo305:
    lines = tuple(dataclasses.replace(s, **changes) for s in message.client.start_producten)
    return dataclasses.replace(
        message, client=dataclasses.replace(message.client, start_producten=lines)
    )


def _with_stops(message: Wmo307, **changes: Any) -> Wmo307:
    lines = tuple(dataclasses.replace(s, **changes) for s in message.client.stop_producten)
    return dataclasses.replace(
        message, client=dataclasses.replace(message.client, stop_producten=lines)
    )


def _revised(toewijzing: Wmo301, days: int, **changes: Any) -> Wmo301:
    """The toewijzing's lines sent again `days` later, with `changes`."""
    lines = []
    for line in toewijzing.client.toegewezen_producten:
        fields = dict(changes)
        if "einddatum" in fields and fields["einddatum"] == "withdraw":
            fields["einddatum"] = line.ingangsdatum + dt.timedelta(days=20)
        if fields.get("reden_wijziging") == "13":
            fields["einddatum"] = line.ingangsdatum
        lines.append(
            dataclasses.replace(
                line, toewijzingsdatum=line.toewijzingsdatum + dt.timedelta(days=days), **fields
            )
        )
    return dataclasses.replace(
        toewijzing,
        client=dataclasses.replace(toewijzing.client, toegewezen_producten=tuple(lines)),
    )


class Choices:
    """Where a scenario's choices come from: hypothesis (shrinkable) or a seeded Random."""

    def __init__(self, draw: st.DrawFn | None = None, rng: random.Random | None = None) -> None:
        self._draw = draw
        self._rng = rng

    def integer(self, low: int, high: int) -> int:
        if self._draw is not None:
            return self._draw(st.integers(low, high))
        assert self._rng is not None
        return self._rng.randint(low, high)

    def ops(self) -> list[str]:
        if self._draw is not None:
            return self._draw(st.lists(st.sampled_from(OPS), max_size=7))
        assert self._rng is not None
        return [self._rng.choice(OPS) for _ in range(self._rng.randint(0, 7))]


@st.composite
def scenarios(draw: st.DrawFn) -> list[Message]:
    return build_scenario(Choices(draw=draw))


def build_scenario(choices: Choices) -> list[Message]:
    """Messages about one gemeente and aanbieder: a few toewijzingen and what happens to them."""
    draw_int = choices.integer
    factory = MessageFactory(draw_int(0, 2**32), today=TODAY)
    gemeente, aanbieder = factory.gemeente(), factory.agb_code()
    messages: list[Message] = []
    for _ in range(draw_int(1, 2)):
        toewijzing = factory.wmo301(
            afzender=gemeente,
            ontvanger=aanbieder,
            producten=[
                {"ingangsdatum": TODAY - dt.timedelta(days=draw_int(30, 200))}
                for _ in range(draw_int(1, 2))
            ],
        )
        messages.append(toewijzing)
        starts: list[Wmo305] = []
        stops: list[Wmo307] = []
        for op in choices.ops():
            latest_start = starts[-1] if starts else None
            if op == "start" or (op in ("stop", "temporary_stop") and latest_start is None):
                try:
                    started = factory.wmo305(toewijzing)
                except ValueError:  # nothing of this toewijzing can have started by today
                    continue
                starts.append(started)
                messages.append(started)
            elif op in ("stop", "temporary_stop") and latest_start is not None:
                stopped = factory.wmo307(latest_start, toewijzing=toewijzing)
                if op == "temporary_stop":
                    stopped = _with_stops(stopped, reden_beeindiging="20")
                stops.append(stopped)
                messages.append(stopped)
            elif op == "delete_start" and latest_start is not None:
                messages.append(_with_starts(latest_start, status_aanlevering="3"))
            elif op == "delete_stop" and stops:
                messages.append(_with_stops(stops[-1], status_aanlevering="3"))
            elif op == "duplicate_start" and latest_start is not None:
                messages.append(latest_start)  # the same content again, as a new message
            elif op == "revise":
                extended = TODAY + dt.timedelta(days=draw_int(1, 400))
                messages.append(_revised(toewijzing, 3, einddatum=extended, reden_wijziging="04"))
            elif op == "withdraw":
                messages.append(_revised(toewijzing, 5, einddatum="withdraw", reden_wijziging="05"))
            elif op == "delete_toewijzing":
                messages.append(_revised(toewijzing, 7, reden_wijziging="13"))
            elif op == "resend_partial":
                first = toewijzing.client.toegewezen_producten[:1]
                messages.append(
                    dataclasses.replace(
                        toewijzing,
                        client=dataclasses.replace(toewijzing.client, toegewezen_producten=first),
                    )
                )
            elif op == "wrong_product" and latest_start is not None:
                other = Product(categorie="08", code="08X99")
                messages.append(_with_starts(latest_start, product=other))
            elif op == "early_start" and latest_start is not None:
                messages.append(
                    _with_starts(latest_start, begindatum=TODAY - dt.timedelta(days=400))
                )
            elif op == "orphan_stop" and latest_start is not None:
                stopped = factory.wmo307(latest_start, toewijzing=toewijzing)
                messages.append(_with_stops(stopped, begindatum=TODAY - dt.timedelta(days=1)))
            elif op == "unknown_reference":
                messages.append(factory.wmo305(ontvanger=gemeente, afzender=aanbieder))
    return messages


def outcome(events: Sequence[DomainEvent]) -> tuple[Any, Any]:
    """What must not depend on arrival order: arrangements and open mismatches."""
    result = Fold()
    for i, event in enumerate(events):
        result.apply(event, T0_MS + i)
    arrangements = [a.comparable() for a in result.arrangements()]
    return arrangements, result.open_mismatches()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), messages=scenarios())
def test_every_arrival_order_gives_the_same_arrangements_and_open_mismatches(
    data: st.DataObject, messages: list[Message]
) -> None:
    events = [e for message in messages_as_events(messages) for e in message]
    expected = outcome(events)
    for _ in range(3):
        shuffled = data.draw(st.permutations(events))
        assert outcome(shuffled) == expected


def test_the_scenarios_reach_the_mismatches_order_could_affect() -> None:
    """The generator is not trivially harmless: over a fixed sample it raises these codes
    (TR071 and TR414 among them: lines whose voidness is judged on the whole set)."""
    seen: set[str] = set()
    for seed in range(200):
        messages = build_scenario(Choices(rng=random.Random(seed)))
        events = [e for message in messages_as_events(messages) for e in message]
        seen.update(m.code for m in outcome(events)[1])
    expected = {
        "TR019", "TR074", "TR063", "TR071", "TR326", "TR382", "TR413", "TR414", "TR415",
        "PRODUCT_MISMATCH", "START_BEFORE_ASSIGNMENT", "CARE_ON_DELETED_ASSIGNMENT",
        "CARE_AFTER_ASSIGNMENT_END",
    }  # fmt: skip
    assert expected <= seen, sorted(seen)
