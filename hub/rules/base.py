"""Intra-message rules (TR/CD/CS) as small objects with their rule ID, in one registry.

A rule sees an XSD-valid document through a `RuleContext` and yields `ValidationError`s.
Rules are registered with `@registry.rule(...)`; later issues add rules the same way.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from lxml import etree

from hub.errors import ValidationError
from hub.locate import element_path, line_of
from hub.messagetypes import BASIS_NS, MessageType

Check = Callable[["RuleContext"], Iterable[ValidationError]]
T = TypeVar("T")


@dataclass(frozen=True)
class Rule:
    """One iWmo rule: its ID as the standard names it, the retour code it yields, and its check."""

    id: str
    message_types: frozenset[MessageType]
    description: str
    check: Check
    retour_code: str = "0001"

    def run(self, ctx: RuleContext) -> Iterator[ValidationError]:
        yield from self.check(ctx)


class RuleContext:
    """What a rule may look at: the parsed document, its type and the reference date.

    A plain slotted class rather than a dataclass: one is made per validated message, on the
    hot path, and rules read its attributes many times.
    """

    __slots__ = ("_index", "_memo", "clean", "message_type", "retour_code", "root", "rule_id",
                 "today", "view")  # fmt: skip

    def __init__(
        self,
        root: etree._Element,
        message_type: MessageType,
        today: dt.date | None = None,
        *,
        clean: bool = False,
    ) -> None:
        self.root = root
        self.message_type = message_type
        self.today = dt.date.today() if today is None else today
        #: True when the document was parsed by hub.xmlsafe.parse_bytes, which drops comments
        #: and processing instructions, so rules need not look for them.
        self.clean = clean
        self.rule_id = ""
        self.retour_code = "0001"
        self._index: dict[str, list[etree._Element]] | None = None
        self._memo: dict[str, Any] = {}
        #: The rules' view of the message (hub.rules.view.Bericht), built on first use.
        self.view: Any = None

    def __repr__(self) -> str:
        return f"RuleContext({self.message_type.name}, rule_id={self.rule_id!r})"

    def elements(self, local_name: str) -> list[etree._Element]:
        """Every element with this local name, in document order (indexed once per message)."""
        if self._index is None:
            index: dict[str, list[etree._Element]] = defaultdict(list)
            for el in self.root.iter():
                tag = el.tag
                if isinstance(tag, str):
                    index[tag[tag.rfind("}") + 1 :]].append(el)
            self._index = index
        return self._index.get(local_name, [])

    def memo(self, key: str, build: Callable[[RuleContext], T]) -> T:
        """A value derived from the document once per message and shared by every rule."""
        try:
            value: T = self._memo[key]
        except KeyError:
            value = self._memo[key] = build(self)
        return value

    def m(self, local: str) -> str:
        """Clark name in the message's own namespace."""
        return self.message_type.tag(local)

    @staticmethod
    def b(local: str) -> str:
        """Clark name in the basisschema namespace."""
        return f"{{{BASIS_NS}}}{local}"

    def child(self, parent: etree._Element, local: str) -> etree._Element | None:
        """A direct child by local name, in either the message or the basisschema namespace."""
        found = parent.find(self.m(local))
        if found is None:
            found = parent.find(self.b(local))
        return found

    def text(self, parent: etree._Element, local: str) -> str | None:
        el = self.child(parent, local)
        return None if el is None or el.text is None else el.text.strip()

    @property
    def dagtekening(self) -> dt.date | None:
        for el in self.elements("Dagtekening"):
            return parse_date(el.text)
        return None

    def error(self, element: etree._Element, message: str) -> ValidationError:
        """Build a located error for the rule that is running."""
        return ValidationError(
            self.rule_id,
            message,
            path=element_path(element),
            line=line_of(element),
            retour_code=self.retour_code,
        )


class RuleRegistry:
    """All known rules, looked up by message type."""

    def __init__(self) -> None:
        self._rules: dict[str, Rule] = {}
        self._by_type: dict[MessageType, list[Rule]] = defaultdict(list)
        # Per message type: (check, id, retour code) of each rule, in registration order.
        self._plans: dict[MessageType, tuple[tuple[Check, str, str], ...]] = {}

    def rule(
        self,
        rule_id: str,
        *message_types: MessageType,
        description: str,
        retour_code: str = "0001",
    ) -> Callable[[Check], Check]:
        def register(check: Check) -> Check:
            self.add(Rule(rule_id, frozenset(message_types), description, check, retour_code))
            return check

        return register

    def add(self, rule: Rule) -> None:
        if rule.id in self._rules:
            raise ValueError(f"rule {rule.id} is registered twice")
        self._rules[rule.id] = rule
        for mt in sorted(rule.message_types, key=lambda t: t.name):
            self._by_type[mt].append(rule)
            self._plans[mt] = tuple((r.check, r.id, r.retour_code) for r in self._by_type[mt])

    def for_type(self, message_type: MessageType) -> list[Rule]:
        return list(self._by_type.get(message_type, ()))

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules.values())

    def __getitem__(self, rule_id: str) -> Rule:
        return self._rules[rule_id]

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def __len__(self) -> int:
        return len(self._rules)

    def run(self, ctx: RuleContext) -> list[ValidationError]:
        """Every error of every rule for the context's message type, in registration order."""
        errors: list[ValidationError] = []
        for check, rule_id, retour_code in self._plans.get(ctx.message_type, ()):
            ctx.rule_id = rule_id
            ctx.retour_code = retour_code
            found = check(ctx)  # rules return lists; most are empty
            if found:
                errors.extend(found)
        return errors


def parse_date(text: str | None) -> dt.date | None:
    """An xs:date value (without time zone handling beyond stripping it), or None."""
    if not text:
        return None
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1]
    elif len(value) > 10 and value[10] in "+-":
        value = value[:10]
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


#: The registry the validator uses; rule modules register into it on import.
registry = RuleRegistry()
