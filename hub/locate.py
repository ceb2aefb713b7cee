"""Locate an element for people: a local-name XPath with positions, and its line."""

from __future__ import annotations

from lxml import etree


def element_path(element: etree._Element) -> str:
    """'/Bericht/Client/ToegewezenProducten/ToegewezenProduct[2]/Einddatum'.

    Positions are written only where siblings share the name, as the official rule XSLT does.
    """
    parts: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        name = etree.QName(node).localname
        parent = node.getparent()
        if parent is not None:
            same = [c for c in parent if isinstance(c.tag, str) and c.tag == node.tag]
            if len(same) > 1:
                name = f"{name}[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))


def line_of(element: etree._Element) -> int | None:
    """The element's source line (lxml-stubs type `sourceline` loosely)."""
    line = element.sourceline
    return line if isinstance(line, int) else None
