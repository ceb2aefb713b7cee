"""The factory builds valid messages (official XSD and rule XSLT agree), deterministically."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from hub.codec import from_bytes, to_xml
from hub.factory import DEFAULT_TODAY, MessageFactory, bsn_is_valid, sample_documents
from hub.messagetypes import MessageType
from hub.model import Message, Omvang, Product, Wmo301, Wmo302, Wmo305, Wmo306, Wmo307
from tests.unit.test_codec import official_schema

Check = Callable[[bytes], list[str]]


@pytest.fixture(scope="module")
def official_check(reference_dir: Path) -> Check:
    """Every problem the official XSD and rule XSLT find in a document ('' list when valid)."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    xslt = etree.XSLT(etree.parse(str(reference_dir / "TR-CD-CS_regels_WMO_3.2.xsl"), parser))
    schemas = {mt: official_schema(reference_dir, mt) for mt in MessageType}

    def check(data: bytes) -> list[str]:
        root = etree.fromstring(data)
        message_type = MessageType.from_namespace(etree.QName(root).namespace)
        assert message_type is not None
        schema = schemas[message_type]
        if not schema.validate(root):
            return [f"XSD: {schema.error_log}"]
        if message_type.is_retour:
            return []  # the rule XSLT has no rules for retours
        report = xslt(root).getroot()
        assert report is not None and etree.QName(report).localname == "Rapport"
        return [
            " ".join(str(t).strip() for t in fout.itertext() if str(t).strip())
            for fout in report.iter("{*}Fout")
        ]

    return check


def test_the_official_check_does_find_rule_violations(official_check: Check) -> None:
    """Guard for the tests below: a rule break the factory must avoid is really reported."""
    message = MessageFactory(1).wmo301(producten=[{"budget": 1000, "einddatum": None}])
    problems = official_check(to_xml(message))
    assert any(p.startswith("CD075") for p in problems), problems


# --- values ---------------------------------------------------------------------------------


def test_bsn_11_proef() -> None:
    assert bsn_is_valid("999900006")  # the official examples' BSN
    assert bsn_is_valid("123456782")  # 9+16+21+24+25+24+21+16 - 2 = 154 = 14 * 11
    assert not bsn_is_valid("123456789")
    assert not bsn_is_valid("000000000")
    assert not bsn_is_valid("12345678")
    assert not bsn_is_valid("١٢٣٤٥٦٧٨٢")  # non-ASCII digits are not a BSN


def test_value_helpers(reference_dir: Path) -> None:
    factory = MessageFactory(11)
    cbs = (reference_dir / "codelijsten" / "CBS_Gemeentecodes.md").read_text(encoding="utf-8")
    existing = set(re.findall(r"^\| (\d{4}) \|", cbs, flags=re.M))
    for _ in range(200):
        bsn = factory.bsn()
        weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
        assert (
            len(bsn) == 9 and sum(int(d) * w for d, w in zip(bsn, weights, strict=True)) % 11 == 0
        )
        assert factory.gemeente() in existing
        assert re.fullmatch(r"[0-9]{8}", factory.agb_code())
        assert 1 <= len(factory.identificatie()) <= 12
        product = factory.product()
        assert product.code is not None and product.code.startswith(product.categorie)
        assert len(product.code) <= 5


def test_omvang_combinations_are_allowed() -> None:
    factory = MessageFactory(12, varied=True)
    seen: Counter[str] = Counter()
    for _ in range(500):
        omvang = factory.omvang(per_week=False)
        seen[omvang.eenheid] += 1
        assert omvang.frequentie != "2"  # per week needs an Einddatum (CD076)
        if omvang.eenheid in {"14", "16", "83", "84"}:
            assert omvang.frequentie in {"4", "6"}  # CS338
    assert set(seen) == {"01", "04", "14", "16", "82", "83", "84"}


# --- documents --------------------------------------------------------------------------------


