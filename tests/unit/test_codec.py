"""XML <-> model: official examples read right, output is schema-valid, round trips are exact."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from hub.codec import (
    NotPlain,
    from_bytes,
    parse_message,
    parse_part,
    part_layout,
    part_reader,
    to_element,
    to_xml,
)
from hub.errors import InvalidMessage, UnknownMessageType
from hub.factory import MessageFactory, sample_documents
from hub.messagetypes import BASIS_NS, MessageType
from hub.model import (
    Omvang,
    Product,
    StartProduct,
    StopProduct,
    ToegewezenProduct,
    Wmo301,
    Wmo302,
    Wmo305,
    Wmo307,
)
from hub.xmlsafe import parse_bytes

HEEN = (MessageType.WMO301, MessageType.WMO305, MessageType.WMO307)
RETOUR = (MessageType.WMO302, MessageType.WMO306, MessageType.WMO308)


def official_schema(reference_dir: Path, message_type: MessageType) -> etree.XMLSchema:
    """The official XSD; for a retour, its iJw twin rewritten to iWmo names and BerichtCode.

    The iWmo retour XSDs are not public; the iJw ones have the same structure. The rewrite only
    swaps namespaces, prefixes and the BerichtCode pattern, and imports the iWmo basisschema.
    """
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    if not message_type.is_retour:
        path = reference_dir / "xsd" / f"{message_type.name}.xsd"
        return etree.XMLSchema(etree.parse(str(path), parser))
    number = message_type.name[3:]
    jw = f"jw{number}"
    twin = reference_dir.parent.parent / "jw" / "bronnen" / "xsd" / f"JW{number}.xsd"
    text = twin.read_text(encoding="utf-8")
    text = text.replace(
        "http://www.istandaarden.nl/ijw/3_2/", "http://www.istandaarden.nl/iwmo/3_2/"
    )
    text = text.replace(f"/{jw}/schema", f"/{message_type.short}/schema")
    text = re.sub(r"\bijw:", "iwmo:", text).replace("xmlns:ijw=", "xmlns:iwmo=")
    text = re.sub(rf"\b{jw}:", f"{message_type.short}:", text)
    text = text.replace(f"xmlns:{jw}=", f"xmlns:{message_type.short}=")
    text, found = re.subn(
        r'(name="BerichtCode">.*?<xs:pattern value=")\d+',
        rf"\g<1>{message_type.bericht_code}",
        text,
        count=1,
        flags=re.S,
    )
    assert found == 1
    basis = (reference_dir / "xsd" / "basisschema.xsd").as_uri()
    text = text.replace('schemaLocation="basisschema.xsd"', f'schemaLocation="{basis}"')
    return etree.XMLSchema(etree.fromstring(text.encode(), parser))


@pytest.fixture(scope="module")
def schemas(reference_dir: Path) -> dict[MessageType, etree.XMLSchema]:
    return {mt: official_schema(reference_dir, mt) for mt in MessageType}


def _example(reference_dir: Path, name: str) -> bytes:
    return (reference_dir / "berichten" / f"{name}.xml").read_bytes()


# --- the official examples ------------------------------------------------------------------


@pytest.mark.reference
def test_official_301_example_reads_to_its_values(reference_dir: Path) -> None:
    message = from_bytes(_example(reference_dir, "WMO301"))
    assert isinstance(message, Wmo301)
    header = message.header
    assert (header.bericht_code, header.bericht_versie, header.bericht_subversie) == ("414", 3, 2)
    assert (header.afzender, header.ontvanger) == ("0384", "42420001")
    assert header.bericht_identificatie.identificatie == "123456789012"
    assert header.bericht_identificatie.dagtekening == dt.date(2023, 8, 13)
    assert header.xsd_versie.bericht_xsd_versie == "1.0.0"
    client = message.client
    assert client.bsn == "999900006"
    assert client.geboortedatum.datum == dt.date(1967, 8, 13)
    assert client.geboortedatum.datum_gebruik is None
    assert client.naam.geslachtsnaam.achternaam == "Wit"
    assert client.naam.geslachtsnaam.voorvoegsel == "de"
    assert client.naam.partnernaam is not None and client.naam.partnernaam.achternaam == "Jansen"
    assert (client.naam.voornamen, client.naam.voorletters, client.naam.naam_gebruik) == (
        "Tim",
        "T",
        "4",
    )
    assert client.communicatie is not None and client.communicatie.taal == "Deens"
    assert (client.juridische_status, client.wettelijke_vertegenwoordiging) == ("02", "06")
    assert [r.nummer for r in client.relaties] == ["1", "2"]
    assert [r.volgorde for r in client.relaties] == [1, 2]
    mentor = client.relaties[1]
    assert mentor.naam.geslachtsnaam.achternaam == "Mentor"
    assert mentor.contact.telefoon is not None
    assert mentor.contact.telefoon.telefoon02 is not None
    assert mentor.contact.telefoon.telefoon02.telefoonnummer == "0401234567"
    (contact,) = client.contactgegevens
    assert contact.adres is not None and contact.adres.huis is not None
    assert contact.adres.huis.huisnummer == 100
    assert (contact.adres.postcode, contact.adres.land_code, contact.emailadres) == (
        "9999XX",
        "AD",
        "1@er.com",
    )
    (line,) = client.toegewezen_producten
    assert line.toewijzing_nummer == 101
    assert line.referentie_aanbieder == "42420002"
    assert line.product == Product(categorie="01", code="01A01")
    assert line.toewijzingsdatum == dt.date(2023, 8, 13)
    assert line.toewijzingstijd == dt.time(12, 34, 56)
    assert (line.ingangsdatum, line.einddatum) == (dt.date(2023, 1, 1), dt.date(2023, 12, 31))
    assert line.omvang == Omvang(volume=10, eenheid="01", frequentie="1")
    assert line.budget is None and line.reden_wijziging is None
    assert line.commentaar == "Toegewezen product 1 Commentaar "  # text kept as written


@pytest.mark.reference
def test_official_305_and_307_examples_read_to_their_values(reference_dir: Path) -> None:
    start = from_bytes(_example(reference_dir, "WMO305"))
    assert isinstance(start, Wmo305)
    assert (start.header.afzender, start.header.ontvanger) == ("65656055", "0363")
    assert start.client.naam.voornamen == "Tim"
    assert [
        (s.toewijzing_nummer, s.product, s.toewijzing_ingangsdatum, s.begindatum)
        for s in start.client.start_producten
    ] == [
        (300201, Product(categorie="01", code="01A11"), dt.date(2025, 4, 1), dt.date(2025, 4, 3)),
        (300202, Product(categorie="01", code="01A12"), dt.date(2025, 4, 1), dt.date(2025, 4, 4)),
    ]
    assert {s.status_aanlevering for s in start.client.start_producten} == {"1"}
    stop = from_bytes(_example(reference_dir, "WMO307"))
    assert isinstance(stop, Wmo307)
    assert stop.header.bericht_identificatie.dagtekening == dt.date(2025, 7, 21)
    assert stop.client.naam.voorletters == "PR"
    assert [
        (s.begindatum, s.reden_beeindiging, s.einddatum) for s in stop.client.stop_producten
    ] == [
        (dt.date(2025, 4, 3), "31", dt.date(2025, 7, 18)),
        (dt.date(2025, 4, 15), "31", dt.date(2025, 7, 18)),
    ]


@pytest.mark.reference
@pytest.mark.parametrize("name", ["WMO301", "WMO305", "WMO307"])
def test_official_examples_round_trip(
    reference_dir: Path, schemas: dict[MessageType, etree.XMLSchema], name: str
) -> None:
    message = from_bytes(_example(reference_dir, name))
    data = to_xml(message)
    assert from_bytes(data) == message
    schema = schemas[MessageType.from_name(name)]
    assert schema.validate(etree.fromstring(data)), str(schema.error_log)


# --- output shape -------------------------------------------------------------------------


@pytest.mark.reference
@pytest.mark.parametrize("message_type", list(MessageType), ids=lambda mt: mt.name)
def test_output_is_schema_valid_and_round_trips(
    schemas: dict[MessageType, etree.XMLSchema], message_type: MessageType
) -> None:
    for data in sample_documents(message_type, 25, seed=3):
        message = from_bytes(data)
        assert type(message).message_type is message_type
        again = to_xml(message)
        assert again == data  # the factory writes through to_xml: output is canonical
        assert from_bytes(again) == message
        schema = schemas[message_type]
        assert schema.validate(etree.fromstring(again)), str(schema.error_log)


@pytest.mark.parametrize("message_type", list(MessageType), ids=lambda mt: mt.name)
def test_output_validates_against_the_project_schemas(message_type: MessageType) -> None:
    from hub.validation import compiled_schema, schema_path

    if not schema_path(message_type).is_file():
        pytest.skip(f"project XSD {schema_path(message_type).name} not written yet")
    schema = compiled_schema(message_type)
    for data in sample_documents(message_type, 10, seed=4):
        assert schema.validate(etree.fromstring(data)), str(schema.error_log)


def test_output_has_declaration_prefixes_and_no_empty_optionals() -> None:
    message = MessageFactory(1).wmo301(producten=[{"einddatum": None, "commentaar": None}])
    data = to_xml(message)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<wmo301:Bericht ')
    root = etree.fromstring(data)
    assert root.nsmap == {"iwmo": BASIS_NS, "wmo301": MessageType.WMO301.namespace}
    assert root.prefix == "wmo301"
    assert etree.QName(root.find(".//{*}Dagtekening")).namespace == BASIS_NS
    line = root.find(".//{*}ToegewezenProduct")
    assert line is not None
    assert line.find("{*}Einddatum") is None and line.find("{*}Commentaar") is None
    assert line.find("{*}RetourCodes") is None
    assert "Bericht" in to_element(message).tag


def test_retour_codes_only_in_retours() -> None:
    factory = MessageFactory(2)
    toewijzing = factory.wmo301()
    client = toewijzing.client
    coded = dataclasses.replace(client, retour_codes=("0200",))
    with pytest.raises(ValueError, match="RetourCodes"):
        to_xml(dataclasses.replace(toewijzing, client=coded))
    retour = factory.wmo302(toewijzing, line_codes={0: ("0001",)})
    root = etree.fromstring(to_xml(retour))
    codes = root.findall(".//{*}ToegewezenProduct/{*}RetourCodes/{*}RetourCode")
    assert [c.text for c in codes] == ["0001"]
    assert isinstance(from_bytes(to_xml(retour)), Wmo302)


def test_wrong_class_in_a_message_is_refused() -> None:
    factory = MessageFactory(3)
    stop = factory.wmo307()
    with pytest.raises(TypeError, match="Client"):
        to_xml(Wmo301(header=factory.wmo301().header, client=stop.client))  # type: ignore[arg-type]


# --- surprises become InvalidMessage ---------------------------------------------------------


def _doc(**replace: str) -> bytes:
    data = to_xml(MessageFactory(5).wmo301())
    for old, new in replace.items():
        assert old.encode() in data
        data = data.replace(old.encode(), new.encode(), 1)
    return data


def _ingangsdatum(data: bytes) -> str:
    match = re.search(rb"<wmo301:Ingangsdatum>([^<]*)<", data)
    assert match
    return match.group(1).decode()


def test_unknown_root_is_refused() -> None:
    with pytest.raises(UnknownMessageType):
        from_bytes(b'<Bericht xmlns="urn:other"><Header/></Bericht>')
    with pytest.raises(UnknownMessageType):
        parse_message(etree.fromstring(b"<Bericht/>"))


def test_impossible_date_is_an_invalid_message() -> None:
    data = _doc()
    bad = data.replace(_ingangsdatum(data).encode(), b"2023-02-30", 1)
    with pytest.raises(InvalidMessage, match="Ingangsdatum") as caught:
        from_bytes(bad)
    assert caught.value.path.endswith("ToegewezenProduct/Ingangsdatum")
    assert caught.value.line and caught.value.line > 1


def test_unexpected_missing_and_repeated_elements_are_invalid_messages() -> None:
    data = _doc()
    with pytest.raises(InvalidMessage, match="unexpected element"):
        from_bytes(
            data.replace(b"<wmo301:Geslacht>", b"<wmo301:Extra>x</wmo301:Extra><wmo301:Geslacht>")
        )
    without = re.sub(rb"<wmo301:Ingangsdatum>[^<]*</wmo301:Ingangsdatum>", b"", data)
    with pytest.raises(InvalidMessage, match=r"lacks required element.*Ingangsdatum"):
        from_bytes(without)
    bsn = re.search(rb"<wmo301:Bsn>(\d+)</wmo301:Bsn>", data)
    assert bsn
    twice = data.replace(bsn.group(0), bsn.group(0) * 2)
    with pytest.raises(InvalidMessage, match="more than once") as caught:
        from_bytes(twice)
    assert bsn.group(1).decode() not in str(caught.value)  # never a BSN in an error


def test_numbers_and_times_are_read_as_xsd_defines_them() -> None:
    data = _doc()
    time = re.search(rb"<wmo301:Toewijzingstijd>([^<]*)<", data)
    assert time
    message = from_bytes(data.replace(time.group(1), b"24:00:00", 1))
    assert isinstance(message, Wmo301)
    assert message.client.toegewezen_producten[0].toewijzingstijd == dt.time(0, 0)
    message = from_bytes(data.replace(time.group(1), b"09:15:00.25", 1))
    assert isinstance(message, Wmo301)
    assert message.client.toegewezen_producten[0].toewijzingstijd == dt.time(9, 15, 0, 250000)
    with pytest.raises(InvalidMessage, match="Toewijzingstijd"):
        from_bytes(data.replace(time.group(1), b"09:15:00Z", 1))
    nummer = re.search(rb"<wmo301:ToewijzingNummer>([^<]*)<", data)
    assert nummer
    with pytest.raises(InvalidMessage, match="not an integer"):
        from_bytes(data.replace(nummer.group(0), b"<wmo301:ToewijzingNummer>12a<", 1))


def test_comments_do_not_lose_text() -> None:
    data = _doc()
    naam = re.search(rb"<iwmo:Achternaam>([^<]+)</iwmo:Achternaam>", data)
    assert naam
    text = naam.group(1)
    split = b"<iwmo:Achternaam>" + text[:2] + b"<!-- note -->" + text[2:] + b"</iwmo:Achternaam>"
    commented = data.replace(naam.group(0), split, 1).replace(
        b"<wmo301:Client>", b"<wmo301:Client><!-- a comment between elements -->", 1
    )
    assert from_bytes(commented) == from_bytes(data)


def test_parse_message_takes_a_safely_parsed_tree() -> None:
    data = _doc()
    assert parse_message(parse_bytes(data)) == from_bytes(data)


@pytest.mark.reference
def test_rewritten_retour_schemas_are_strict(schemas: dict[MessageType, etree.XMLSchema]) -> None:
    factory = MessageFactory(6)
    retour = factory.wmo306(factory.wmo305(), line_codes={0: ("0001",)})
    root = etree.fromstring(to_xml(retour))
    assert schemas[MessageType.WMO306].validate(root)
    codes = root.find("{*}Client/{*}RetourCodes")
    assert codes is not None
    codes.getparent().remove(codes)  # type: ignore[union-attr]
    assert not schemas[MessageType.WMO306].validate(root)
    code = root.find("{*}Header/{*}BerichtCode")
    assert code is not None and code.text == "419"
    heen = etree.fromstring(to_xml(factory.wmo305()))
    assert not schemas[MessageType.WMO306].validate(heen)


def test_only_ascii_digits_count_as_numbers_and_dates() -> None:
    data = _doc()
    nummer = re.search(rb"<wmo301:ToewijzingNummer>([^<]*)<", data)
    assert nummer
    arabic = "١٢٣".encode()  # int() would take these; xs:integer does not
    with pytest.raises(InvalidMessage, match="not an integer"):
        from_bytes(data.replace(nummer.group(1), arabic, 1))
    ingang = _ingangsdatum(data).encode()
    with pytest.raises(InvalidMessage, match="not a date"):
        from_bytes(data.replace(ingang, "٢٠٢٤-٠١-٠١".encode(), 1))
    with pytest.raises(InvalidMessage, match="not a date"):
        from_bytes(data.replace(ingang, b"20240101", 1))  # fromisoformat would accept it


def test_to_xml_refuses_what_is_not_a_message() -> None:
    with pytest.raises(TypeError, match="not an iWmo message"):
        to_xml(Product(categorie="01"))  # type: ignore[arg-type]


def _plain(value: object) -> object:
    """A model value as parse_part gives it: nested parts as dicts, None fields left out."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None and f.name != "retour_codes"
        }
    return value


