"""The project's iWmo 3.2 XSDs against the official ones: same facts, same verdict everywhere.

The differential test validates each document of the mutation corpus (see corpus.py) with the
project's XSD and the official XSD, both compiled by lxml, and fails on any disagreement that is
not in `ALLOWED_DISAGREEMENTS` with the reason the official artefact is wrong there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from lxml import etree

from hub.errors import InvalidMessage
from hub.messagetypes import BASIS_NS, MessageType
from hub.validation import compiled_schema
from hub.xmlsafe import parse_bytes
from schemas import IWMO_32
from tests.conformance.corpus import HEEN_TYPES, CorpusDoc, build_corpus
from tests.conformance.facets import facets_of

pytestmark = pytest.mark.reference

#: corpus document name -> why the official XSD is wrong for it. Expected to stay empty.
ALLOWED_DISAGREEMENTS: dict[str, str] = {}

#: The iJw retour twin of each iWmo retour (same structure, other namespace and codes).
IJW_TWIN = {MessageType.WMO302: "JW302", MessageType.WMO306: "JW306", MessageType.WMO308: "JW308"}

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_XS = "http://www.w3.org/2001/XMLSchema"
_POSITION = re.compile(r"\[\d+\]")
_IDS = [mt.name for mt in HEEN_TYPES]


def _verdicts(
    docs: list[CorpusDoc], ours: etree.XMLSchema, official: etree.XMLSchema
) -> Iterator[tuple[CorpusDoc, bool, bool]]:
    """The official verdict on a plainly parsed tree; ours on the hub's own parse path."""
    for doc in docs:
        root = etree.fromstring(doc.data, _PARSER)
        try:
            hub_valid = bool(ours.validate(parse_bytes(doc.data)))
        except InvalidMessage:
            hub_valid = False
        yield doc, bool(official.validate(root)), hub_valid


@pytest.mark.parametrize("message_type", HEEN_TYPES, ids=_IDS)
def test_project_xsd_gives_the_official_verdict_on_every_corpus_document(
    message_type: MessageType,
    corpus_for: Callable[[MessageType], list[CorpusDoc]],
    official_xsd: Callable[[MessageType], etree.XMLSchema],
    corpus_stats: dict[str, tuple[int, int, int]],
    record_property: Callable[[str, object], None],
) -> None:
    docs = corpus_for(message_type)
    results = list(_verdicts(docs, compiled_schema(message_type), official_xsd(message_type)))
    valid = sum(official for _, official, _ in results)
    disagreements = {
        doc.name: (official, ours) for doc, official, ours in results if official != ours
    }
    agreed = len(docs) - len(disagreements)
    corpus_stats[message_type.name] = (len(docs), valid, agreed)
    record_property("corpus_size", len(docs))
    record_property("official_valid", valid)
    record_property("agreements", agreed)
    print(f"\n{message_type.name}: corpus {len(docs)}, official-valid {valid}, agree {agreed}")

    bases = [doc.name for doc, official, _ in results if doc.mutation == "base" and not official]
    assert not bases, f"base documents must be valid under the official XSD: {bases}"
    # A corpus that is (nearly) all valid or all invalid could not tell the schemas apart.
    assert len(docs) >= 500
    assert valid >= 50 and len(docs) - valid >= 300
    unexpected = {
        name: f"official={'valid' if o else 'invalid'}, project={'valid' if p else 'invalid'}"
        for name, (o, p) in disagreements.items()
        if name not in ALLOWED_DISAGREEMENTS
    }
    assert not unexpected, f"{len(unexpected)} verdicts differ: {sorted(unexpected.items())[:20]}"
    stale = set(ALLOWED_DISAGREEMENTS) - set(disagreements)
    assert not {n for n in stale if n.startswith(message_type.name)}, f"stale allow-list: {stale}"


