"""Each intra-message rule on small hand-written messages: a clean one passes, and breaking one
condition yields exactly the expected rule(s) at the expected element and line.

Documents are edited with the conformance helpers (`tests.conformance.rule_doc`): a record is
first put into a rule-clean state (dates relative to the Dagtekening), then one thing changes.
"""

# ruff: noqa: E501  (the case tables keep one case per line, so they read as tables)

from __future__ import annotations

import datetime as dt
import re

import pytest
from lxml import etree

from hub.errors import ValidationError
from hub.messagetypes import MessageType
from hub.rules.base import registry
from hub.validation import Validator, compiled_schema
from tests.conformance.rule_doc import DROP, Doc, Mutation, all_contacts_soort, copy_last, on, steps

W301, W305, W307 = MessageType.WMO301, MessageType.WMO305, MessageType.WMO307
_NS = {
    mt: f'xmlns:m="{mt.namespace}" xmlns:b="http://www.istandaarden.nl/iwmo/3_2/basisschema/schema"'
    for mt in (W301, W305, W307)
}
BSN = "123456782"  # passes the 11-proef: 9+16+21+24+25+24+21+16-2 = 154 = 14 × 11
TODAY = dt.date(2024, 6, 1)


def _header(mt: MessageType, code: str, sender: str, receiver: str, dag: str) -> str:
    return f"""<m:Header><m:BerichtCode>{code}</m:BerichtCode><m:BerichtVersie>3</m:BerichtVersie>
<m:BerichtSubversie>2</m:BerichtSubversie><m:Afzender>{sender}</m:Afzender>
<m:Ontvanger>{receiver}</m:Ontvanger><m:BerichtIdentificatie><b:Identificatie>T-{code}</b:Identificatie>
<b:Dagtekening>{dag}</b:Dagtekening></m:BerichtIdentificatie><m:XsdVersie>
<b:BasisschemaXsdVersie>1.0.0</b:BasisschemaXsdVersie><b:BerichtXsdVersie>1.0.0</b:BerichtXsdVersie>
</m:XsdVersie></m:Header>"""


_PERSOON = f"""<m:Bsn>{BSN}</m:Bsn><m:Geboortedatum><b:Datum>1980-06-01</b:Datum></m:Geboortedatum>
<m:Geslacht>2</m:Geslacht>"""
_KORTE_NAAM = (
    "<m:Naam><b:Geslachtsnaam><b:Achternaam>Bakker</b:Achternaam></b:Geslachtsnaam></m:Naam>"
)
_PRODUCT = "<m:Product><b:Categorie>02</b:Categorie><b:Code>02A01</b:Code></m:Product>"