@pytest.mark.parametrize("message_type", HEEN, ids=lambda mt: mt.name)
def test_a_part_reads_as_the_whole_message_reads_it(message_type: MessageType) -> None:
    line_cls, wrapper = {
        MessageType.WMO301: (ToegewezenProduct, "toegewezen_producten"),
        MessageType.WMO305: (StartProduct, "start_producten"),
        MessageType.WMO307: (StopProduct, "stop_producten"),
    }[message_type]
    for data in sample_documents(message_type, 20, seed=11):
        root = parse_bytes(data)
        message = parse_message(root)
        lines = getattr(message.client, wrapper)  # type: ignore[attr-defined]
        elements = root.findall(f".//{{{message_type.namespace}}}{line_cls.__name__}")
        assert [parse_part(el, line_cls, message_type) for el in elements] == [
            _plain(line) for line in lines
        ]


def test_a_part_refuses_what_its_model_cannot_hold() -> None:
    root = parse_bytes(_doc())
    [line] = root.findall(f".//{{{MessageType.WMO301.namespace}}}ToegewezenProduct")[:1]
    with pytest.raises(TypeError, match="StartProduct is not part of a WMO301"):
        parse_part(line, StartProduct, MessageType.WMO301)
    etree.SubElement(line, MessageType.WMO301.tag("Onbekend"))
    with pytest.raises(InvalidMessage, match="unexpected element in ToegewezenProduct"):
        parse_part(line, ToegewezenProduct, MessageType.WMO301)
    del line[0]  # ToewijzingNummer, required
    del line[-1]
    with pytest.raises(InvalidMessage, match="lacks required element"):
        parse_part(line, ToegewezenProduct, MessageType.WMO301)


