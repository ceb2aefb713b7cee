"""Schema-valid documents that break, or only just keep, each intra-message rule (TR/CD/CS).

`rule_mutations(base, message_type)` works on any base document of the type: each mutation puts
the record it edits into a known, rule-clean state (dates relative to the Dagtekening, see
`rule_doc`), then changes it. Names read `RULE:kind:what`: a `break` document breaks RULE, an
`edge` document sits just on the allowed side of one of its conditions, a `lexical` document
uses an unusual but valid lexical form (padded date, leading zero) where the rule XSLT compares
text rather than values. Other rules may fire as well; the differential test compares sets.
"""

# ruff: noqa: E501  (the case tables keep one case per line, so they read as tables)

from __future__ import annotations

import copy
from collections.abc import Iterator

from lxml import etree

from hub.messagetypes import MessageType
from tests.conformance.rule_doc import (
    DROP,
    Doc,
    Missing,
    Mutation,
    all_contacts_soort,
    broken_bsn,
    copy_last,
    on,
    on_last,
    steps,
)

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_TEL = {
    "Telefoon/Telefoon01/Telefoonnummer": "0201234567",
    "Telefoon/Telefoon01/Landnummer": "0031",
}
_NO_ADRES_NL = {"Adres/Postcode": DROP, "Adres/LandCode": DROP}
_2020 = {"Ingangsdatum": "2020-01-01", "Einddatum": "2020-12-31"}


def _same_toewijzingnummer(prefix: str) -> Mutation:
    """Give ToegewezenProduct 2 (a later, different product) the ToewijzingNummer of the first."""

    def mutate(doc: Doc) -> None:
        first = doc.tp(0)
        second = doc.tp(1)
        doc.edit(second, {"Ingangsdatum": "@+400", "Einddatum": "@+500"})
        number = doc.child(first, "ToewijzingNummer").text or "1"
        doc.child(second, "ToewijzingNummer").text = prefix + number.strip()

    return mutate


def _client_rules() -> list[tuple[str, Mutation]]:
    """Rules every message type checks on its Client and Header."""
    geb = "Geboortedatum/Datum"
    use = "Geboortedatum/DatumGebruik"
    return [
        ("CS002:break:bsn-last-digit", broken_bsn),
        ("CS002:edge:bsn-all-zeros", on("client", {"Bsn": "000000000"})),
        ("CS002:break:bsn-only-last-digit", on("client", {"Bsn": "000000005"})),
        ("CS002:edge:bsn-other-valid", on("client", {"Bsn": "111222333"})),
        ("CS139:edge:gebruik1-first-of-month", on("client", {geb: "1970-05-01", use: "1"})),
        ("CS139:break:gebruik1-day-02", on("client", {geb: "1970-05-02", use: "1"})),
        ("CS139:edge:gebruik2-first-of-year", on("client", {geb: "1970-01-01", use: "2"})),
        ("CS139:break:gebruik2-february", on("client", {geb: "1970-02-01", use: "2"})),
        ("CS139:break:gebruik2-day-02", on("client", {geb: "1970-01-02", use: "2"})),
        ("CS139:edge:gebruik3-1900", on("client", {geb: "1900-01-01", use: "3"})),
        ("CS139:break:gebruik3-1950", on("client", {geb: "1950-01-01", use: "3"})),
        ("CS139:lexical:datum-trailing-space", on("client", {geb: "1970-01-01 ", use: "2"})),
        ("TR002:edge:exactly-120-years", on("client", {geb: "@-120y", use: DROP})),
        ("TR002:break:120-years-and-a-day", on("client", {geb: "@-120y-1", use: DROP})),
        ("TR002:break:1900-without-gebruik", on("client", {geb: "1900-01-01", use: DROP})),
        ("TR002:break:1900-gebruik2", on("client", {geb: "1900-01-01", use: "2"})),
        ("TR134:edge:geboortedatum-on-dagtekening", on("client", {geb: "@+0", use: DROP})),
        ("TR134:break:geboortedatum-after-dagtekening", on("client", {geb: "@+1", use: DROP})),
        ("TR135:break:dagtekening-far-future", on("header", {"Dagtekening": "2999-12-31"})),
    ]


