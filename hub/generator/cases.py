"""Planning one client-aanbieder case: its toewijzingen, their lives and any anomaly."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from hub.generator.anomalies import RULE_SCRIPTS, Script
from hub.generator.arrival import ARRIVAL_SCRIPTS
from hub.generator.assignment import ASSIGNMENT_SCRIPTS
from hub.generator.lifecycle import Planner, days
from hub.generator.plan import CaseBuilder, CasePlan
from hub.generator.truth import settle
from hub.generator.world import Identity, World

#: Every anomaly kind, in the order a run cycles through them.
_SCRIPTS: dict[str, Script] = {**RULE_SCRIPTS, **ASSIGNMENT_SCRIPTS, **ARRIVAL_SCRIPTS}
ANOMALY_KINDS: tuple[str, ...] = tuple(_SCRIPTS)


@dataclass(frozen=True, slots=True)
class Intake:
    """A case about to start: a client comes to an aanbieder on `day`."""

    day: dt.date
    client: int
    gemeente: str
    aanbieder: str
    identity: Identity


class AnomalyCycle:
    """Hands out anomaly kinds in a fixed rotation, so that every kind occurs even in a
    small run; a kind whose dates do not fit a case is passed over for that case."""

    def __init__(self, offset: int) -> None:
        self.position = offset % len(ANOMALY_KINDS)

    def inject(self, planner: Planner, day: dt.date, taken: set[str], *, alone: bool) -> str | None:
        for attempt in range(len(ANOMALY_KINDS)):
            kind = ANOMALY_KINDS[(self.position + attempt) % len(ANOMALY_KINDS)]
            if alone != (kind in ARRIVAL_SCRIPTS):
                continue
            if _SCRIPTS[kind](planner, day, taken):
                self.position = (self.position + attempt + 1) % len(ANOMALY_KINDS)
                return kind
        return None

    def next_is_arrival(self) -> bool:
        return ANOMALY_KINDS[self.position] in ARRIVAL_SCRIPTS


def plan_case(
    index: int, intake: Intake, world: World, cycle: AnomalyCycle, anomalous: bool
) -> CasePlan:
    """Decide a case's toewijzingen and plan every message it sends during the run."""
    config = world.config
    rng = random.Random(f"{config.seed}/case/{index}")
    plan = CasePlan(index, intake.gemeente, intake.aanbieder, intake.identity)
    builder = CaseBuilder(plan, config.as_of, rng)
    planner = Planner(builder, world, rng)
    day = intake.day
    taken: set[str] = set()
    companions = rng.choices((1, 2, 3), (50, 35, 15))[0]
    if anomalous:
        alone = cycle.next_is_arrival()
        kind = cycle.inject(planner, day, taken, alone=alone)
        if kind is not None:
            plan.anomalies.append(kind)
            companions = 0 if alone else rng.choice((0, 0, 1, 2))
    lines = [planner.draw_line(day, taken) for _ in range(companions)]
    if lines:
        builder.decide(day, lines)
        for line in lines:
            planner.normal(line.toewijzing_nummer, day)
    if lines and rng.random() < 0.1:
        # Later on the client needs another product from the same aanbieder.
        later = day + planner.lag(20, 150)
        extra = planner.draw_line(later, taken)
        if builder.decide(later, [extra]) is not None:
            planner.normal(extra.toewijzing_nummer, later)
    builder.assemble(world)
    settle(plan)
    return plan


def intake_day(config_first: dt.date, total_days: int, client: int, clients: int) -> dt.date:
    """Clients come in evenly over the run, in the order of their number."""
    return config_first + days(client * total_days // clients)