LINES = {
    MessageType.WMO301: ToegewezenProduct,
    MessageType.WMO305: StartProduct,
    MessageType.WMO307: StopProduct,
}


def _in_layout(values: dict[str, object], layout: tuple[object, ...]) -> tuple[object, ...]:
    """parse_part's dict as part_reader's tuple: values in layout order, absent ones None."""
    found: list[object] = []
    for item in layout:
        if isinstance(item, tuple):
            name, inner = item
            nested = values.get(name)
            found.append(None if nested is None else _in_layout(nested, inner))  # type: ignore[arg-type]
        else:
            found.append(values.get(item))  # type: ignore[call-overload]
    return tuple(found)


def _lines_of(root: etree._Element, message_type: MessageType) -> list[etree._Element]:
    return root.findall(f".//{{{message_type.namespace}}}{LINES[message_type].__name__}")


@pytest.mark.parametrize("message_type", HEEN, ids=lambda mt: mt.name)
def test_the_part_reader_reads_plain_parts_as_parse_part_does(message_type: MessageType) -> None:
    cls = LINES[message_type]
    read, layout = part_reader(cls, message_type), part_layout(cls, message_type)
    assert read is not None
    count = 0
    for data in sample_documents(message_type, 200, seed=12):
        for line in _lines_of(parse_bytes(data), message_type):
            # Generated documents are in the plain form: the reader must not step aside.
            assert read(line) == _in_layout(parse_part(line, cls, message_type), layout)
            count += 1
    assert count > 300


