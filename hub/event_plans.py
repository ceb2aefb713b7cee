"""Per-class plans for the hub's event dataclasses: their fields, defaults and nested parts,
worked out once, to turn an event into its Avro-shaped dict and back and to build events fast.

Field metadata names nested parts: `{"nested": cls}` for a field holding one record of `cls`
(or None), `{"items": cls}` for a tuple of them (an Avro array); `hub.events` sets it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, Final, TypeVar

from hub.errors import SerializationError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Plan:
    """How one event class (or nested part) becomes its Avro dict and back, worked out once.

    Encoding and decoding run per record on the ingest and projection hot paths; asking
    `dataclasses.fields` and testing every value's type each time cost more than the Avro
    encoding itself.
    """

    cls: type
    names: tuple[str, ...]
    get: Callable[[Any], tuple[Any, ...]]  # the field values, in field order
    nested: tuple[tuple[str, Plan], ...]  # fields holding one nested record (or None)
    items: tuple[tuple[str, Plan], ...]  # fields holding a tuple of records (an Avro array)
    # Per field: (slot setter, name, default or _REQUIRED, plan of a nested record or None,
    # plan of the items of a tuple or None), for building instances.
    setters: tuple[tuple[Callable[[Any, Any], None], str, Any, Plan | None, Plan | None], ...]
    post_init: Callable[[Any], None] | None

    def dump(self, obj: object) -> dict[str, Any]:
        data = dict(zip(self.names, self.get(obj), strict=True))
        for name, plan in self.nested:
            value = data[name]
            if value is not None:
                data[name] = plan.dump(value)
        for name, plan in self.items:
            data[name] = [plan.dump(value) for value in data[name]]
        return data

    def load(self, data: Mapping[str, Any]) -> Any:
        """An instance from `data` (nested parts as dicts); SerializationError if it cannot."""
        # Built through the slots' own descriptors, then __post_init__: what the dataclass's
        # __init__ does, at about half the cost of calling it with keywords.
        obj: Any = _new(self.cls)
        get = data.get
        try:
            for setter, name, default, nested, items in self.setters:
                value = get(name, default)
                if value is _REQUIRED:
                    raise SerializationError(
                        f"{self.cls.__name__}: field {name!r} missing from payload"
                    )
                if nested is not None and value is not None:
                    value = nested.load(value)
                elif items is not None:
                    value = tuple([items.load(v) for v in value])
                setter(obj, value)
            if self.post_init is not None:
                self.post_init(obj)
        except SerializationError:
            raise
        except (TypeError, ValueError, AttributeError, KeyError) as e:
            raise SerializationError(
                f"{self.cls.__name__}: payload does not make a valid event: {e}"
            ) from e
        return obj


_REQUIRED: Final = object()
_new = object.__new__
_PLANS: dict[type, Plan] = {}


def plan_of(cls: type) -> Plan:
    """The (cached) plan of a dataclass; nested parts are named by field metadata."""
    found = _PLANS.get(cls)
    if found is not None:
        return found
    own = fields(cls)
    names = tuple(f.name for f in own)
    setters = []
    for f in own:
        if f.default is not MISSING:
            default: Any = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
        else:
            default = _REQUIRED
        nested = plan_of(f.metadata["nested"]) if "nested" in f.metadata else None
        items = plan_of(f.metadata["items"]) if "items" in f.metadata else None
        # The slot's own descriptor: sets the field without the frozen __setattr__.
        setters.append((getattr(cls, f.name).__set__, f.name, default, nested, items))
    getter = operator.attrgetter(*names)
    post_init = getattr(cls, "__post_init__", None)
    plan = Plan(
        cls=cls,
        names=names,
        get=getter if len(names) > 1 else lambda obj: (getter(obj),),
        nested=tuple((s[1], s[3]) for s in setters if s[3] is not None),
        items=tuple((s[1], s[4]) for s in setters if s[4] is not None),
        setters=tuple(setters),
        post_init=post_init,
    )
    _PLANS[cls] = plan
    return plan


def to_avro(record: object) -> dict[str, Any]:
    """An event (or nested part) as the dict its Avro schema describes."""
    return plan_of(type(record)).dump(record)


def from_avro(cls: type[Any], data: Mapping[str, Any]) -> Any:
    """An instance of `cls` from a dict shaped by its Avro schema; unknown keys are ignored."""
    return plan_of(cls).load(data)


def build_event(cls: type[T], values: Mapping[str, Any]) -> T:
    """An event of type `cls` from its field values by name, nested parts (`product`,
    `omvang`, `errors`) as dicts; unknown names are ignored, a missing required field or a
    value the event refuses is a SerializationError. The fast way to make many events."""
    event: T = plan_of(cls).load(values)
    return event
