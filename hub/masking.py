"""Mask personal data (BSN) in anything meant for people or logs."""

from __future__ import annotations

import re

_NINE_DIGITS = re.compile(r"(?<!\d)\d{9}(?!\d)")


def mask_bsn(bsn: str) -> str:
    """Show only the last four digits: '*****1234'."""
    digits = bsn.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


# libxml2 quotes the offending value as "The value 'X'" or "Element 'E': 'X' is not ...".
_QUOTED_VALUE = re.compile(r"((?:[Vv]alue|': ) ?')([^']*)(')")


def mask_quoted(text: str) -> str:
    """Mask the quoted value in a schema error about a Bsn element, whatever its shape."""
    return _QUOTED_VALUE.sub(lambda m: m.group(1) + mask_bsn(m.group(2)) + m.group(3), text)


def mask_text(text: str) -> str:
    """Mask every stand-alone nine-digit number in free text (a possible BSN)."""
    return _NINE_DIGITS.sub(lambda m: mask_bsn(m.group(0)), text)