def _wmo301() -> list[tuple[str, Mutation]]:
    tp2 = {"Product/Code": "ZZ900"}  # the second ToegewezenProduct, same product as the first
    return [
        # Client: name and communication
        ("CD007:edge:tolk-with-taal", on("client", {"Communicatie/Vorm": "1", "Communicatie/Taal": "Pools"})),
        ("CD007:break:tolk-without-taal", on("client", {"Communicatie/Vorm": "1", "Communicatie/Taal": DROP})),
        ("CD007:break:taal-without-tolk", on("client", {"Communicatie/Vorm": "2", "Communicatie/Taal": "Pools"})),
        ("CD007:edge:no-tolk-no-taal", on("client", {"Communicatie/Vorm": "3", "Communicatie/Taal": DROP})),
        ("CS050:edge:partner-gebruik4", on("client", {"Naam/Partnernaam/Achternaam": "Jansen", "Naam/NaamGebruik": "4"})),
        ("CS050:break:partner-gebruik5", on("client", {"Naam/Partnernaam/Achternaam": "Jansen", "Naam/NaamGebruik": "5"})),
        ("CS050:edge:no-partner-gebruik1", on("client", {"Naam/Partnernaam": DROP, "Naam/NaamGebruik": "1"})),
        ("CS050:break:no-partner-gebruik2", on("client", {"Naam/Partnernaam": DROP, "Naam/NaamGebruik": "2"})),
        ("CS050:edge:relatie-no-partner-gebruik6", on("relatie", {"Naam/Partnernaam": DROP, "Naam/NaamGebruik": "6"})),
        ("CS050:break:relatie-no-partner-gebruik3", on("relatie", {"Naam/Partnernaam": DROP, "Naam/NaamGebruik": "3"})),
        ("CS318:break:client-no-partner-gebruik6", on("client", {"Naam/Partnernaam": DROP, "Naam/NaamGebruik": "6"})),
        ("CS318:break:client-partner-gebruik6", on("client", {"Naam/Partnernaam/Achternaam": "Jansen", "Naam/NaamGebruik": "6"})),
        ("TR134:break:relatie-geboortedatum-after-dagtekening", on("relatie", {"Geboortedatum/Datum": "@+1"})),
        ("TR002:break:relatie-121-years", on("relatie", {"Geboortedatum/Datum": "@-121y"})),
        ("CS139:break:relatie-gebruik1", on("relatie", {"Geboortedatum/Datum": "1980-03-04", "Geboortedatum/DatumGebruik": "1"})),
        # Contact and Adres
        ("CD005:break:postcode-without-landcode", on("contact", {"Adres/LandCode": DROP})),
        ("CD005:break:landcode-without-postcode", on("contact", {"Adres/Postcode": DROP, "Adres/LandCode": "BE"})),
        ("CD005:edge:neither", on("contact", {**_NO_ADRES_NL, **_TEL})),
        ("CD005:break:relatie-postcode-without-landcode", on("relatie", {"Contact/Adres/Huis/Huisnummer": "5", "Contact/Adres/Postcode": "1234AB", "Contact/Adres/LandCode": DROP})),
        ("CD009:break:periode-not-tijdelijk", on("contact", {"Periode/Begindatum": "@-10"})),
        ("CD009:edge:periode-tijdelijk", on("contact04", {"Periode/Begindatum": "@-10"})),
        ("CD009:break:relatie-periode", on("relatie", {"Contact/Soort": "02", "Contact/Periode/Begindatum": "@-3"})),
        ("CD025:break:nl-without-huis", on("contact", {"Adres/Huis": DROP, **_TEL})),
        ("CD025:edge:foreign-without-huis", on("contact", {"Adres/Huis": DROP, "Adres/LandCode": "BE", **_TEL})),
        ("CD034:break:verblijf-without-postcode", on("contact", {"Soort": "03", **_NO_ADRES_NL, **_TEL})),
        ("CD034:edge:correspondentie-without-postcode", on("contact", {"Soort": "02", **_NO_ADRES_NL, **_TEL})),
        ("CS089:edge:lower-case-letters", on("contact", {"Adres/Postcode": "1234ab"})),
        ("CS089:break:leading-zero", on("contact", {"Adres/Postcode": "0234AB"})),
        ("CS089:break:with-space", on("contact", {"Adres/Postcode": "1234 AB"})),
        ("CS089:break:trailing-space", on("contact", {"Adres/Postcode": "1234AB "})),
        ("CS089:break:three-digits", on("contact", {"Adres/Postcode": "123AB"})),
        ("CS089:break:five-digits", on("contact", {"Adres/Postcode": "12345A"})),
        ("CS089:edge:foreign-format", on("contact", {"Adres/Postcode": "0234AB", "Adres/LandCode": "DE"})),
        ("CS089:break:relatie-leading-zero", on("relatie", {"Contact/Adres/Huis/Huisnummer": "5", "Contact/Adres/Postcode": "0234AB", "Contact/Adres/LandCode": "NL"})),
        ("TR006:edge:huis-and-postcode", on("contact", {"Telefoon": DROP})),
        ("TR006:break:no-telefoon-no-huis", on("contact", {"Telefoon": DROP, "Adres/Huis": DROP, "Adres/LandCode": "BE"})),
        ("TR006:break:relatie-nothing", on("relatie", {"Contact/Soort": "02", "Contact/Adres": DROP, "Contact/Telefoon": DROP})),
        ("TR061:break:only-tijdelijk", all_contacts_soort("04")),
        ("TR061:edge:only-correspondentie", all_contacts_soort("02")),
        ("CS003:break:periode-end-before-begin", on("contact04", {"Periode/Begindatum": "@-1", "Periode/Einddatum": "@-2"})),
        ("CS003:edge:periode-one-day", on("contact04", {"Periode/Begindatum": "@-2", "Periode/Einddatum": "@-2"})),
        ("CS003:break:periode-end-without-begin", on("contact04", {"Periode/Begindatum": DROP, "Periode/Einddatum": "@-2"})),
        ("CS003:edge:periode-begin-only", on("contact04", {"Periode/Begindatum": "@-2", "Periode/Einddatum": DROP})),
        # ToegewezenProduct
        ("CS003:edge:tp-end-on-start", on("tp", {"Einddatum": "@-60"})),
        ("CS003:break:tp-end-before-start", on("tp", {"Einddatum": "@-61"})),
        ("CS003:lexical:tp-end-leading-space", on("tp", {"Einddatum": " @+300"})),
        ("TR134:edge:toewijzingsdatum-on-dagtekening", on("tp", {})),
        ("TR134:break:toewijzingsdatum-after-dagtekening", on("tp", {"Toewijzingsdatum": "@+1"})),
        ("CD041:break:code-without-omvang", on("tp", {"Omvang": DROP})),
        ("CD075:break:budget-without-einddatum", on("tp", {"Product/Code": DROP, "Omvang": DROP, "Budget": "1000", "Einddatum": DROP})),
        ("CD075:edge:budget-with-einddatum", on("tp", {"Product/Code": DROP, "Omvang": DROP, "Budget": "1000"})),
        ("CD076:break:per-week-without-einddatum", on("tp", {"Omvang/Frequentie": "2", "Einddatum": DROP})),
        ("CD076:edge:per-week-with-einddatum", on("tp", {"Omvang/Frequentie": "2"})),
        ("CD076:edge:per-maand-without-einddatum", on("tp", {"Omvang/Frequentie": "4", "Einddatum": DROP})),
        ("CD078:break:budget-and-omvang", on("tp", {"Budget": "500"})),
        ("CD077:break:budget-and-omvang-no-code", on("tp", {"Product/Code": DROP, "Budget": "500"})),
        ("CD079:break:no-product-no-budget", on("tp", {"Product": DROP, "Omvang": DROP})),
        ("CD079:edge:budget-without-product", on("tp", {"Product": DROP, "Omvang": DROP, "Budget": "100"})),
        ("CD080:edge:omvang-no-code-ending-2020", on("tp", {"Product/Code": DROP, **_2020})),
        ("CD080:break:omvang-no-code-ending-2021", on("tp", {"Product/Code": DROP, "Ingangsdatum": "2020-01-01", "Einddatum": "2021-01-01"})),
        ("CD080:break:omvang-no-code-open", on("tp", {"Product/Code": DROP, "Einddatum": DROP})),
        ("CS335:edge:verwijderd-one-day", on("tp", {"RedenWijziging": "13", "Einddatum": "@-60"})),
        ("CS335:break:verwijderd-longer", on("tp", {"RedenWijziging": "13"})),
        ("CS335:break:verwijderd-without-einddatum", on("tp", {"RedenWijziging": "13", "Einddatum": DROP})),
        ("CS335:lexical:verwijderd-padded-einddatum", on("tp", {"RedenWijziging": "13", "Einddatum": "@-60 "})),
        ("CS336:break:reden-01", on("tp", {"RedenWijziging": "01"})),
        ("CS336:edge:reden-02", on("tp", {"RedenWijziging": "02"})),
        ("CS338:break:etmaal-frequentie-1", on("tp", {"Omvang/Eenheid": "14"})),
        ("CS338:edge:etmaal-per-maand", on("tp", {"Omvang/Eenheid": "14", "Omvang/Frequentie": "4"})),
        ("CS338:edge:dagdeel-ending-2020", on("tp", {"Omvang/Eenheid": "16", **_2020})),
        ("CS338:break:euro-ending-2021", on("tp", {"Omvang/Eenheid": "83", "Ingangsdatum": "2020-01-01", "Einddatum": "2021-01-01"})),
        ("CS338:break:stuks-open", on("tp", {"Omvang/Eenheid": "84", "Einddatum": DROP})),
        # TR302: two ToegewezenProducten; the second is a clean copy with its own number
        ("TR302:break:same-product-same-period", steps(on("tp", {}), on("tp", tp2, 1))),
        ("TR302:edge:same-product-next-day", steps(on("tp", {}), on("tp", {**tp2, "Ingangsdatum": "@+301", "Einddatum": "@+400"}, 1))),
        ("TR302:break:same-product-touching", steps(on("tp", {}), on("tp", {**tp2, "Ingangsdatum": "@+300", "Einddatum": "@+400"}, 1))),
        ("TR302:break:same-product-touching-before", steps(on("tp", {}), on("tp", {**tp2, "Ingangsdatum": "@-100", "Einddatum": "@-60"}, 1))),
        ("TR302:edge:same-product-day-before", steps(on("tp", {}), on("tp", {**tp2, "Ingangsdatum": "@-100", "Einddatum": "@-61"}, 1))),
        ("TR302:edge:other-code", steps(on("tp", {}), on("tp", {}, 1))),
        ("TR302:break:category-level", steps(on("tp", {}), on("tp", {"Product/Code": DROP, "Omvang": DROP}, 1))),
        ("TR302:break:no-product", steps(on("tp", {}), on("tp", {"Product": DROP, "Omvang": DROP, "Budget": "100"}, 1))),
        ("TR302:edge:other-category", steps(on("tp", {}), on("tp", {"Product/Categorie": "04", "Product/Code": DROP, "Omvang": DROP}, 1))),
        ("TR302:edge:hulpmiddelen", steps(on("tp", {"Product/Categorie": "11"}), on("tp", {**tp2, "Product/Categorie": "11"}, 1))),
        ("TR302:break:both-open", steps(on("tp", {"Einddatum": DROP}), on("tp", {**tp2, "Einddatum": DROP}, 1))),
        ("TR302:break:open-then-later", steps(on("tp", {"Einddatum": DROP}), on("tp", {**tp2, "Ingangsdatum": "@+500", "Einddatum": "@+600"}, 1))),
        ("TR302:edge:ended-then-open", steps(on("tp", {"Einddatum": "@-1"}), on("tp", {**tp2, "Ingangsdatum": "@+0", "Einddatum": DROP}, 1))),
        ("TR302:edge:first-verwijderd", steps(on("tp", {"RedenWijziging": "13", "Einddatum": "@-60"}), on("tp", tp2, 1))),
        ("TR302:edge:second-vervallen", steps(on("tp", {}), on("tp", {**tp2, "RedenWijziging": "01", "Einddatum": "@-60"}, 1))),
        # TR101: duplicate records
        ("TR101:break:same-toewijzingnummer", _same_toewijzingnummer("")),
        ("TR101:lexical:toewijzingnummer-leading-zero", _same_toewijzingnummer("0")),
        ("TR101:break:contact-same-soort", steps(on("contact", {}), copy_last(("Contactgegevens",), "Contact"))),
        ("TR101:edge:contact-other-soort", steps(on("contact", {"Soort": "01"}), copy_last(("Contactgegevens",), "Contact"), on_last(("Contactgegevens",), "Contact", {"Soort": "02"}))),
        ("TR101:break:relatie-same-nummer", steps(on("relatie", {}), copy_last(("Relaties",), "Relatie"))),
        ("TR101:edge:relatie-other-nummer", steps(on("relatie", {}), copy_last(("Relaties",), "Relatie"), on_last(("Relaties",), "Relatie", {"Nummer": "R-anders"}))),
    ]  # fmt: skip