def _first_line(data: bytes, *, keep_comments: bool = False) -> etree._Element:
    if keep_comments:
        root = etree.fromstring(data, etree.XMLParser(remove_blank_text=True))
    else:
        root = parse_bytes(data)
    return _lines_of(root, MessageType.WMO301)[0]


def _set(tag: str, text: str) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        found = re.search(rb"<wmo301:%s>([^<]*)<" % tag.encode(), data)
        assert found, tag
        return data.replace(found.group(0), b"<wmo301:%s>%s<" % (tag.encode(), text.encode()), 1)

    return change


#: (element, its new text, whether part_reader reads that form itself, what the case is)
_TEXTS = [
    ("ToewijzingNummer", "0042", True, "number with leading zeros"),
    ("ToewijzingNummer", " 42 ", False, "number with spaces"),
    ("ToewijzingNummer", "+42", False, "number with a sign"),
    ("ToewijzingNummer", "\u0664\u0662", False, "number in other digits"),
    ("Toewijzingstijd", "00:00:00", True, "midnight"),
    ("Toewijzingstijd", "24:00:00", False, "midnight as 24:00:00"),
    ("Toewijzingstijd", "09:15:00.5", False, "time with a fraction"),
    ("Toewijzingstijd", "25:00:00", False, "hour 25"),
    ("Toewijzingsdatum", " 2025-03-01 ", False, "date with spaces"),
    ("Toewijzingsdatum", "2025-W09-6", False, "week date"),
    ("Toewijzingsdatum", "2025-02-30", False, "February 30"),
    ("Ingangsdatum", "2025-03-0\u0661", False, "date in other digits"),
]