@pytest.mark.reference
@pytest.mark.parametrize("message_type", list(MessageType), ids=lambda mt: mt.name)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sample_documents_pass_the_official_xsd_and_rules(
    official_check: Check, message_type: MessageType, seed: int
) -> None:
    for index, data in enumerate(sample_documents(message_type, 40, seed)):
        assert official_check(data) == [], f"seed {seed} document {index}"


def test_sample_documents_are_deterministic() -> None:
    for message_type in MessageType:
        first = sample_documents(message_type, 6, seed=42)
        assert len(first) == 6
        assert first == sample_documents(message_type, 6, seed=42)
        assert first[:3] == sample_documents(message_type, 3, seed=42)
        assert first != sample_documents(message_type, 6, seed=43)
        assert len(set(first)) == 6
    assert to_xml(MessageFactory(9).wmo301()) == to_xml(MessageFactory(9).wmo301())


def test_sample_documents_vary_what_the_standard_leaves_open() -> None:
    seen: Counter[str] = Counter()
    for data in sample_documents(MessageType.WMO301, 120, seed=8):
        message = from_bytes(data)
        assert isinstance(message, Wmo301)
        client = message.client
        seen[f"lines{len(client.toegewezen_producten)}"] += 1
        seen["relaties"] += bool(client.relaties)
        seen["communicatie"] += client.communicatie is not None
        seen["partnernaam"] += client.naam.partnernaam is not None
        for line in client.toegewezen_producten:
            seen["omvang"] += line.omvang is not None
            seen["budget"] += line.budget is not None
            seen["geen product"] += line.product is None
            seen["geen einddatum"] += line.einddatum is None
            seen["reden wijziging"] += line.reden_wijziging is not None
            seen["commentaar"] += line.commentaar is not None
    for key in ("lines1", "lines2", "lines3", "lines4", "relaties", "communicatie", "omvang"):
        assert seen[key] > 0, key
    for key in ("partnernaam", "budget", "geen product", "geen einddatum", "reden wijziging"):
        assert seen[key] > 0, key
    assert seen["lines1"] < 120  # sometimes absent too


@pytest.mark.parametrize("seed", range(5))
def test_dates_are_consistent(seed: int) -> None:
    factory = MessageFactory(seed, varied=True)
    toewijzing = factory.wmo301()
    dagtekening = toewijzing.header.bericht_identificatie.dagtekening
    assert dagtekening <= DEFAULT_TODAY  # TR135
    for line in toewijzing.client.toegewezen_producten:
        assert line.toewijzingsdatum <= dagtekening  # TR134
        assert line.einddatum is None or line.ingangsdatum <= line.einddatum  # CS003
    start = factory.wmo305(toewijzing)
    assert start.header.bericht_identificatie.dagtekening <= DEFAULT_TODAY
    for s in start.client.start_producten:
        assert s.begindatum <= start.header.bericht_identificatie.dagtekening  # TR134
    stop = factory.wmo307(start, toewijzing=toewijzing)
    stop_dagtekening = stop.header.bericht_identificatie.dagtekening
    assert stop_dagtekening <= DEFAULT_TODAY
    for e in stop.client.stop_producten:
        assert e.begindatum <= e.einddatum <= stop_dagtekening  # TR018, TR134


# --- overrides and chains -----------------------------------------------------------------


def test_overrides_are_kept_and_the_rest_still_fits(official_check: Check) -> None:
    factory = MessageFactory(21)
    message = factory.wmo301(
        bsn="123456782",
        afzender="0363",
        identificatie="ID-1",
        dagtekening=dt.date(2025, 1, 15),
        producten=[
            {"einddatum": None, "product": Product(categorie="04", code="04X01")},
            {"budget": 125000, "product": None},
            {
                "ingangsdatum": dt.date(2025, 3, 1),
                "omvang": Omvang(volume=3, eenheid="83", frequentie="4"),
            },
        ],
    )
    client = message.client
    assert client.bsn == "123456782"
    assert message.header.afzender == "0363"
    assert message.header.bericht_identificatie.identificatie == "ID-1"
    first, budget, third = client.toegewezen_producten
    assert first.einddatum is None and first.product == Product(categorie="04", code="04X01")
    assert first.omvang is not None and first.omvang.frequentie != "2"
    assert budget.budget == 125000 and budget.product is None and budget.omvang is None
    assert budget.einddatum is not None  # CD075
    assert third.ingangsdatum == dt.date(2025, 3, 1) and third.omvang is not None
    assert third.omvang.eenheid == "83"
    assert official_check(to_xml(message)) == []