def _levering_rules(stop: bool) -> list[tuple[str, Mutation]]:
    box = ("StopProducten",) if stop else ("StartProducten",)
    name = "StopProduct" if stop else "StartProduct"
    dated = "Einddatum" if stop else "Begindatum"
    mutations: list[tuple[str, Mutation]] = [
        ("CS058:break:status-2", on("levering", {"StatusAanlevering": "2"})),
        ("CS058:break:status-9", on("levering", {"StatusAanlevering": "9"})),
        ("CS058:edge:status-3", on("levering", {"StatusAanlevering": "3"})),
        (f"TR134:edge:{dated.lower()}-on-dagtekening", on("levering", {dated: "@+0"})),
        (f"TR134:break:{dated.lower()}-after-dagtekening", on("levering", {dated: "@+1"})),
        ("TR101:break:identical", steps(on("levering", {}), copy_last(box, name))),
        ("TR101:edge:other-product", steps(on("levering", {}), on("levering", {}, 1))),
        ("TR101:break:identical-without-nummer", steps(on("levering", {"ToewijzingNummer": DROP}), copy_last(box, name))),
        ("TR101:edge:second-without-nummer", steps(on("levering", {}), copy_last(box, name), on_last(box, name, {"ToewijzingNummer": DROP}))),
        ("TR101:edge:second-without-code", steps(on("levering", {}), copy_last(box, name), on_last(box, name, {"Product/Code": DROP}))),
        ("TR101:edge:other-begindatum", steps(on("levering", {}), copy_last(box, name), on_last(box, name, {"Begindatum": "@-7"}))),
    ]  # fmt: skip
    if stop:
        mutations += [
            ("TR018:edge:one-day", on("levering", {"Begindatum": "@-5", "Einddatum": "@-5"})),
            ("TR018:break:end-before-begin", on("levering", {"Begindatum": "@-5", "Einddatum": "@-6"})),
            ("TR101:edge:other-reden", steps(on("levering", {"RedenBeeindiging": "02"}), copy_last(box, name), on_last(box, name, {"RedenBeeindiging": "19"}))),
        ]  # fmt: skip
    return mutations


MUTATIONS: dict[MessageType, list[tuple[str, Mutation]]] = {
    MessageType.WMO301: _client_rules() + _wmo301(),
    MessageType.WMO305: _client_rules() + _levering_rules(stop=False),
    MessageType.WMO307: _client_rules() + _levering_rules(stop=True),
}


def rule_mutations(base: bytes, message_type: MessageType) -> Iterator[tuple[str, bytes]]:
    """(name, document) for every rule mutation that applies to a base of this message type."""
    root = etree.fromstring(base, _PARSER)
    for name, mutate in MUTATIONS.get(message_type, ()):
        tree = copy.deepcopy(root)
        try:
            mutate(Doc(tree, message_type))
        except Missing:
            continue  # the base lacks a record this mutation needs
        yield name, etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
