"""Simple-type facets as xmlschema reads them, and the values made from them for mutation.

`facets_of` collects a type's facets over its whole restriction chain; `value_variants` turns
them into replacement values, each labelled with the facet it breaks or exactly meets;
`sample_value` finds one value that meets every facet (to add an absent optional element).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from xmlschema.validators import XsdAtomicBuiltin


@dataclass(frozen=True)
class Facets:
    """The facets of a simple type, collected over its whole restriction chain."""

    builtin: str
    enumeration: tuple[str, ...]
    patterns: tuple[Any, ...]  # one xmlschema XsdPatternFacets per restriction level
    min_length: int | None
    max_length: int | None
    min_value: int | None
    max_value: int | None
    lexical: Any  # the xmlschema builtin type, to test a value's lexical form

    def fits_length(self, value: str) -> bool:
        if self.min_length is not None and len(value) < self.min_length:
            return False
        return self.max_length is None or len(value) <= self.max_length

    def fits_patterns(self, value: str) -> bool:
        # Each level's patterns are OR-ed, levels are AND-ed (XSD 1.0 section 4.3.4).
        return all(any(p.match(value) for p in level.patterns) for level in self.patterns)

    def fits_enumeration(self, value: str) -> bool:
        return not self.enumeration or value in self.enumeration


def facets_of(simple_type: Any) -> Facets:
    """Walk a simple type up to its builtin, keeping the most derived value of each facet."""
    enumeration: tuple[str, ...] = ()
    patterns: list[Any] = []
    bounds: dict[str, int | None] = dict.fromkeys(
        ("min_length", "max_length", "min_value", "max_value")
    )
    current = simple_type
    while not isinstance(current, XsdAtomicBuiltin):
        if not enumeration and current.enumeration:
            enumeration = tuple(str(v) for v in current.enumeration)
        if current.patterns:
            patterns.append(current.patterns)
        for key in bounds:
            value = getattr(current, key, None)
            if bounds[key] is None and value is not None:
                bounds[key] = int(value)
        current = current.base_type
    return Facets(
        builtin=current.local_name or "",
        enumeration=enumeration,
        patterns=tuple(patterns),
        lexical=current,
        **bounds,
    )


def value_variants(facets: Facets, current: str) -> Iterator[tuple[str, str]]:
    """(label, value) replacements for a simple value, from the facets of its type."""
    seen = {current}  # a replacement equal to the value, or to an earlier one, tests nothing new
    for label, value in _all_variants(facets, current):
        if value not in seen:
            seen.add(value)
            yield label, value


def _all_variants(facets: Facets, current: str) -> Iterator[tuple[str, str]]:
    yield from _enumeration_variants(facets, current)
    yield from _length_variants(facets, current)
    yield from _pattern_variants(facets, current)
    if facets.builtin == "integer":
        yield from _integer_variants(facets)
    elif facets.builtin == "date":
        yield from _lexical_variants(facets, _DATES)
    elif facets.builtin == "time":
        yield from _lexical_variants(facets, _TIMES)


# Lexical edge cases of xs:date and xs:time: impossible days, missing zero padding, year 0,
# time zones and fractions (some are valid XSD but break the iWmo no-time-zone patterns).
_DATES: tuple[str, ...] = (
    "2023-02-29",
    "2024-02-29",
    "2023-13-01",
    "2023-8-1",
    "13-08-2023",
    "0000-01-01",
)
_DATES += ("2023-08-13T00:00:00", "+2023-01-01", "-0001-01-01", "12023-01-01")
_TIMES = ("24:00:00", "23:59:59.999", "12:60:00", "12:34", "1:02:03", "12:34:56.", "12:34:56,5")


def _enumeration_variants(facets: Facets, current: str) -> Iterator[tuple[str, str]]:
    if not facets.enumeration:
        return
    for value in (facets.enumeration[0], facets.enumeration[-1]):
        if value != current:
            yield "enum-member", value
    width = facets.max_length or len(facets.enumeration[0])
    outside = [
        c
        for c in ("0" * width, "9" * width, "Z" * width, "1", "X", current.lower())
        if c not in facets.enumeration and facets.fits_length(c)
    ]
    for value in outside[:2]:
        yield "not-in-enumeration", value
    yield "enum-padded", f" {facets.enumeration[0]}"


def _length_variants(facets: Facets, current: str) -> Iterator[tuple[str, str]]:
    if facets.max_length is not None:
        yield "too-long", _stretch(facets, current, facets.max_length + 1)
        if not facets.enumeration:
            yield "max-length", _stretch(facets, current, facets.max_length)
    if facets.min_length:
        yield "empty", ""
        if facets.min_length > 1:
            yield "too-short", _stretch(facets, current, facets.min_length - 1)


def _stretch(facets: Facets, current: str, length: int) -> str:
    """A value of exactly `length` characters that meets the patterns when one can be found."""
    seeds = [current or "a", "1", "a", "A", "X1"]
    candidates = [(seed * (length // len(seed) + 1))[:length] for seed in seeds]
    return next((c for c in candidates if facets.fits_patterns(c)), candidates[0])


def _pattern_variants(facets: Facets, current: str) -> Iterator[tuple[str, str]]:
    """Values that break only the pattern (length, enumeration and lexical form still fit)."""
    if not facets.patterns:
        return
    pool = [
        " ",
        "\t",
        # No XSD whitespace, so it meets '.*[^\s].*' and also LDT_Commentaar's '\S'; xmlschema
        # reads that '\S' as Python's (no Unicode spaces) and labels it broken, libxml2 does not.
        "\u00a0",
        current + "Z",
        current + "+01:00",
        current + "-05:00",
        " " + current,
        current + " ",
        "A" + current[1:],
        "1" + current[1:],
        "." + current[1:],
        current[:-1],
        current + "0",
        current + ".",
        "x",
        "1",
        "J.",
        "J K",
        "É",
        "01.0.0",
        "1.0",
        "1.0.0-rc",
    ]
    broken = kept = 0
    for value in dict.fromkeys(pool):
        if value == current or not value:
            continue
        if not (facets.fits_length(value) and facets.fits_enumeration(value)):
            continue
        if facets.builtin != "string" and not facets.lexical.is_valid(value):
            continue
        if not facets.fits_patterns(value) and broken < 3:
            broken += 1
            yield "pattern-broken", value
        elif facets.fits_patterns(value) and kept < 2:
            kept += 1
            yield "pattern-met", value


def _integer_variants(facets: Facets) -> Iterator[tuple[str, str]]:
    if facets.min_value is not None:
        yield "min-value", str(facets.min_value)
        yield "below-min", str(facets.min_value - 1)
    if facets.max_value is not None:
        yield "max-value", str(facets.max_value)
        yield "above-max", str(facets.max_value + 1)
    yield from (("not-integer", "1.5"), ("not-integer", "x1"), ("integer-form", "+1"))
    yield from (("integer-form", " 01 "), ("not-integer", "1 000"))


def _lexical_variants(facets: Facets, values: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    for value in values:
        yield ("lexical-ok" if facets.lexical.is_valid(value) else "lexical-broken"), value


def sample_value(facets: Facets) -> str | None:
    """One value that meets every facet, or None when the simple search finds none."""
    if facets.enumeration:
        return facets.enumeration[0]
    if facets.builtin == "integer":
        return str(facets.min_value if facets.min_value is not None else 1)
    if facets.builtin in _LEXICAL_SAMPLES:
        value = _LEXICAL_SAMPLES[facets.builtin]
        return value if facets.fits_patterns(value) else None
    longest = min(facets.max_length or 12, 12)
    for length in range(longest, (facets.min_length or 1) - 1, -1):
        for seed in ("1", "a", "A"):
            if facets.fits_patterns(seed * length):
                return seed * length
    return None


_LEXICAL_SAMPLES = {"date": "2024-02-29", "time": "08:30:00"}