def _comment(before: bytes) -> Callable[[bytes], bytes]:
    return lambda data: data.replace(before, b"<!--x-->" + before, 1)


@pytest.mark.parametrize(
    ("change", "plain"),
    [
        *[pytest.param(_set(tag, text), plain, id=what) for tag, text, plain, what in _TEXTS],
        pytest.param(_comment(b"</wmo301:Ingangsdatum>"), False, id="comment in a date"),
        pytest.param(_comment(b"<wmo301:Toewijzingstijd>"), False, id="comment between elements"),
    ],
)
def test_the_part_reader_leaves_every_other_form_to_parse_part(
    change: Callable[[bytes], bytes], plain: bool
) -> None:
    read = part_reader(ToegewezenProduct, MessageType.WMO301)
    layout = part_layout(ToegewezenProduct, MessageType.WMO301)
    assert read is not None
    line = _first_line(change(_doc()), keep_comments=True)
    try:
        expected: object = _in_layout(
            parse_part(line, ToegewezenProduct, MessageType.WMO301), layout
        )
    except InvalidMessage:
        expected = InvalidMessage
    if plain:
        assert read(line) == expected
    else:
        with pytest.raises(NotPlain):
            read(line)


def test_the_part_reader_steps_aside_for_order_and_structure_it_does_not_expect() -> None:
    read = part_reader(ToegewezenProduct, MessageType.WMO301)
    assert read is not None
    out_of_order = _first_line(_doc())
    out_of_order.append(out_of_order[0])  # ToewijzingNummer last: parse_part still reads it
    unknown = _first_line(_doc())
    etree.SubElement(unknown, MessageType.WMO301.tag("Onbekend"))
    missing = _first_line(_doc())
    del missing[0]
    twice = _first_line(_doc())
    twice.append(etree.fromstring(etree.tostring(twice[-1])))
    nested = _first_line(_doc())
    etree.SubElement(nested[0], MessageType.WMO301.tag("Binnen"))
    for line in (out_of_order, unknown, missing, twice, nested):
        with pytest.raises(NotPlain):
            read(line)
    assert parse_part(out_of_order, ToegewezenProduct, MessageType.WMO301)["toewijzing_nummer"]