BASES = {
    W301: f"""<m:Bericht {_NS[W301]}>{_header(W301, "414", "1680", "12345678", "2024-03-15")}
<m:Client>{_PERSOON}<m:Naam><b:Geslachtsnaam><b:Achternaam>Bakker</b:Achternaam></b:Geslachtsnaam>
<b:NaamGebruik>1</b:NaamGebruik></m:Naam><m:Relaties><m:Relatie><m:Nummer>R-1</m:Nummer>
<m:Soort>03</m:Soort><m:Naam><b:Geslachtsnaam><b:Achternaam>Visser</b:Achternaam></b:Geslachtsnaam>
<b:NaamGebruik>1</b:NaamGebruik></m:Naam><m:Contact><m:Soort>02</m:Soort><m:Telefoon><b:Telefoon01>
<b:Telefoonnummer>0301234567</b:Telefoonnummer><b:Landnummer>0031</b:Landnummer></b:Telefoon01>
</m:Telefoon></m:Contact></m:Relatie></m:Relaties><m:Contactgegevens><m:Contact><m:Soort>01</m:Soort>
<m:Adres><b:Huis><b:Huisnummer>12</b:Huisnummer></b:Huis><b:Postcode>3511AB</b:Postcode>
<b:Plaatsnaam>Utrecht</b:Plaatsnaam><b:LandCode>NL</b:LandCode></m:Adres></m:Contact>
</m:Contactgegevens><m:ToegewezenProducten><m:ToegewezenProduct><m:ToewijzingNummer>5001</m:ToewijzingNummer>
{_PRODUCT}<m:Toewijzingsdatum>2024-03-14</m:Toewijzingsdatum><m:Toewijzingstijd>10:00:00</m:Toewijzingstijd>
<m:Ingangsdatum>2024-04-01</m:Ingangsdatum><m:Einddatum>2024-12-31</m:Einddatum><m:Omvang><b:Volume>4</b:Volume>
<b:Eenheid>04</b:Eenheid><b:Frequentie>2</b:Frequentie></m:Omvang></m:ToegewezenProduct>
</m:ToegewezenProducten></m:Client></m:Bericht>""",
    W305: f"""<m:Bericht {_NS[W305]}>{_header(W305, "418", "12345678", "1680", "2024-05-10")}
<m:Client>{_PERSOON}{_KORTE_NAAM}<m:StartProducten><m:StartProduct><m:ToewijzingNummer>5001</m:ToewijzingNummer>
{_PRODUCT}<m:ToewijzingIngangsdatum>2024-04-01</m:ToewijzingIngangsdatum><m:Begindatum>2024-04-02</m:Begindatum>
<m:StatusAanlevering>1</m:StatusAanlevering></m:StartProduct><m:StartProduct>
<m:ToewijzingNummer>5002</m:ToewijzingNummer><m:Begindatum>2024-04-03</m:Begindatum>
<m:StatusAanlevering>1</m:StatusAanlevering></m:StartProduct></m:StartProducten></m:Client></m:Bericht>""",
    W307: f"""<m:Bericht {_NS[W307]}>{_header(W307, "420", "12345678", "1680", "2024-05-10")}
<m:Client>{_PERSOON}{_KORTE_NAAM}<m:StopProducten><m:StopProduct><m:ToewijzingNummer>5001</m:ToewijzingNummer>
{_PRODUCT}<m:Begindatum>2024-04-02</m:Begindatum><m:RedenBeeindiging>31</m:RedenBeeindiging>
<m:Einddatum>2024-05-01</m:Einddatum><m:StatusAanlevering>1</m:StatusAanlevering></m:StopProduct>
<m:StopProduct><m:Begindatum>2024-04-03</m:Begindatum><m:RedenBeeindiging>02</m:RedenBeeindiging>
<m:Einddatum>2024-05-02</m:Einddatum><m:StatusAanlevering>1</m:StatusAanlevering></m:StopProduct>
</m:StopProducten></m:Client></m:Bericht>""",
}

TEL = {"Telefoon/Telefoon01/Telefoonnummer": "0201234567", "Telefoon/Telefoon01/Landnummer": "0031"}
C = "/Bericht/Client"
CONTACT = f"{C}/Contactgegevens/Contact"
TP = f"{C}/ToegewezenProducten/ToegewezenProduct"
REL = f"{C}/Relaties/Relatie"
SAME_PRODUCT = {"Product/Code": "ZZ900"}  # ToegewezenProduct 2 assigning the product of 1


def _doc(mt: MessageType, mutate: Mutation | None = None) -> bytes:
    root = etree.fromstring(BASES[mt].encode())
    if mutate is not None:
        mutate(Doc(root, mt))
    etree.indent(root)  # one element per line, so a wrong line is noticed
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _errors(data: bytes, mt: MessageType, today: dt.date = TODAY) -> list[ValidationError]:
    root = etree.fromstring(data)
    schema = compiled_schema(mt)
    assert schema.validate(root), f"test document is not schema-valid: {schema.error_log}"
    return list(Validator(today=today).rule_errors(root, mt))


def _find(data: bytes, path: str) -> etree._Element:
    """The element at a '/Bericht/A/B[2]/C' path, resolved by local name (independent of hub)."""
    node = etree.fromstring(data)
    for step in path.strip("/").split("/")[1:]:
        name, _, index = step.partition("[")
        same = [c for c in node if isinstance(c.tag, str) and etree.QName(c).localname == name]
        node = same[int(index[:-1]) - 1 if index else 0]
    return node


