"""A deterministic corpus of iWmo documents for differential XSD testing: bases plus mutations.

The mutations are driven by the official XSD as xmlschema reads it, not by hand-written lists:
every element of a base document is removed, duplicated, repeated, moved, re-namespaced and given
foreign content, and every simple value is replaced by values made from the facets of its type
(length, pattern, enumeration, range, lexical space of the builtin), some breaking a facet, some
meeting it exactly. Bases: the official example; the example "enriched" with every optional
element it lacks (so each declaration is exercised); `hub.factory.sample_documents` when present.
The rule mutations of `tests.conformance.rule_mutations` (XSD-valid documents that break TR/CS
rules) are added when that module exists.
"""

from __future__ import annotations

import copy
import functools
import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xmlschema
from lxml import etree

from hub.locate import element_path
from hub.messagetypes import BASIS_NS, MessageType
from tests.conformance.facets import facets_of, sample_value, value_variants

#: Factory documents per message type; each one multiplies the corpus, so keep it small.
FACTORY_COUNT = 3
FACTORY_SEED = 20250302

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_FOREIGN_NS = "urn:iwmo-hub:test:onbekend"
_MANY = 25
_POSITION = re.compile(r"\[\d+\]")

#: The message types with an official XSD and example, so with a corpus.
HEEN_TYPES = (MessageType.WMO301, MessageType.WMO305, MessageType.WMO307)

Edit = Callable[[etree._Element], bool]


@dataclass(frozen=True)
class CorpusDoc:
    """One corpus document: a unique name, its bytes and the mutation that made it."""

    name: str
    data: bytes
    mutation: str


# --- structural mutations ------------------------------------------------------------------


def _remove(el: etree._Element) -> bool:
    parent = el.getparent()
    if parent is None:
        return False
    parent.remove(el)
    return True


def _duplicate(el: etree._Element) -> bool:
    if el.getparent() is None:
        return False
    el.addnext(copy.deepcopy(el))
    return True


def _swap_next(el: etree._Element) -> bool:
    following = el.getnext()
    while following is not None and not isinstance(following.tag, str):
        following = following.getnext()
    if following is None or following.tag == el.tag:
        return False
    following.addnext(el)
    return True


def _move_first(el: etree._Element) -> bool:
    parent = el.getparent()
    if parent is None or parent.index(el) == 0:
        return False
    parent.insert(0, el)
    return True


def _move_last(el: etree._Element) -> bool:
    parent = el.getparent()
    if parent is None or parent[-1] is el:
        return False
    parent.append(el)
    return True


def _hoist(el: etree._Element) -> bool:
    """Move an element one level up, right after its parent."""
    parent = el.getparent()
    if parent is None or parent.getparent() is None:
        return False
    parent.addnext(el)
    return True


def _renamespace(message_ns: str) -> Edit:
    def edit(el: etree._Element) -> bool:
        qname = etree.QName(el)
        other = BASIS_NS if qname.namespace == message_ns else message_ns
        el.tag = f"{{{other}}}{qname.localname}"
        return True

    return edit


def _unqualify(el: etree._Element) -> bool:
    el.tag = etree.QName(el).localname
    return True


def _rename(el: etree._Element) -> bool:
    qname = etree.QName(el)
    el.tag = f"{{{qname.namespace}}}{qname.localname}Extra"
    return True


def _add_attribute(el: etree._Element) -> bool:
    el.set("extra", "1")
    return True


def _foreign_attribute(el: etree._Element) -> bool:
    el.set(f"{{{_FOREIGN_NS}}}extra", "1")
    return True


def _extra_child(el: etree._Element) -> bool:
    etree.SubElement(el, f"{{{etree.QName(el).namespace}}}Onbekend").text = "1"
    return True


def _text_in_complex(el: etree._Element) -> bool:
    el.text = "tekst" + (el.text or "")
    return True


def _emptied(el: etree._Element) -> bool:
    for child in list(el):
        el.remove(child)
    el.text = None
    return True


def _set_text(value: str) -> Edit:
    def edit(el: etree._Element) -> bool:
        el.text = value
        return True

    return edit


def _repeated(total: int) -> Edit:
    """Repeat an element until it occurs `total` times in a row."""

    def edit(el: etree._Element) -> bool:
        if el.getparent() is None:
            return False
        for _ in range(total - 1):
            el.addnext(copy.deepcopy(el))
        return True

    return edit