def test_a_part_with_lists_has_no_part_reader() -> None:
    assert part_reader(Wmo301, MessageType.WMO301) is None  # its Client holds lists of parts
    with pytest.raises(TypeError, match="StartProduct is not part of a WMO301"):
        part_reader(StartProduct, MessageType.WMO301)
    with pytest.raises(TypeError, match="StartProduct is not part of a WMO301"):
        part_layout(StartProduct, MessageType.WMO301)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0042", 42), (" 42 ", 42), ("+42", 42), ("\u0664\u0662", None), ("4 2", None), ("", None)],
)
def test_integers_take_the_quick_path_only_for_plain_ascii_digits(
    text: str, expected: int | None
) -> None:
    data = _doc()
    nummer = re.search(rb"<wmo301:ToewijzingNummer>([^<]*)<", data)
    assert nummer
    changed = data.replace(nummer.group(0), b"<wmo301:ToewijzingNummer>" + text.encode() + b"<", 1)
    if expected is None:
        with pytest.raises(InvalidMessage, match="not an integer"):
            from_bytes(changed)
        return
    message = from_bytes(changed)
    assert isinstance(message, Wmo301)
    assert message.client.toegewezen_producten[0].toewijzing_nummer == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("23:59:59", dt.time(23, 59, 59)),
        ("00:00:00", dt.time(0, 0)),
        (" 09:15:00", dt.time(9, 15)),
        ("24:00:00", dt.time(0, 0)),
        ("25:00:00", None),
        ("09:60:00", None),
        ("09:15:6\u0660", None),
    ],
)
def test_times_take_the_quick_path_only_for_plain_valid_times(
    text: str, expected: dt.time | None
) -> None:
    data = _doc()
    time = re.search(rb"<wmo301:Toewijzingstijd>([^<]*)<", data)
    assert time
    changed = data.replace(time.group(1), text.encode(), 1)
    if expected is None:
        with pytest.raises(InvalidMessage, match="Toewijzingstijd"):
            from_bytes(changed)
        return
    message = from_bytes(changed)
    assert isinstance(message, Wmo301)
    assert message.client.toegewezen_producten[0].toewijzingstijd == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-01", dt.date(2025, 3, 1)),
        (" 2025-03-01 ", dt.date(2025, 3, 1)),
        ("2025-W09-6", None),  # ISO week date: Python reads it, XSD does not
        ("20250301", None),
        ("2025-02-30", None),
        ("2025-03-0\u0661", None),  # an Arabic-Indic digit
        ("+025-03-01", None),
    ],
)
def test_dates_take_the_quick_path_only_for_plain_valid_dates(
    text: str, expected: dt.date | None
) -> None:
    data = _doc()
    datum = re.search(rb"<wmo301:Toewijzingsdatum>([^<]*)<", data)
    assert datum
    changed = data.replace(datum.group(0), b"<wmo301:Toewijzingsdatum>" + text.encode() + b"<", 1)
    if expected is None:
        with pytest.raises(InvalidMessage, match="not a date"):
            from_bytes(changed)
        return
    message = from_bytes(changed)
    assert isinstance(message, Wmo301)
    assert message.client.toegewezen_producten[0].toewijzingsdatum == expected