# (message type, mutation, {(rule, path)}) — the rules and places a broken document must yield.
BREAKS: dict[str, tuple[MessageType, Mutation, set[tuple[str, str]]]] = {
    "CS002-301": (W301, on("client", {"Bsn": "123456783"}), {("CS002", f"{C}/Bsn")}),
    "CS002-305": (W305, on("client", {"Bsn": "000000005"}), {("CS002", f"{C}/Bsn")}),
    "CS139-day": (W307, on("client", {"Geboortedatum/Datum": "1970-05-02", "Geboortedatum/DatumGebruik": "1"}), {("CS139", f"{C}/Geboortedatum/DatumGebruik")}),
    "CS139-month": (W305, on("client", {"Geboortedatum/Datum": "1970-02-01", "Geboortedatum/DatumGebruik": "2"}), {("CS139", f"{C}/Geboortedatum/DatumGebruik")}),
    "CS139-unknown": (W301, on("client", {"Geboortedatum/Datum": "1950-01-01", "Geboortedatum/DatumGebruik": "3"}), {("CS139", f"{C}/Geboortedatum/DatumGebruik")}),
    "TR002": (W301, on("client", {"Geboortedatum/Datum": "@-120y-1"}), {("TR002", f"{C}/Geboortedatum/Datum")}),
    "TR002-relatie": (W301, on("relatie", {"Geboortedatum/Datum": "1900-01-01"}), {("TR002", f"{REL}/Geboortedatum/Datum")}),
    "TR134-geboorte": (W305, on("client", {"Geboortedatum/Datum": "@+1"}), {("TR134", f"{C}/Geboortedatum/Datum")}),
    "TR134-toewijzing": (W301, on("tp", {"Toewijzingsdatum": "@+1"}), {("TR134", f"{TP}/Toewijzingsdatum")}),
    "TR134-start": (W305, on("levering", {"Begindatum": "@+1"}), {("TR134", f"{C}/StartProducten/StartProduct[1]/Begindatum")}),
    "TR134-stop": (W307, on("levering", {"Einddatum": "@+1"}), {("TR134", f"{C}/StopProducten/StopProduct[1]/Einddatum")}),
    "CD007-no-taal": (W301, on("client", {"Communicatie/Vorm": "1"}), {("CD007", f"{C}/Communicatie/Vorm")}),
    "CD007-taal": (W301, on("client", {"Communicatie/Vorm": "2", "Communicatie/Taal": "Pools"}), {("CD007", f"{C}/Communicatie/Taal")}),
    "CS050-partner": (W301, on("client", {"Naam/Partnernaam/Achternaam": "Jansen", "Naam/NaamGebruik": "5"}), {("CS050", f"{C}/Naam/NaamGebruik")}),
    "CS050-relatie": (W301, on("relatie", {"Naam/NaamGebruik": "3"}), {("CS050", f"{REL}/Naam/NaamGebruik")}),
    "CS318": (W301, on("client", {"Naam/NaamGebruik": "6"}), {("CS318", f"{C}/Naam/NaamGebruik")}),
    "CS318-partner": (W301, on("client", {"Naam/Partnernaam/Achternaam": "Jansen", "Naam/NaamGebruik": "6"}), {("CS318", f"{C}/Naam/NaamGebruik"), ("CS050", f"{C}/Naam/NaamGebruik")}),
    "CD005-postcode": (W301, on("contact", {"Adres/LandCode": DROP}), {("CD005", f"{CONTACT}/Adres/Postcode")}),
    "CD005-landcode": (W301, on("contact", {"Soort": "02", "Adres/Postcode": DROP, "Adres/LandCode": "BE", **TEL}), {("CD005", f"{CONTACT}/Adres/LandCode")}),
    "CD009": (W301, on("contact", {"Periode/Begindatum": "@-10"}), {("CD009", f"{CONTACT}/Periode")}),
    "CD025": (W301, on("contact", {"Adres/Huis": DROP, **TEL}), {("CD025", f"{CONTACT}/Adres/LandCode")}),
    "CD034": (W301, on("contact", {"Soort": "03", "Adres/Postcode": DROP, "Adres/LandCode": DROP, **TEL}), {("CD034", f"{CONTACT}/Soort")}),
    "CS089": (W301, on("contact", {"Adres/Postcode": "0234AB"}), {("CS089", f"{CONTACT}/Adres/Postcode")}),
    "CS089-relatie": (W301, on("relatie", {"Contact/Adres/Huis/Huisnummer": "3", "Contact/Adres/Postcode": "1234 AB", "Contact/Adres/LandCode": "NL"}), {("CS089", f"{REL}/Contact/Adres/Postcode")}),
    "TR006": (W301, on("contact", {"Adres/Huis": DROP, "Adres/LandCode": "BE"}), {("TR006", CONTACT)}),
    "TR061": (W301, all_contacts_soort("04"), {("TR061", f"{C}/Contactgegevens")}),
    "CS003-tp": (W301, on("tp", {"Einddatum": "@-61"}), {("CS003", f"{TP}/Einddatum")}),
    "CS003-periode": (W301, on("contact04", {"Periode/Begindatum": "@-1", "Periode/Einddatum": "@-2"}), {("CS003", f"{CONTACT}[2]/Periode/Einddatum")}),
    "CS003-no-begin": (W301, on("contact04", {"Periode/Einddatum": "@-2"}), {("CS003", f"{CONTACT}[2]/Periode/Einddatum")}),
    "TR018": (W307, on("levering", {"Begindatum": "@-5", "Einddatum": "@-6"}), {("TR018", f"{C}/StopProducten/StopProduct[1]/Einddatum")}),
    "CD041": (W301, on("tp", {"Omvang": DROP}), {("CD041", f"{TP}/Product/Code")}),
    "CD075": (W301, on("tp", {"Product/Code": DROP, "Omvang": DROP, "Budget": "900", "Einddatum": DROP}), {("CD075", f"{TP}/Budget")}),
    "CD076": (W301, on("tp", {"Omvang/Frequentie": "2", "Einddatum": DROP}), {("CD076", f"{TP}/Omvang/Frequentie")}),
    "CD077-CD078": (W301, on("tp", {"Budget": "500"}), {("CD077", f"{TP}/Omvang"), ("CD078", f"{TP}/Budget")}),
    "CD079": (W301, on("tp", {"Product": DROP, "Omvang": DROP}), {("CD079", TP)}),
    "CD080": (W301, on("tp", {"Product/Code": DROP, "Einddatum": DROP}), {("CD080", f"{TP}/Omvang")}),
    "CS335": (W301, on("tp", {"RedenWijziging": "13"}), {("CS335", f"{TP}/RedenWijziging")}),
    "CS335-open": (W301, on("tp", {"RedenWijziging": "13", "Einddatum": DROP}), {("CS335", f"{TP}/RedenWijziging")}),
    "CS336": (W301, on("tp", {"RedenWijziging": "01"}), {("CS336", f"{TP}/RedenWijziging")}),
    "CS338": (W301, on("tp", {"Omvang/Eenheid": "14"}), {("CS338", f"{TP}/Omvang/Frequentie")}),
    "CS058-start": (W305, on("levering", {"StatusAanlevering": "2"}), {("CS058", f"{C}/StartProducten/StartProduct[1]/StatusAanlevering")}),
    "CS058-stop": (W307, on("levering", {"StatusAanlevering": "9"}), {("CS058", f"{C}/StopProducten/StopProduct[1]/StatusAanlevering")}),
    "TR302": (W301, steps(on("tp", {}), on("tp", SAME_PRODUCT, 1)), {("TR302", f"{TP}[2]")}),
    "TR302-touching": (W301, steps(on("tp", {}), on("tp", {**SAME_PRODUCT, "Ingangsdatum": "@+300"}, 1)), {("TR302", f"{TP}[2]")}),
    "TR302-touching-before": (W301, steps(on("tp", {}), on("tp", {**SAME_PRODUCT, "Ingangsdatum": "@-100", "Einddatum": "@-60"}, 1)), {("TR302", f"{TP}[2]")}),
    "TR302-category": (W301, steps(on("tp", {}), on("tp", {"Product/Code": DROP, "Omvang": DROP}, 1)), {("TR302", f"{TP}[2]")}),
    "TR101-tp": (W301, steps(on("tp", {}), on("tp", {"ToewijzingNummer": "5001", "Ingangsdatum": "@+400", "Einddatum": "@+500"}, 1)), {("TR101", f"{TP}[2]")}),
    "TR101-tp-lexical": (W301, steps(on("tp", {}), on("tp", {"ToewijzingNummer": "05001", "Ingangsdatum": "@+400", "Einddatum": "@+500"}, 1)), {("TR101", f"{TP}[2]")}),
    "TR101-contact": (W301, copy_last(("Contactgegevens",), "Contact"), {("TR101", f"{CONTACT}[2]")}),
    "TR101-relatie": (W301, copy_last(("Relaties",), "Relatie"), {("TR101", f"{REL}[2]")}),
    "TR101-start": (W305, copy_last(("StartProducten",), "StartProduct"), {("TR101", f"{C}/StartProducten/StartProduct[3]")}),
    "TR101-stop": (W307, copy_last(("StopProducten",), "StopProduct"), {("TR101", f"{C}/StopProducten/StopProduct[3]")}),
}  # fmt: skip

