"""The project's iWmo 3.2 XSDs compile offline, state the fixed facts and validate the messages."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from lxml import etree

from hub.messagetypes import BASIS_NS, MessageType
from hub.validation import compiled_schema
from schemas import IWMO_32

XS = "http://www.w3.org/2001/XMLSchema"
ALL_TYPES = list(MessageType)
RETOURS = [mt for mt in MessageType if mt.is_retour]
_IDS = [mt.name for mt in ALL_TYPES]
_PARSER = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)


def _bericht(message_type: MessageType, version: Any = xmlschema.XMLSchema10) -> Any:
    """xmlschema's declaration of a message's root element."""
    return _all_six(version).maps.elements[message_type.tag("Bericht")]


# --- hand-built documents --------------------------------------------------------------------

Node = tuple[str, "str | list[Node]"]


def _b(name: str, content: str | list[Node]) -> Node:
    """A child in the basisschema namespace (the contents of a CDT_ type)."""
    return (f"{{{BASIS_NS}}}{name}", content)


def _build(message_type: MessageType, nodes: list[Node]) -> etree._Element:
    root = etree.Element(message_type.tag("Bericht"), nsmap={"m": message_type.namespace})

    def add(parent: etree._Element, children: list[Node]) -> None:
        for name, content in children:
            tag = name if name.startswith("{") else message_type.tag(name)
            el = etree.SubElement(parent, tag)
            if isinstance(content, str):
                el.text = content
            else:
                add(el, content)

    add(root, nodes)
    return root


def _header(message_type: MessageType) -> list[Node]:
    gemeente, agb = ("Afzender", "Ontvanger")
    if message_type not in (MessageType.WMO301, MessageType.WMO302):
        gemeente, agb = agb, gemeente
    fields: list[Node] = [
        ("BerichtCode", message_type.bericht_code),
        ("BerichtVersie", "3"),
        ("BerichtSubversie", "2"),
    ]
    fields += sorted([(gemeente, "0363"), (agb, "12345678")])  # Afzender before Ontvanger
    fields.append(
        ("BerichtIdentificatie", [_b("Identificatie", "B-1"), _b("Dagtekening", "2025-01-06")])
    )
    fields.append(("XsdVersie", _versions()))
    if message_type.is_retour:
        fields += [("IdentificatieRetour", "R-1"), ("DagtekeningRetour", "2025-01-07")]
        fields += [("XsltVersie", "1.0.0"), ("XsdVersieRetour", _versions())]
    return fields


def _versions() -> list[Node]:
    return [_b("BasisschemaXsdVersie", "1.0.0"), _b("BerichtXsdVersie", "1.0.0")]


def _codes(*codes: str) -> Node:
    return ("RetourCodes", [("RetourCode", code) for code in codes])


def _client(message_type: MessageType) -> list[Node]:
    """A Client with one of everything a retour carries codes on."""
    retour = message_type.is_retour
    codes: list[Node] = [_codes("0200")] if retour else []
    name = [_b("Geslachtsnaam", [_b("Achternaam", "Jansen")])]
    person: list[Node] = [
        ("Bsn", "999900006"),
        ("Geboortedatum", [_b("Datum", "1980-05-17")]),
        ("Geslacht", "2"),
    ]
    if message_type in (MessageType.WMO301, MessageType.WMO302):
        full_name = [*name, _b("NaamGebruik", "1")]
        contact: Node = ("Contact", [("Soort", "01"), *codes])
        relatie: Node = (
            "Relatie",
            [("Nummer", "1"), ("Soort", "03"), ("Naam", full_name), contact, *codes],
        )
        product: Node = ("ToegewezenProduct", [
            ("ToewijzingNummer", "101"), ("Toewijzingsdatum", "2025-01-06"),
            ("Toewijzingstijd", "09:00:00"), ("Ingangsdatum", "2025-02-01"), *codes,
        ])  # fmt: skip
        lists: list[Node] = [("Relaties", [relatie]), ("Contactgegevens", [contact])]
        return [*person, ("Naam", full_name), *lists, ("ToegewezenProducten", [product]), *codes]
    kind = "Start" if message_type in (MessageType.WMO305, MessageType.WMO306) else "Stop"
    lines: list[Node] = [("ToewijzingNummer", "101"), ("Begindatum", "2025-02-01")]
    if kind == "Stop":
        lines += [("RedenBeeindiging", "02"), ("Einddatum", "2025-03-01")]
    lines += [("StatusAanlevering", "1"), *codes]
    return [*person, ("Naam", name), (f"{kind}Producten", [(f"{kind}Product", lines)]), *codes]


def document(message_type: MessageType) -> etree._Element:
    """A small, schema-valid document of any of the six types."""
    header = _header(message_type)
    if message_type.is_retour:
        header.append(_codes("0200"))
    return _build(message_type, [("Header", header), ("Client", _client(message_type))])


@functools.cache
def _all_six(version: Any) -> Any:
    """The six message XSDs read as one by xmlschema: compiled once, the root picks the message."""
    paths = [str(IWMO_32 / f"{mt.name}.xsd") for mt in ALL_TYPES]
    return version(paths, allow="local", defuse="always")


def _verdicts(message_type: MessageType, root: etree._Element) -> set[bool]:
    """lxml's verdict and xmlschema's (XSD 1.0 and 1.1) on the project's schema."""
    assert etree.QName(root).namespace == message_type.namespace
    verdicts = {bool(compiled_schema(message_type).validate(root))}
    for version in (xmlschema.XMLSchema10, xmlschema.XMLSchema11):
        verdicts.add(_all_six(version).is_valid(etree.tostring(root).decode()))
    return verdicts