def _structural_edits(message_ns: str, is_complex: bool, decl: Any) -> list[tuple[str, Edit]]:
    edits: list[tuple[str, Edit]] = [
        ("remove", _remove),
        ("duplicate", _duplicate),
        ("swap-next", _swap_next),
        ("move-first", _move_first),
        ("move-last", _move_last),
        ("hoist", _hoist),
        ("other-namespace", _renamespace(message_ns)),
        ("no-namespace", _unqualify),
        ("renamed", _rename),
        ("attribute", _add_attribute),
        ("foreign-attribute", _foreign_attribute),
    ]
    if is_complex:
        edits += [("extra-child", _extra_child), ("text-in-complex", _text_in_complex)]
        edits += [("emptied", _emptied)]
    else:
        edits += [("child-in-simple", _extra_child)]
    if decl is not None and decl.max_occurs != 1:
        # Past a bound it breaks; 'unbounded' must take many, not just the two of 'duplicate'.
        many = _MANY if decl.max_occurs is None else decl.max_occurs + 1
        edits += [("repeat-many", _repeated(many))]
    return edits


# --- document level --------------------------------------------------------------------------


def _declarations(root: etree._Element, schema: Any) -> list[Any]:
    """The XSD element declaration of every element of `root`, in document order (None if none)."""
    found: dict[etree._Element, Any] = {root: schema.maps.elements.get(root.tag)}
    for el in root.iter():
        decl = found.get(el)
        children: dict[str, Any] = {}
        if decl is not None and decl.type.is_complex() and not decl.type.has_simple_content():
            children = {c.name: c for c in decl.type.content.iter_elements()}
        for child in el.iterchildren(tag=etree.Element):
            found[child] = children.get(child.tag)
    return [found.get(el) for el in root.iter(tag=etree.Element)]


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _edited(base: bytes, index: int, edit: Edit) -> bytes | None:
    root = etree.fromstring(base, _PARSER)
    el = list(root.iter(tag=etree.Element))[index]
    return _serialize(root) if edit(el) else None


def mutations(
    base: bytes, schema: Any, message_ns: str, wanted: Callable[[str], bool] = lambda _: True
) -> Iterator[tuple[str, str, bytes]]:
    """(kind, name, document) for every element and value mutation of one base document.

    `wanted` sees a mutation's name with element positions left out and may skip it.
    """
    root = etree.fromstring(base, _PARSER)
    elements = list(root.iter(tag=etree.Element))
    for index, (el, decl) in enumerate(zip(elements, _declarations(root, schema), strict=True)):
        where = element_path(el)
        is_complex = len(el) > 0 or (decl is not None and decl.type.is_complex())
        edits = [
            (kind, kind, edit) for kind, edit in _structural_edits(message_ns, is_complex, decl)
        ]
        if decl is not None and decl.type.is_simple():
            for label, value in value_variants(facets_of(decl.type), el.text or ""):
                edits.append((f"value:{label}", f"value:{label}={value!r}", _set_text(value)))
        generic = _POSITION.sub("", where)
        for kind, name, edit in edits:
            if not wanted(f"{name.split('@')[0]}@{generic}"):
                continue
            data = _edited(base, index, edit)
            if data is not None:
                yield kind, f"{name}@{where}", data
    for kind, data in _document_variants(base, root):
        yield kind, kind, data


def _document_variants(base: bytes, root: etree._Element) -> Iterator[tuple[str, bytes]]:
    """Whole-document variants, mostly valid: other prefixes, no indentation, comments."""
    compact = copy.deepcopy(root)
    for el in compact.iter():
        el.tail = None
        if len(el):
            el.text = None
    yield "doc:compact", _serialize(compact)
    commented = copy.deepcopy(root)
    for el in list(commented.iter(tag=etree.Element))[1:]:
        el.addprevious(etree.Comment(" opmerking "))
    yield "doc:comments", _serialize(commented)
    located = copy.deepcopy(root)
    located.set(f"{{{_XSI}}}schemaLocation", f"{etree.QName(root).namespace} bericht.xsd")
    yield "doc:xsi-schemaLocation", _serialize(located)
    prefix = root.prefix
    if prefix:
        text = base.replace(f"<{prefix}:".encode(), b"<").replace(f"</{prefix}:".encode(), b"</")
        yield "doc:default-namespace", text.replace(f"xmlns:{prefix}=".encode(), b"xmlns=")
    foreign = copy.deepcopy(root)
    foreign.tag = f"{{{_FOREIGN_NS}}}{etree.QName(root).localname}"
    yield "doc:foreign-root-namespace", _serialize(foreign)


