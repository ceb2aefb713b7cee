"""The pure fold: events in, view changes out, no I/O.

A `GroupState` holds one group's set of facts and what follows from it (arrangement,
mismatches). Adding a fact re-derives the group and reports which mismatches opened, changed
or were resolved, stamped with the receipt time of the event that caused it. `Changes`
collapses a run of such reports into what a store must write, so a store that saves every
N events ends in the same state as one that saves after each event. `Fold` keeps every group
in memory: the reference the projection store is tested against, and the subject of the
order-independence property test.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.events import AnyEvent
from projections.derive import Arrangement, GroupIndex, arrangement, index
from projections.facts import Care, Fact, GroupKey, fact_of, fact_row
from projections.rules import Mismatch, mismatches
from projections.timed import OPEN, RESOLVED

#: (opened, changed, resolved) mismatches of one judgement.
Diff = tuple[Sequence[Mismatch], Sequence[Mismatch], Sequence[Mismatch]]
_NO_CHANGE: Diff = ((), (), ())


@dataclass(frozen=True, slots=True)
class Tracked:
    """A mismatch with its lifecycle; `opened_ms` None means 'as already stored'."""

    mismatch: Mismatch
    status: str
    opened_ms: int | None
    resolved_ms: int | None


class GroupState:
    """One group's facts and what they imply; mutable, but derived state is a pure function."""

    __slots__ = ("_index", "facts", "key", "mismatches", "new_rows", "rewrite")

    def __init__(
        self, key: GroupKey, facts: Iterable[tuple[Fact, int]] = (), *, judged: bool = False
    ) -> None:
        """`judged`: the caller knows these facts raise no mismatch (saves deriving it)."""
        self.key = key
        #: Every fact with the (earliest) time the hub received it.
        self.facts: dict[Fact, int] = {}
        #: The `facts` table rows of the facts added since the store last saved this group
        #: (the store inserts them).
        self.new_rows: list[tuple[Any, ...]] = []
        #: A stored fact's receipt time moved earlier: the store rewrites the group's facts.
        self.rewrite = False
        self._index: GroupIndex | None = None
        for fact, received_ms in facts:
            self._put(fact, received_ms)
        self.mismatches: dict[str, Mismatch] = {} if judged else self._judged()

    def _put(self, fact: Fact, received_ms: int) -> bool:
        """Add a fact; False if an equal fact was there (kept with the earlier receipt time)."""
        known = self.facts.get(fact)
        if known is None:
            self.facts[fact] = received_ms
            return True
        if received_ms < known:
            self.facts[fact] = received_ms
            self.rewrite = True
            self._index = None
        return False

    def add(self, fact: Fact, received_ms: int, row: tuple[Any, ...] | None = None) -> bool:
        """Add a fact without judging yet; False if it was already there (then its mismatches
        cannot have changed: they depend on the set of facts, not on receipt times). `row`:
        the fact's `fact_row`, when the caller has it already."""
        if self._put(fact, received_ms):
            self.new_rows.append(fact_row(fact, received_ms) if row is None else row)
            self._index = None
            return True
        return False

    @property
    def index(self) -> GroupIndex:
        if self._index is None:
            self._index = index(self.key, self.facts)
        return self._index

    @property
    def arrangement(self) -> Arrangement | None:
        return arrangement(self.index)

    def judge(self) -> Diff:
        """Re-derive the mismatches: (opened, changed, resolved) since the last judgement."""
        before = self.mismatches
        after = self.mismatches = self._judged()
        if not before and not after:
            return _NO_CHANGE  # the usual case, once per event: no lists to build
        opened = [m for i, m in after.items() if i not in before]
        changed = [m for i, m in after.items() if i in before and before[i] != m]
        resolved = [m for i, m in before.items() if i not in after]
        return opened, changed, resolved

    def _judged(self) -> dict[str, Mismatch]:
        # Every check is about a start or stop: a group of versions alone has nothing to judge.
        if not any(isinstance(fact, Care) for fact in self.facts):
            return {}
        return {m.id: m for m in mismatches(self.index)}

    def rows(self) -> list[tuple[Any, ...]]:
        """The `facts` table rows to write: the new facts' rows, or with `rewrite` every fact's."""
        if self.rewrite:
            return [fact_row(fact, ms) for fact, ms in self.facts.items()]
        return self.new_rows

    def saved(self) -> None:
        """The store has written this group's new facts."""
        self.new_rows = []
        self.rewrite = False


@dataclass
class Changes:
    """What a run of events changed, collapsed per group and per mismatch id."""

    groups: dict[GroupKey, GroupState] = field(default_factory=dict)
    mismatches: dict[str, Tracked] = field(default_factory=dict)

    def record(
        self,
        state: GroupState,
        diff: Diff,
        at_ms: int,
    ) -> None:
        self.groups[state.key] = state
        opened, changed, resolved = diff
        if not (opened or changed or resolved):
            return
        for m in opened:
            self.mismatches[m.id] = Tracked(m, OPEN, at_ms, None)
        for m in changed:
            prior = self.mismatches.get(m.id)
            self.mismatches[m.id] = Tracked(m, OPEN, prior.opened_ms if prior else None, None)
        for m in resolved:
            prior = self.mismatches.get(m.id)
            opened_ms = prior.opened_ms if prior else None
            self.mismatches[m.id] = Tracked(m, RESOLVED, opened_ms, at_ms)

    def __bool__(self) -> bool:
        return bool(self.groups or self.mismatches)


class Fold:
    """Every group in memory; `apply` folds one event (pure: no clock, no I/O)."""

    def __init__(self) -> None:
        self.groups: dict[GroupKey, GroupState] = {}
        #: Every mismatch ever raised, with its current lifecycle state.
        self.tracked: dict[str, Tracked] = {}

    def apply(self, event: AnyEvent, received_ms: int) -> None:
        found = fact_of(event)
        if found is None:
            return
        key, fact = found
        state = self.groups.get(key)
        if state is None:
            state = self.groups[key] = GroupState(key)
        changes = Changes()
        state.add(fact, received_ms)
        changes.record(state, state.judge(), received_ms)
        for mid, tracked in changes.mismatches.items():
            prior = self.tracked.get(mid)
            opened = tracked.opened_ms
            if opened is None and prior is not None:
                opened = prior.opened_ms
            self.tracked[mid] = Tracked(
                tracked.mismatch, tracked.status, opened, tracked.resolved_ms
            )

    def arrangements(self) -> Iterator[Arrangement]:
        for key in sorted(self.groups, key=GroupKey.sort_key):
            found = self.groups[key].arrangement
            if found is not None:
                yield found

    def open_mismatches(self) -> list[Mismatch]:
        return sorted(
            (t.mismatch for t in self.tracked.values() if t.status == OPEN), key=lambda m: m.id
        )