def test_unknown_overrides_are_refused() -> None:
    factory = MessageFactory(22)
    with pytest.raises(TypeError, match="unknown override"):
        factory.wmo301(bsnn="123456782")
    with pytest.raises(TypeError, match="ToegewezenProduct"):
        factory.wmo301(producten=[{"eind": None}])


def test_an_override_can_break_a_rule_on_purpose(official_check: Check) -> None:
    message = MessageFactory(23).wmo301(bsn="123456789")
    assert any(p.startswith("CS002") for p in official_check(to_xml(message)))


def test_start_and_stop_follow_the_toewijzing(official_check: Check) -> None:
    factory = MessageFactory(31)
    toewijzing = factory.wmo301(producten=3)
    start = factory.wmo305(toewijzing)
    stop = factory.wmo307(start, toewijzing=toewijzing)
    assert isinstance(start, Wmo305) and isinstance(stop, Wmo307)
    assert (start.header.afzender, start.header.ontvanger) == (
        toewijzing.header.ontvanger,
        toewijzing.header.afzender,
    )
    assert start.client.bsn == stop.client.bsn == toewijzing.client.bsn
    lines = {t.toewijzing_nummer: t for t in toewijzing.client.toegewezen_producten}
    assert [s.toewijzing_nummer for s in start.client.start_producten] == list(lines)
    for s in start.client.start_producten:
        assert s.toewijzing_nummer is not None
        line = lines[s.toewijzing_nummer]
        assert s.product == line.product and s.toewijzing_ingangsdatum == line.ingangsdatum
        assert line.ingangsdatum <= s.begindatum
    for s, e in zip(start.client.start_producten, stop.client.stop_producten, strict=True):
        assert (e.toewijzing_nummer, e.begindatum) == (s.toewijzing_nummer, s.begindatum)
        assert e.toewijzing_nummer is not None
        end = lines[e.toewijzing_nummer].einddatum
        assert end is None or e.einddatum <= end
    for message in (toewijzing, start, stop):
        assert official_check(to_xml(message)) == []


def test_retours_answer_their_message(official_check: Check) -> None:
    factory = MessageFactory(41)
    toewijzing = factory.wmo301(producten=2)
    approved = factory.wmo302(toewijzing)
    assert isinstance(approved, Wmo302)
    assert approved.client is None and approved.header.retour_codes == ("0200",)
    assert approved.header.bericht_code == "415"
    assert approved.header.bericht_identificatie == toewijzing.header.bericht_identificatie
    assert approved.header.afzender == toewijzing.header.afzender
    sent = toewijzing.header.bericht_identificatie.dagtekening
    assert sent <= approved.header.dagtekening_retour <= DEFAULT_TODAY
    rejected = factory.wmo302(toewijzing, line_codes={1: ("0001",)})
    assert rejected.client is not None
    assert [line.retour_codes for line in rejected.client.toegewezen_producten] == [
        ("0200",),
        ("0001",),
    ]
    assert rejected.client.retour_codes == ("0200",)
    assert all(c.retour_codes for c in rejected.client.contactgegevens)
    start = factory.wmo305()
    assert isinstance(factory.wmo306(start), Wmo306)
    for retour in (approved, rejected, factory.wmo308(factory.wmo307()), factory.wmo306(start)):
        assert official_check(to_xml(retour)) == []
    with pytest.raises(ValueError, match="does not answer"):
        factory.wmo302(start)  # type: ignore[arg-type]


def test_build_makes_every_type() -> None:
    factory = MessageFactory(51, varied=True)
    for message_type in MessageType:
        message: Message = factory.build(message_type)
        assert message.message_type is message_type