def _children(decl: Any) -> list[Any]:
    """The element declarations a complex declaration's content may hold, in order."""
    if decl is None or not decl.type.is_complex() or decl.type.has_simple_content():
        return []
    return list(decl.type.content.iter_elements())


def _instance(decl: Any) -> etree._Element | None:
    """A new element for a declaration, every optional descendant included once."""
    el = etree.Element(decl.name)
    if decl.type.is_simple():
        value = sample_value(facets_of(decl.type))
        if value is None:
            return None
        el.text = value
        return el
    for child in _children(decl):
        made = _instance(child)
        if made is None and child.min_occurs > 0:
            return None
        if made is not None:
            el.append(made)
    return el


def enriched(base: bytes, schema: Any) -> bytes | None:
    """The base with every absent optional element added once, so each element is exercised."""
    root = etree.fromstring(base, _PARSER)
    declarations = dict(zip(root.iter(tag=etree.Element), _declarations(root, schema), strict=True))
    added = False
    for el, decl in declarations.items():
        present = {child.tag for child in el}
        order = [child.name for child in _children(decl)]
        for position, child in enumerate(_children(decl)):
            if child.name in present or (made := _instance(child)) is None:
                continue
            later = [c for c in el if c.tag in order[position + 1 :]]
            if later:
                later[0].addprevious(made)
            else:
                el.append(made)
            added = True
    return _serialize(root) if added else None


# --- bases and the corpus --------------------------------------------------------------------


@functools.cache
def official_schemas(reference_dir: Path) -> Any:
    """The official WMO301, WMO305 and WMO307 XSDs read as one by xmlschema (local files only)."""
    paths: list[Any] = [str(reference_dir / "xsd" / f"{mt.name}.xsd") for mt in HEEN_TYPES]
    return xmlschema.XMLSchema10(paths, allow="sandbox", defuse="always")


def base_documents(message_type: MessageType, reference_dir: Path) -> list[tuple[str, bytes]]:
    """The official example, it enriched, then factory documents when `hub.factory` exists."""
    example = (reference_dir / "berichten" / f"{message_type.name}.xml").read_bytes()
    bases = [(f"{message_type.name}-example", example)]
    full = enriched(example, official_schemas(reference_dir))
    if full is not None:
        bases.append((f"{message_type.name}-example-enriched", full))
    try:
        factory = importlib.import_module("hub.factory")
    except ModuleNotFoundError as e:
        if e.name != "hub.factory":
            raise
        return bases
    sample_documents = getattr(factory, "sample_documents", None)
    if sample_documents is None:  # the factory is still being written
        return bases
    documents = sample_documents(message_type, FACTORY_COUNT, FACTORY_SEED)
    bases += [(f"{message_type.name}-factory{i}", doc) for i, doc in enumerate(documents)]
    return bases


def _rule_mutations() -> Callable[[bytes, MessageType], Any] | None:
    try:
        module = importlib.import_module("tests.conformance.rule_mutations")
    except ModuleNotFoundError as e:
        if e.name != "tests.conformance.rule_mutations":
            raise
        return None
    return module.rule_mutations  # type: ignore[no-any-return]


def build_corpus(message_type: MessageType, reference_dir: Path) -> list[CorpusDoc]:
    """Every base document, its mutations and its rule mutations, deduplicated by content.

    The official example gets every mutation; a factory document only those whose element
    (positions left out) and kind the bases before it did not already cover, to keep it fast.
    """
    schema = official_schemas(reference_dir)
    rules = _rule_mutations()
    corpus: dict[bytes, CorpusDoc] = {}
    covered: set[str] = set()

    def add(name: str, data: bytes, mutation: str) -> None:
        corpus.setdefault(data, CorpusDoc(name, data, mutation))

    for number, (base_name, base) in enumerate(base_documents(message_type, reference_dir)):
        add(base_name, base, "base")

        def wanted(key: str, first: bool = number == 0) -> bool:
            new = key not in covered
            covered.add(key)
            return first or new

        for kind, name, data in mutations(base, schema, message_type.namespace, wanted):
            add(f"{base_name}:{name}", data, kind)
        if rules is not None:
            for label, data in rules(base, message_type):
                add(f"{base_name}:rule:{label}", data, f"rule:{label}")
    return list(corpus.values())