# --- compiling and the fixed facts ---------------------------------------------------------


@pytest.mark.parametrize("message_type", ALL_TYPES, ids=_IDS)
def test_schema_compiles_offline_with_lxml_and_xmlschema(message_type: MessageType) -> None:
    etree.XMLSchema(etree.parse(str(IWMO_32 / f"{message_type.name}.xsd"), _PARSER))
    for version in (xmlschema.XMLSchema10, xmlschema.XMLSchema11):
        # 'sandbox': only files in the schema's own folder may be read, never the network.
        path = str(IWMO_32 / f"{message_type.name}.xsd")
        schema = version(path, allow="sandbox", defuse="always")
        assert schema.target_namespace == message_type.namespace
        assert list(schema.elements) == ["Bericht"]
        assert schema.element_form_default == "qualified"
        basis = schema.maps.namespaces[BASIS_NS][0]
        assert basis.element_form_default == "qualified"
        assert Path(basis.url or "").name == "basisschema.xsd"


@pytest.mark.parametrize("message_type", ALL_TYPES, ids=_IDS)
def test_header_codes_are_fixed(message_type: MessageType) -> None:
    header_type = _bericht(message_type).type.content[0].type
    header = {el.local_name: el.type for el in header_type.content}
    other_codes = [mt.bericht_code for mt in MessageType if mt is not message_type]
    wrong = {
        "BerichtCode": other_codes,
        "BerichtVersie": ["2", "03"],
        "BerichtSubversie": ["1", "02"],
    }
    expected = {
        "BerichtCode": message_type.bericht_code,
        "BerichtVersie": "3",
        "BerichtSubversie": "2",
    }
    root = document(message_type)
    assert _verdicts(message_type, root) == {True}
    for name, values in wrong.items():
        el = _at(message_type, root, "Header", name)
        for value in values:
            el.text = value
            assert _verdicts(message_type, root) == {False}, (name, value)
        el.text = expected[name]
        assert header[name].patterns.regexps == [expected[name]]


def test_basisschema_holds_only_the_types_the_six_messages_use() -> None:
    used: set[str] = set()
    for message_type in ALL_TYPES:
        used |= set(_used_types(_bericht(message_type)))
    basis = xmlschema.XMLSchema10(str(IWMO_32 / "basisschema.xsd"), allow="sandbox")
    declared = set(basis.types)
    assert all(name.startswith(("LDT_", "CDT_")) for name in declared)
    assert declared == {name for name in used if name.startswith(("LDT_", "CDT_"))}


def _used_types(decl: Any) -> Iterator[str]:
    xsd_type = decl.type
    while xsd_type is not None and getattr(xsd_type, "target_namespace", "") != XS:
        if xsd_type.local_name:
            yield xsd_type.local_name
        xsd_type = xsd_type.base_type if xsd_type.is_simple() else None
    if decl.type.is_complex() and not decl.type.has_simple_content():
        for child in decl.type.content.iter_elements():
            yield from _used_types(child)


# --- retours -------------------------------------------------------------------------------

Breakage = Callable[[MessageType, etree._Element], None]


def _at(message_type: MessageType, root: etree._Element, *path: str) -> etree._Element:
    """The element at a path of local names below the root (all in the message namespace)."""
    el = root.find("/".join(message_type.tag(step) for step in path))
    assert el is not None, path
    return el


def _product(message_type: MessageType) -> tuple[str, ...]:
    wrapper = {
        MessageType.WMO302: ("ToegewezenProducten", "ToegewezenProduct"),
        MessageType.WMO306: ("StartProducten", "StartProduct"),
        MessageType.WMO308: ("StopProducten", "StopProduct"),
    }
    return ("Client", *wrapper[message_type])


def _drop(*path: str) -> Breakage:
    def edit(message_type: MessageType, root: etree._Element) -> None:
        el = _at(message_type, root, *path)
        parent = el.getparent()
        assert parent is not None
        parent.remove(el)

    return edit


def _drop_product_codes(message_type: MessageType, root: etree._Element) -> None:
    _drop(*_product(message_type), "RetourCodes")(message_type, root)


def _set(value: str, *path: str) -> Breakage:
    def edit(message_type: MessageType, root: etree._Element) -> None:
        _at(message_type, root, *path).text = value

    return edit