# The differential test must be able to fail: a project schema that drifts from the standard
# in one small fact has to be caught by the corpus. Each case tampers with one fact.
DRIFTS = [
    (MessageType.WMO305, "basisschema.xsd", "//xs:simpleType[@name='LDT_Naam']//xs:maxLength",
     "value", "199"),
    (MessageType.WMO305, "basisschema.xsd",
     "//xs:simpleType[@name='LDT_StatusAanlevering']//xs:enumeration[last()]", None, None),
    (MessageType.WMO305, "WMO305.xsd", "//xs:element[@name='ToewijzingNummer']",
     "minOccurs", "1"),
    (MessageType.WMO307, "WMO307.xsd", "//xs:element[@name='StopProduct']", "maxOccurs", "10"),
    (MessageType.WMO307, "basisschema.xsd", "//xs:simpleType[@name='LDT_Datum']//xs:pattern",
     None, None),
    (MessageType.WMO307, "basisschema.xsd", "//xs:element[@name='DatumGebruik']", None, None),
    (MessageType.WMO301, "basisschema.xsd", "//xs:simpleType[@name='LDT_Huisnummer']"
     "//xs:maxInclusive", "value", "999999"),
    (MessageType.WMO301, "WMO301.xsd", "//xs:element[@name='Budget']", None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("message_type", "xsd", "xpath", "attribute", "value"),
    DRIFTS,
    ids=[f"{d[0].name}-{d[1]}-{d[2].split('@name=')[-1][:30]}" for d in DRIFTS],
)
def test_corpus_catches_a_project_schema_that_drifts_in_one_fact(
    message_type: MessageType,
    xsd: str,
    xpath: str,
    attribute: str | None,
    value: str | None,
    tmp_path: Path,
    corpus_for: Callable[[MessageType], list[CorpusDoc]],
    official_xsd: Callable[[MessageType], etree.XMLSchema],
) -> None:
    for source in IWMO_32.glob("*.xsd"):
        (tmp_path / source.name).write_bytes(source.read_bytes())
    tree = etree.parse(str(tmp_path / xsd), _PARSER)
    found = tree.xpath(xpath, namespaces={"xs": _XS})
    assert isinstance(found, list) and len(found) == 1, xpath
    target = found[0]
    assert isinstance(target, etree._Element)
    if value is None:
        parent = target.getparent()
        assert parent is not None
        parent.remove(target)
    else:
        target.set(attribute or "value", value)
    tree.write(str(tmp_path / xsd))
    drifted = compiled_schema.__wrapped__(message_type, tmp_path)

    results = _verdicts(corpus_for(message_type), drifted, official_xsd(message_type))
    assert any(official != ours for _, official, ours in results)


def test_corpus_is_deterministic(reference_dir: Path) -> None:
    first = build_corpus(MessageType.WMO305, reference_dir)
    second = build_corpus(MessageType.WMO305, reference_dir)
    assert [(d.name, d.data) for d in first] == [(d.name, d.data) for d in second]


@pytest.mark.parametrize("message_type", HEEN_TYPES, ids=_IDS)
def test_corpus_mutates_every_element_the_official_schema_declares(
    message_type: MessageType,
    corpus_for: Callable[[MessageType], list[CorpusDoc]],
    reference_dir: Path,
) -> None:
    schema = xmlschema.XMLSchema10(str(reference_dir / "xsd" / f"{message_type.name}.xsd"))
    declared = set(_element_paths(schema.elements["Bericht"], "/Bericht"))
    removed = {
        _POSITION.sub("", doc.name.split("@", 1)[1]) for doc in corpus_for(message_type)
        if doc.mutation == "remove"
    }  # fmt: skip
    assert declared - {"/Bericht"} <= removed


# --- facts: the project's schemas state what the standard states ----------------------------


def _element_paths(decl: Any, path: str) -> Iterator[str]:
    yield path
    if decl.type.is_complex() and not decl.type.has_simple_content():
        for child in decl.type.content.iter_elements():
            yield from _element_paths(child, f"{path}/{child.local_name}")


def _shape(decl: Any, path: str = "/Bericht") -> Iterator[tuple[str, int, int | None, object]]:
    """(path, minOccurs, maxOccurs, type) for every element below `decl`.

    The type is its LDT_/CDT_ name, or for an anonymous simple type (the fixed header codes)
    its patterns; message-local complex types are compared through their content instead.
    """
    name = decl.type.local_name or ""
    kind: object = name if name[:4] in {"LDT_", "CDT_"} else ""
    if decl.type.is_simple() and not name:
        kind = tuple(tuple(level.regexps) for level in facets_of(decl.type).patterns)
    yield path, decl.min_occurs, decl.max_occurs, kind
    if decl.type.is_complex() and not decl.type.has_simple_content():
        for child in decl.type.content.iter_elements():
            yield from _shape(child, f"{path}/{child.local_name}")


def _type_facts(simple_or_complex: Any) -> object:
    if simple_or_complex.is_complex():
        return [
            (c.local_name, c.type.local_name, c.min_occurs, c.max_occurs)
            for c in simple_or_complex.content.iter_elements()
        ]
    f = facets_of(simple_or_complex)
    patterns = [tuple(level.regexps) for level in f.patterns]
    return (
        f.builtin,
        f.enumeration,
        patterns,
        f.min_length,
        f.max_length,
        f.min_value,
        f.max_value,
    )


def _project(message_type: MessageType) -> Any:
    return xmlschema.XMLSchema10(str(IWMO_32 / f"{message_type.name}.xsd"), allow="sandbox")


def test_basisschema_types_state_the_official_facets(reference_dir: Path) -> None:
    ours = xmlschema.XMLSchema10(str(IWMO_32 / "basisschema.xsd"), allow="sandbox")
    official = xmlschema.XMLSchema10(str(reference_dir / "xsd" / "basisschema.xsd"))
    assert ours.types, "the project's basisschema declares no types"
    for name, xsd_type in ours.types.items():
        assert name in official.types, f"{name} is not an iWmo 3.2 basisschema type"
        assert _type_facts(xsd_type) == _type_facts(official.types[name]), name


@pytest.mark.parametrize("message_type", HEEN_TYPES, ids=_IDS)
def test_message_structure_is_the_official_one(
    message_type: MessageType, reference_dir: Path
) -> None:
    official = xmlschema.XMLSchema10(str(reference_dir / "xsd" / f"{message_type.name}.xsd"))
    ours = _project(message_type)
    assert list(_shape(ours.elements["Bericht"])) == list(_shape(official.elements["Bericht"]))


@pytest.mark.parametrize("message_type", list(IJW_TWIN), ids=[mt.name for mt in IJW_TWIN])
def test_retour_structure_is_that_of_its_ijw_twin(
    message_type: MessageType, reference_dir: Path
) -> None:
    jw_xsd = reference_dir.parents[1] / "jw" / "bronnen" / "xsd" / f"{IJW_TWIN[message_type]}.xsd"
    twin = list(_shape(xmlschema.XMLSchema10(str(jw_xsd)).elements["Bericht"]))
    ours = list(_shape(_project(message_type).elements["Bericht"]))
    code_path = "/Bericht/Header/BerichtCode"
    # Only the BerichtCode may differ from the iJw twin: 415/419/421 instead of 437/439/441.
    assert [row for row in ours if row[0] != code_path] == [r for r in twin if r[0] != code_path]
    ((_, _, _, code),) = [row for row in ours if row[0] == code_path]
    assert code == ((message_type.bericht_code,),)


def test_retour_codes_are_the_iwmo_list(reference_dir: Path) -> None:
    official = xmlschema.XMLSchema10(str(reference_dir / "xsd" / "basisschema.xsd"))
    expected = facets_of(official.types["LDT_RetourCode"]).enumeration
    for message_type in IJW_TWIN:
        retour_code = _project(message_type).maps.types[f"{{{BASIS_NS}}}LDT_RetourCode"]
        assert facets_of(retour_code).enumeration == expected
