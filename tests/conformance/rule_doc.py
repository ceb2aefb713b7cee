"""Editing an iWmo document in XSD order, with its records put into a rule-clean state first.

Used by `rule_mutations` (and the rule unit tests) to make schema-valid documents that break or
just keep one rule. An edit maps a path below a record to a value: a literal, `DROP` to remove
the element, or a relative date '@±Ny±D' (N years, then D days from the Dagtekening).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from lxml import etree

from hub.messagetypes import BASIS_NS, MessageType

DROP = object()
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_RELATIVE = re.compile(r"@(?:([+-]\d+)y)?([+-]\d+)?$")
_M, _B = "m", "b"  # children in the message namespace or in the basisschema namespace
#: Child order per parent (XSD sequences), with the namespace of the children.
_SEQUENCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Client301": (_M, ("Bsn", "Geboortedatum", "Geslacht", "Naam", "Communicatie",
                       "JuridischeStatus", "WettelijkeVertegenwoordiging", "Commentaar",
                       "Relaties", "Contactgegevens", "ToegewezenProducten")),
    "Relaties": (_M, ("Relatie",)),
    "Geboortedatum": (_B, ("Datum", "DatumGebruik")),
    "Naam": (_B, ("Geslachtsnaam", "Partnernaam", "Voornamen", "Voorletters", "NaamGebruik")),
    "Partnernaam": (_B, ("Achternaam", "Voorvoegsel")),
    "Geslachtsnaam": (_B, ("Achternaam", "Voorvoegsel")),
    "Communicatie": (_B, ("Vorm", "Taal")),
    "Relatie": (_M, ("Nummer", "Volgorde", "Soort", "Geboortedatum", "Geslacht", "Naam",
                     "Contact")),
    "Contact": (_M, ("Soort", "Adres", "Organisatie", "Telefoon", "Emailadres", "Periode")),
    "Adres": (_B, ("Huis", "Postcode", "Straatnaam", "Plaatsnaam", "LandCode")),
    "Huis": (_B, ("Huisnummer", "Huisletter", "HuisnummerToevoeging", "AanduidingWoonadres")),
    "Telefoon": (_B, ("Telefoon01", "Telefoon02")),
    "Telefoon01": (_B, ("Telefoonnummer", "Landnummer")),
    "Periode": (_B, ("Begindatum", "Einddatum")),
    "ToegewezenProduct": (_M, ("ToewijzingNummer", "ReferentieAanbieder", "Product",
                               "Toewijzingsdatum", "Toewijzingstijd", "Ingangsdatum",
                               "Einddatum", "RedenWijziging", "Omvang", "Budget",
                               "Commentaar")),
    "Product": (_B, ("Categorie", "Code")),
    "Omvang": (_B, ("Volume", "Eenheid", "Frequentie")),
    "StartProduct": (_M, ("ToewijzingNummer", "Product", "ToewijzingIngangsdatum",
                          "Begindatum", "StatusAanlevering")),
    "StopProduct": (_M, ("ToewijzingNummer", "Product", "ToewijzingIngangsdatum",
                         "Begindatum", "RedenBeeindiging", "Einddatum", "StatusAanlevering")),
}  # fmt: skip

Edits = dict[str, Any]


class Missing(LookupError):
    """The base document lacks a record a mutation needs; that mutation is skipped."""


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


class Doc:
    """One document being mutated, with its records put into a rule-clean state on request."""

    def __init__(self, root: etree._Element, message_type: MessageType) -> None:
        self.root, self.mt = root, message_type
        self.client = self.child(root, "Client")
        self.header_id = self.child(self.child(root, "Header"), "BerichtIdentificatie")
        self.dagtekening = self.child(self.header_id, "Dagtekening")
        self.dag = dt.date.fromisoformat((self.dagtekening.text or "").strip())

    # --- navigation and editing ---------------------------------------------------------

    def child(self, parent: etree._Element, local: str) -> etree._Element:
        found = next((c for c in parent if isinstance(c.tag, str) and _local(c) == local), None)
        if found is None:
            raise Missing(f"{_local(parent)} has no {local}")
        return found

    def children(self, parent: etree._Element, local: str) -> list[etree._Element]:
        return [c for c in parent if isinstance(c.tag, str) and _local(c) == local]

    def put(self, parent: etree._Element, local: str) -> etree._Element:
        """The child `local` of `parent`, created in XSD order when absent."""
        existing = self.children(parent, local)
        if existing:
            return existing[0]
        key = _local(parent)
        if key == "Client" and self.mt is MessageType.WMO301:
            key = "Client301"
        kind, order = _SEQUENCES[key]
        ns = self.mt.namespace if kind == _M else BASIS_NS
        made = etree.Element(f"{{{ns}}}{local}")
        later = order[order.index(local) + 1 :]
        following = next((c for c in parent if isinstance(c.tag, str) and _local(c) in later), None)
        if following is None:
            parent.append(made)
        else:
            following.addprevious(made)
        return made

    def edit(self, target: etree._Element, edits: Edits) -> None:
        for path, value in edits.items():
            *steps, last = path.split("/")
            parent = target
            for step in steps:
                parent = self.put(parent, step)
            if value is DROP:
                for el in self.children(parent, last):
                    parent.remove(el)
            else:
                self.put(parent, last).text = self.value(value)

    def value(self, value: Any) -> str:
        """A literal as text, or a relative date '@±Ny±D' (surrounding spaces are kept)."""
        if not isinstance(value, str):
            return str(value)
        match = _RELATIVE.match(value.strip())
        if match is None:
            return value
        years, days = int(match.group(1) or 0), int(match.group(2) or 0)
        base = self.dag
        try:
            base = base.replace(year=base.year + years)
        except ValueError:  # 29 February in a year without it
            base = base.replace(year=base.year + years, day=28)
        return value.replace(value.strip(), (base + dt.timedelta(days=days)).isoformat())

    # --- records in a clean state ---------------------------------------------------------

    def tp(self, index: int = 0) -> etree._Element:
        """ToegewezenProduct `index`, cleaned; a copy of the first one is added if needed."""
        box = self.child(self.client, "ToegewezenProducten")
        products = self.children(box, "ToegewezenProduct")
        while len(products) <= index:
            extra = copy.deepcopy(products[0])
            numbers = [int(self.child(p, "ToewijzingNummer").text or 0) for p in products]
            self.child(extra, "ToewijzingNummer").text = str(max(numbers) + 1)
            products[-1].addnext(extra)
            products.append(extra)
        tp = products[index]
        self.edit(tp, {
            "Product/Categorie": "03", "Product/Code": f"ZZ9{index:02d}",
            "Toewijzingsdatum": "@+0", "Ingangsdatum": "@-60", "Einddatum": "@+300",
            "RedenWijziging": DROP, "Budget": DROP,
            "Omvang/Volume": "10", "Omvang/Eenheid": "01", "Omvang/Frequentie": "1",
        })  # fmt: skip
        return tp

    def contact(self) -> etree._Element:
        """The Client's first Contact, reachable by Huis and Postcode, without Periode."""
        box = self.child(self.client, "Contactgegevens")
        first = self.children(box, "Contact")[0]
        self.edit(first, {
            "Adres/Huis/Huisnummer": "1", "Adres/Postcode": "1234AB", "Adres/LandCode": "NL",
            "Periode": DROP,
        })  # fmt: skip
        return first

    def contact04(self) -> etree._Element:
        """A Client Contact with Soort 04 (tijdelijk adres), added when there is none."""
        box = self.child(self.client, "Contactgegevens")
        for contact in self.children(box, "Contact"):
            if self.child(contact, "Soort").text == "04":
                return contact
        contact = etree.SubElement(box, f"{{{self.mt.namespace}}}Contact")
        self.edit(contact, {"Soort": "04", "Telefoon/Telefoon01/Telefoonnummer": "0201234567",
                            "Telefoon/Telefoon01/Landnummer": "0031"})  # fmt: skip
        return contact

    def relatie(self) -> etree._Element:
        """The first Relatie, added when the Client has none."""
        relaties = self.put(self.client, "Relaties")
        existing = self.children(relaties, "Relatie")
        if existing:
            return existing[0]
        relatie = self.put(relaties, "Relatie")
        self.edit(relatie, {
            "Nummer": "R1", "Soort": "03", "Naam/Geslachtsnaam/Achternaam": "Relatie",
            "Naam/NaamGebruik": "1", "Contact/Soort": "02",
            "Contact/Telefoon/Telefoon01/Telefoonnummer": "0201234567",
            "Contact/Telefoon/Telefoon01/Landnummer": "0031",
        })  # fmt: skip
        return relatie

    def levering(self, index: int = 0) -> etree._Element:
        """StartProduct/StopProduct `index`, cleaned; a copy of the first is added if needed."""
        stop = self.mt is MessageType.WMO307
        name = "StopProduct" if stop else "StartProduct"
        box = self.child(self.client, "StopProducten" if stop else "StartProducten")
        items = self.children(box, name)
        while len(items) <= index:
            extra = copy.deepcopy(items[0])
            items[-1].addnext(extra)
            items.append(extra)
        item = items[index]
        edits: Edits = {
            "Product/Categorie": "03",
            "Product/Code": f"ZZ9{index:02d}",
            "ToewijzingNummer": str(900 + index),
            "StatusAanlevering": "1",
        }
        if stop:
            edits |= {"Begindatum": "@-30", "Einddatum": "@-5"}
        else:
            edits["Begindatum"] = "@-5"
        self.edit(item, edits)
        return item