# Documents on the allowed side of a condition: no rule may fire.
EDGES: dict[str, tuple[MessageType, Mutation]] = {
    "bsn-zeros": (W301, on("client", {"Bsn": "000000000"})),
    "gebruik1-first": (W305, on("client", {"Geboortedatum/Datum": "1970-05-01", "Geboortedatum/DatumGebruik": "1"})),
    "gebruik3-1900": (W307, on("client", {"Geboortedatum/Datum": "1900-01-01", "Geboortedatum/DatumGebruik": "3"})),
    "120-years": (W301, on("client", {"Geboortedatum/Datum": "@-120y"})),
    "geboren-op-dagtekening": (W301, on("client", {"Geboortedatum/Datum": "@+0"})),
    "tolk-met-taal": (W301, on("client", {"Communicatie/Vorm": "1", "Communicatie/Taal": "Pools"})),
    "partner-4": (W301, on("client", {"Naam/Partnernaam/Achternaam": "Jansen", "Naam/NaamGebruik": "4"})),
    "relatie-6": (W301, on("relatie", {"Naam/NaamGebruik": "6"})),
    "tijdelijk-periode": (W301, on("contact04", {"Periode/Begindatum": "@-2", "Periode/Einddatum": "@-2"})),
    "postcode-lower": (W301, on("contact", {"Adres/Postcode": "3511ab"})),
    "foreign-postcode": (W301, on("contact", {"Adres/Postcode": "0234AB", "Adres/LandCode": "DE"})),
    "tp-one-day": (W301, on("tp", {"Einddatum": "@-60"})),
    "budget": (W301, on("tp", {"Product/Code": DROP, "Omvang": DROP, "Budget": "900"})),
    "category-2020": (W301, on("tp", {"Product/Code": DROP, "Ingangsdatum": "2020-01-01", "Einddatum": "2020-12-31"})),
    "etmaal-per-maand": (W301, on("tp", {"Omvang/Eenheid": "14", "Omvang/Frequentie": "4"})),
    "verwijderd": (W301, on("tp", {"RedenWijziging": "13", "Einddatum": "@-60"})),
    "next-day": (W301, steps(on("tp", {}), on("tp", {**SAME_PRODUCT, "Ingangsdatum": "@+301", "Einddatum": "@+400"}, 1))),
    "hulpmiddelen": (W301, steps(on("tp", {"Product/Categorie": "11"}), on("tp", {**SAME_PRODUCT, "Product/Categorie": "11"}, 1))),
    "verwijderd-overlap": (W301, steps(on("tp", {"RedenWijziging": "13", "Einddatum": "@-60"}), on("tp", SAME_PRODUCT, 1))),
    "status-3": (W305, on("levering", {"StatusAanlevering": "3"})),
    "stop-one-day": (W307, on("levering", {"Begindatum": "@-5", "Einddatum": "@-5"})),
}  # fmt: skip