def _empty_codes(message_type: MessageType, root: etree._Element) -> None:
    codes = _at(message_type, root, "Client", "RetourCodes")
    for code in list(codes):
        codes.remove(code)


def _codes_first(message_type: MessageType, root: etree._Element) -> None:
    _at(message_type, root, "Client").insert(0, _at(message_type, root, "Client", "RetourCodes"))


BROKEN_RETOURS: dict[str, Breakage] = {
    "client-without-retourcodes": _drop("Client", "RetourCodes"),
    "product-without-retourcodes": _drop_product_codes,
    "no-dagtekeningretour": _drop("Header", "DagtekeningRetour"),
    "no-xsdversieretour": _drop("Header", "XsdVersieRetour"),
    "retourcode-not-in-list": _set("9999", "Client", "RetourCodes", "RetourCode"),
    "retourcode-too-long": _set("02000", "Client", "RetourCodes", "RetourCode"),
    "empty-retourcodes": _empty_codes,
    "retourcodes-out-of-order": _codes_first,
    "xsltversie-not-semver": _set("1.0", "Header", "XsltVersie"),
    "identificatieretour-too-long": _set("R" * 13, "Header", "IdentificatieRetour"),
}


@pytest.mark.parametrize("message_type", RETOURS, ids=[mt.name for mt in RETOURS])
def test_hand_built_retour_is_valid(message_type: MessageType) -> None:
    assert _verdicts(message_type, document(message_type)) == {True}


@pytest.mark.parametrize("message_type", RETOURS, ids=[mt.name for mt in RETOURS])
def test_retour_may_answer_the_header_alone(message_type: MessageType) -> None:
    root = document(message_type)
    _drop("Client")(message_type, root)
    assert _verdicts(message_type, root) == {True}
    _drop("Header", "RetourCodes")(message_type, root)
    assert _verdicts(message_type, root) == {True}  # header RetourCodes are optional too


@pytest.mark.parametrize("breakage", sorted(BROKEN_RETOURS))
@pytest.mark.parametrize("message_type", RETOURS, ids=[mt.name for mt in RETOURS])
def test_broken_retour_is_invalid(message_type: MessageType, breakage: str) -> None:
    root = document(message_type)
    BROKEN_RETOURS[breakage](message_type, root)
    assert _verdicts(message_type, root) == {False}


# (message type, path, a code only iWmo has, the same field's code only iJw has)
IWMO_NOT_IJW = [
    (MessageType.WMO308, (*_product(MessageType.WMO308), "RedenBeeindiging"), "19", "32"),
    (
        MessageType.WMO307,
        ("Client", "StopProducten", "StopProduct", "RedenBeeindiging"),
        "23",
        "35",
    ),
]


@pytest.mark.parametrize(("message_type", "path", "iwmo", "ijw"), IWMO_NOT_IJW)
def test_code_lists_are_the_iwmo_ones(
    message_type: MessageType, path: tuple[str, ...], iwmo: str, ijw: str
) -> None:
    root = document(message_type)
    _set(iwmo, *path)(message_type, root)
    assert _verdicts(message_type, root) == {True}
    _set(ijw, *path)(message_type, root)
    assert _verdicts(message_type, root) == {False}


@pytest.mark.parametrize("message_type", RETOURS, ids=[mt.name for mt in RETOURS])
def test_retourcode_list_is_the_basisschema_one_not_the_digest(message_type: MessageType) -> None:
    # 9355 is in the iWmo 3.2 basisschema's LDT_RetourCode but missing from the WJ001 digest.
    root = document(message_type)
    _set("9355", "Client", "RetourCodes", "RetourCode")(message_type, root)
    assert _verdicts(message_type, root) == {True}


@pytest.mark.parametrize("message_type", RETOURS, ids=[mt.name for mt in RETOURS])
def test_heen_document_is_not_a_retour(message_type: MessageType) -> None:
    heen = next(mt for mt in MessageType if not mt.is_retour and mt.retour is message_type)
    assert not compiled_schema(message_type).validate(document(heen))


@pytest.mark.parametrize("message_type", [mt for mt in ALL_TYPES if not mt.is_retour])
def test_hand_built_heen_message_is_valid(message_type: MessageType) -> None:
    assert _verdicts(message_type, document(message_type)) == {True}


# --- the official examples -----------------------------------------------------------------


@pytest.mark.reference
@pytest.mark.parametrize(
    "message_type", [MessageType.WMO301, MessageType.WMO305, MessageType.WMO307]
)
def test_official_example_validates(message_type: MessageType, reference_dir: Path) -> None:
    example = etree.parse(str(reference_dir / "berichten" / f"{message_type.name}.xml"), _PARSER)
    schema = compiled_schema(message_type)
    assert schema.validate(example), schema.error_log
    assert _all_six(xmlschema.XMLSchema11).is_valid(example.getroot())