Mutation = Callable[[Doc], None]


def on(target: str, edits: Edits, index: int = 0) -> Mutation:
    """A mutation that cleans one record and applies `edits` to it."""

    def mutate(doc: Doc) -> None:
        records: dict[str, Callable[[], etree._Element]] = {
            "tp": lambda: doc.tp(index),
            "contact": doc.contact,
            "contact04": doc.contact04,
            "relatie": doc.relatie,
            "levering": lambda: doc.levering(index),
            "client": lambda: doc.client,
            "header": lambda: doc.header_id,
        }
        doc.edit(records[target](), edits)

    return mutate


def steps(*parts: Mutation) -> Mutation:
    def mutate(doc: Doc) -> None:
        for step in parts:
            step(doc)

    return mutate


def broken_bsn(doc: Doc) -> None:
    bsn = doc.child(doc.client, "Bsn")
    digits = (bsn.text or "000000000").strip()
    bsn.text = digits[:8] + str((int(digits[8]) + 1) % 10)


def copy_last(box_path: tuple[str, ...], name: str) -> Mutation:
    """Append a copy of the last `name` record: a duplicate of it."""

    def mutate(doc: Doc) -> None:
        box = doc.client
        for step in box_path:
            box = doc.child(box, step)
        box.append(copy.deepcopy(doc.children(box, name)[-1]))

    return mutate


def on_last(box_path: tuple[str, ...], name: str, edits: Edits) -> Mutation:
    """Edit the last `name` record in the box at `box_path` below the Client."""

    def mutate(doc: Doc) -> None:
        box = doc.client
        for step in box_path:
            box = doc.child(box, step)
        doc.edit(doc.children(box, name)[-1], edits)

    return mutate


def all_contacts_soort(soort: str) -> Mutation:
    def mutate(doc: Doc) -> None:
        for contact in doc.children(doc.child(doc.client, "Contactgegevens"), "Contact"):
            doc.edit(contact, {"Soort": soort})

    return mutate