@pytest.mark.parametrize("mt", [W301, W305, W307], ids=lambda mt: mt.name)
def test_clean_base_documents_pass_every_rule(mt: MessageType) -> None:
    assert _errors(_doc(mt), mt) == []


@pytest.mark.parametrize("case", BREAKS)
def test_broken_document_yields_exactly_the_rule_at_the_element(case: str) -> None:
    mt, mutate, expected = BREAKS[case]
    data = _doc(mt, mutate)
    errors = _errors(data, mt)
    assert {(e.rule, e.path) for e in errors} == expected
    for error in errors:
        assert error.line == _find(data, error.path).sourceline
        assert error.message.startswith(f"{error.rule}: ")
        assert error.retour_code == "0001"


@pytest.mark.parametrize("case", EDGES)
def test_document_on_the_allowed_side_passes(case: str) -> None:
    mt, mutate = EDGES[case]
    assert _errors(_doc(mt, mutate), mt) == []


def test_every_rule_has_a_breaking_case() -> None:
    broken = {rule for _, _, expected in BREAKS.values() for rule, _ in expected}
    assert {rule.id for rule in registry} - {"TR135"} <= broken


def test_tr135_dagtekening_in_the_future_of_today() -> None:
    data = _doc(W301)  # Dagtekening 2024-03-15
    assert _errors(data, W301, today=dt.date(2024, 3, 15)) == []
    [error] = _errors(data, W301, today=dt.date(2024, 3, 14))
    assert (error.rule, error.path, error.retour_code) == (
        "TR135",
        "/Bericht/Header/BerichtIdentificatie/Dagtekening",
        "8848",
    )
    assert error.line == _find(data, error.path).sourceline


