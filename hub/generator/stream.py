"""The run: cases opened in order of intake, their messages merged by arrival time.

Memory stays flat however long the run: a case is planned when its first message is due and
dropped, with its ground truth handed out, after its last one; the heap holds one entry per
open case. Messages come out in arrival order with gap-free sequence numbers.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass

from hub.generator.cases import AnomalyCycle, Intake, intake_day, plan_case
from hub.generator.config import GeneratorConfig
from hub.generator.lifecycle import days
from hub.generator.plan import CasePlan, Planned, day_seconds
from hub.generator.results import CaseTruth
from hub.generator.truth import case_truth
from hub.generator.world import World

#: Share of clients who also get care from a second aanbieder, starting a little later.
SECOND_AANBIEDER = 0.2


@dataclass(frozen=True, slots=True)
class Emitted:
    """A message of the run, in arrival order (`seq` counts from 1)."""

    seq: int
    message: Planned


@dataclass(frozen=True, slots=True)
class Finished:
    """A case whose messages have all been emitted, with its ground truth."""

    truth: CaseTruth


Item = Emitted | Finished


class _Intakes:
    """Clients in order of intake: the first case of client 0, 1, ... and, merged in by
    day, the later second cases of some of them."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.config = world.config
        self.next_client = 0
        self.pending: list[tuple[int, int, Intake]] = []  # (day, client, intake)

    def peek_day(self) -> int | None:
        """Seconds at the start of the next intake's day, or None when all clients came."""
        days_ = [day_seconds(self.pending[0][2].day)] if self.pending else []
        if self.next_client < self.config.clients:
            days_.append(day_seconds(self._day(self.next_client)))
        return min(days_) if days_ else None

    def pop(self) -> Intake:
        first = self._day(self.next_client) if self.next_client < self.config.clients else None
        if self.pending and (first is None or self.pending[0][2].day < first):
            return heapq.heappop(self.pending)[2]
        client = self.next_client
        self.next_client += 1
        assert first is not None
        rng = random.Random(f"{self.config.seed}/client/{client}")
        gemeente = self.world.gemeente(rng)
        aanbieder = self.world.aanbieder(rng)
        identity = self.world.identity(client, self.config.first_day)
        intake = Intake(first, client, gemeente, aanbieder, identity)
        if len(self.world.aanbieders) > 1 and rng.random() < SECOND_AANBIEDER:
            later = first + days(rng.randint(0, 60))
            if later <= self.config.as_of:
                other = self.world.aanbieder(rng, besides=aanbieder)
                second = Intake(later, client, gemeente, other, identity)
                heapq.heappush(self.pending, (day_seconds(later), client, second))
        return intake

    def _day(self, client: int) -> dt.date:
        return intake_day(self.config.first_day, self.config.days, client, self.config.clients)


def generate(config: GeneratorConfig) -> Iterator[Item]:
    """Every message of the run in arrival order, and each case's truth when it is done."""
    world = World(config)
    intakes = _Intakes(world)
    rng = random.Random(f"{config.seed}/anomalies")
    cycle = AnomalyCycle(rng.randrange(1_000))
    heap: list[tuple[int, int, int, CasePlan]] = []  # (sent_at, case, position, plan)
    cases = 0
    seq = 0
    while True:
        next_intake = intakes.peek_day()
        if next_intake is not None and (not heap or next_intake <= heap[0][0]):
            intake = intakes.pop()
            anomalous = rng.random() < config.anomaly_rate
            plan = plan_case(cases, intake, world, cycle, anomalous)
            cases += 1
            first = plan.messages[0] if plan.messages else None
            if first is not None:
                heapq.heappush(heap, (first.sent_at, plan.index, 0, plan))
            continue
        if not heap:
            return
        _, index, position, plan = heapq.heappop(heap)
        message = plan.messages[position]
        assert message is not None
        plan.messages[position] = None  # the case keeps only what is still to come
        seq += 1
        message.seq = seq
        yield Emitted(seq, message)
        if position + 1 < len(plan.messages):
            nxt = plan.messages[position + 1]
            assert nxt is not None
            heapq.heappush(heap, (nxt.sent_at, index, position + 1, plan))
        else:
            yield Finished(case_truth(plan))