def test_messages_never_contain_a_bsn_or_other_nine_digit_number() -> None:
    nine_digits = re.compile(r"(?<!\d)\d{9}(?!\d)")
    for mt, mutate, _ in BREAKS.values():
        for error in _errors(_doc(mt, mutate), mt):
            assert BSN not in error.message and "123456783" not in error.message
            assert not nine_digits.search(error.message), error.message


def test_comments_and_processing_instructions_do_not_move_the_rules() -> None:
    """XSD validation ignores comments and PIs; the positional view must ignore them too."""
    for case in ("CD077-CD078", "TR302", "CS050-relatie", "CD025", "TR101-stop"):
        mt, mutate, expected = BREAKS[case]
        root = etree.fromstring(_doc(mt, mutate))
        for el in list(root.iter(etree.Element))[1:]:
            el.addprevious(etree.Comment(" c "))
            el.append(etree.ProcessingInstruction("pi", "x"))
        data = etree.tostring(root)
        errors = _errors(data, mt)
        assert {(e.rule, e.path) for e in errors} == expected, case
        for error in errors:  # located in the document as sent, comments and all
            assert error.line == _find(data, error.path).sourceline


def test_rules_refuse_a_document_that_is_not_schema_valid() -> None:
    """The view reads elements by XSD position; a structure that does not fit is a clear error."""
    root = etree.fromstring(_doc(W301))
    header = root[0]
    for child in list(header)[4:]:  # from Ontvanger on: no BerichtIdentificatie, no Dagtekening
        header.remove(child)
    with pytest.raises(ValueError, match="schema-valid"):
        list(Validator(today=TODAY).rule_errors(root, W301))
