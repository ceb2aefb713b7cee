"""The parts of a schema-valid WMO301/305/307 that the rules read, located once per message.

Rules run only on XSD-valid documents, so every element sits where the message's XSD sequence
puts it: required elements are taken by position and only optional ones are told apart by tag.
Every element touched costs lxml a Python proxy and every tag read a new string, so the view
touches only what the rules need and reads as few tags as it can: this is the rule layer's
hot path. Comments and processing instructions are the only children XSD validation ignores,
so a document that has any is first copied without them (line numbers are kept).
"""

from __future__ import annotations

import copy
from typing import NamedTuple

from lxml import etree

from hub.messagetypes import BASIS_NS, MessageType
from hub.rules.base import RuleContext

Element = etree._Element
#: Builds a NamedTuple from a tuple without its Python-level __new__ (a third of the cost).
_new = tuple.__new__


class Geboortedatum(NamedTuple):
    """CDT_Geboortedatum: Datum (and its YYYYMMDD key) and, when partly unknown, DatumGebruik."""

    datum: Element
    key: int | None
    datum_gebruik: Element | None


class Naam(NamedTuple):
    """CDT_VolledigeNaam (301) or CDT_VerkorteNaam (305/307, without NaamGebruik)."""

    element: Element
    partnernaam: Element | None
    naam_gebruik: Element | None


class Communicatie(NamedTuple):
    element: Element
    vorm: Element
    taal: Element | None


class Adres(NamedTuple):
    element: Element
    huis: Element | None
    postcode: Element | None
    landcode: Element | None


class Periode(NamedTuple):
    element: Element
    begindatum: Element | None
    einddatum: Element | None


class Contact(NamedTuple):
    """A WMO301 Contact, of the Client (Contactgegevens) or of a Relatie."""

    element: Element
    soort: Element
    adres: Adres | None
    telefoon: Element | None
    periode: Periode | None


class Relatie(NamedTuple):
    element: Element
    nummer: Element
    geboortedatum: Geboortedatum | None
    naam: Naam
    contact: Contact


class ToegewezenProduct(NamedTuple):
    """A WMO301 ToegewezenProduct with the fields the rules use (dates also as YYYYMMDD keys)."""

    element: Element
    toewijzing_nummer: Element
    product: Element | None
    categorie: Element | None
    code: Element | None
    toewijzingsdatum: Element
    ingangsdatum: Element
    ingang: int | None
    einddatum: Element | None
    eind: int | None
    reden_wijziging: Element | None
    omvang: Element | None
    eenheid: Element | None
    frequentie: Element | None
    budget: Element | None


class Levering(NamedTuple):
    """A WMO305 StartProduct or WMO307 StopProduct (einddatum and reden only in a stop)."""

    element: Element
    toewijzing_nummer: Element | None
    categorie: Element | None
    code: Element | None
    begindatum: Element
    einddatum: Element | None
    reden_beeindiging: Element | None
    status_aanlevering: Element


class Bericht(NamedTuple):
    """One message as the rules see it; lists are empty where the message type has none."""

    dagtekening: Element
    dag: int | None  # the Dagtekening as a YYYYMMDD key
    bsn: Element
    geboortedatum: Geboortedatum
    naam: Naam
    communicatie: Communicatie | None
    relaties: list[Relatie]
    contactgegevens: Element | None
    contacten: list[Contact]  # the Client's Contactgegevens
    producten: list[ToegewezenProduct]
    leveringen: list[Levering]
    alle_contacten: list[Contact]  # those of the Relaties first, then contacten (document order)
    geboortedata: list[Geboortedatum]  # the Client's, then those of the Relaties


def bericht(ctx: RuleContext) -> Bericht:
    """The message view, built on first use and shared by every rule of this message."""
    view: Bericht | None = ctx.view
    if view is None:
        view = ctx.view = _checked_build(ctx)
    return view


def _checked_build(ctx: RuleContext) -> Bericht:
    try:
        return _build(ctx)
    except (IndexError, AttributeError, TypeError, KeyError) as e:
        # Only reachable for a document that is not schema-valid (which may also just be misread):
        # the validator never runs the rules on one, so this is a caller's mistake.
        raise ValueError(
            f"the {ctx.message_type.name} rules need a schema-valid document "
            f"(its structure did not match the XSD sequence: {type(e).__name__})"
        ) from e


def text(el: Element | None) -> str:
    """An element's value without surrounding whitespace ('' when absent)."""
    if el is None:
        return ""
    value = el.text
    return value.strip() if value else ""


def date_key(el: Element | None) -> int | None:
    """A date as the number YYYYMMDD, so dates compare as numbers (as the rule XSLT does)."""
    if el is None or el.text is None:
        return None
    try:
        return int(el.text.replace("-", ""))
    except ValueError:
        return None


# --- building ----------------------------------------------------------------------------
#
# Each builder names the XSD sequence it reads. When a sequence holds every optional element
# its positions are fixed and no tag is read at all; otherwise only the optional places are.


def _b(local: str) -> str:
    return f"{{{BASIS_NS}}}{local}"


_PARTNERNAAM = _b("Partnernaam")
_HUIS, _POSTCODE, _LANDCODE = _b("Huis"), _b("Postcode"), _b("LandCode")
_BEGINDATUM = _b("Begindatum")


class _Tags:
    """Clark names in one message namespace, computed once per message type."""

    def __init__(self, mt: MessageType) -> None:
        t = mt.tag
        self.communicatie, self.relaties = t("Communicatie"), t("Relaties")
        self.geboortedatum = t("Geboortedatum")
        self.adres, self.telefoon, self.periode = t("Adres"), t("Telefoon"), t("Periode")
        self.referentie, self.product = t("ReferentieAanbieder"), t("Product")
        self.einddatum, self.reden_wijziging = t("Einddatum"), t("RedenWijziging")
        self.omvang, self.budget = t("Omvang"), t("Budget")
        self.toewijzing_nummer = t("ToewijzingNummer")


_TAGS = {mt: _Tags(mt) for mt in (MessageType.WMO301, MessageType.WMO305, MessageType.WMO307)}


def _build(ctx: RuleContext) -> Bericht:
    root = ctx.root if ctx.clean else _without_comments(ctx.root)
    tags = _TAGS[ctx.message_type]
    header, client = root[0], root[len(root) - 1]
    # Header: BerichtCode, BerichtVersie, BerichtSubversie, Afzender, Ontvanger,
    # BerichtIdentificatie (Identificatie, Dagtekening), XsdVersie.
    dagtekening = header[5][1]
    dag = date_key(dagtekening)
    geboortedatum = _geboortedatum(client[1])
    if ctx.message_type is not MessageType.WMO301:
        # Client: Bsn, Geboortedatum, Geslacht, Naam, StartProducten | StopProducten.
        stop = ctx.message_type is MessageType.WMO307
        leveringen = [_levering(el, tags, stop) for el in client[4]]
        naam: Naam = _new(Naam, (client[3], None, None))
        return _new(
            Bericht,
            (dagtekening, dag, client[0], geboortedatum, naam, None, [], None, [], [],
             leveringen, [], [geboortedatum]),
        )  # fmt: skip
    # Client: Bsn, Geboortedatum, Geslacht, Naam, Communicatie?, JuridischeStatus?,
    # WettelijkeVertegenwoordiging?, Commentaar?, Relaties?, Contactgegevens, ToegewezenProducten.
    size = len(client)
    first = last = None
    if size == 11:
        first, last = client[4], client[8]
    elif size > 6:
        first, last = client[4], client[size - 3]
        if first.tag != tags.communicatie:
            first = None
        if last.tag != tags.relaties:
            last = None
    communicatie = None
    if first is not None:
        # Vorm, Taal?
        communicatie = _new(Communicatie, (first, first[0], first[1] if len(first) > 1 else None))
    relaties = [] if last is None else [_relatie(el, tags) for el in last]
    contactgegevens = client[size - 2]
    contacten = [_contact(el, tags) for el in contactgegevens]
    geboortedata = [geboortedatum]
    alle_contacten = contacten
    if relaties:
        alle_contacten = [relatie.contact for relatie in relaties] + contacten
        geboortedata += [r.geboortedatum for r in relaties if r.geboortedatum is not None]
    producten = [_toegewezen_product(el, tags) for el in client[size - 1]]
    return _new(
        Bericht,
        (dagtekening, dag, client[0], geboortedatum, _volledige_naam(client[3]), communicatie,
         relaties, contactgegevens, contacten, producten, [], alle_contacten, geboortedata),
    )  # fmt: skip


def _without_comments(root: Element) -> Element:
    """The root itself, or a copy without comments and processing instructions if it has any."""
    if next(root.iter(etree.Comment, etree.ProcessingInstruction), None) is None:
        return root
    clean = copy.deepcopy(root)
    etree.strip_tags(clean, etree.Comment, etree.ProcessingInstruction)
    return clean


def _geboortedatum(el: Element) -> Geboortedatum:
    # Datum, DatumGebruik?
    datum = el[0]
    return _new(Geboortedatum, (datum, date_key(datum), el[1] if len(el) > 1 else None))


def _volledige_naam(el: Element) -> Naam:
    # Geslachtsnaam, Partnernaam?, Voornamen?, Voorletters?, NaamGebruik
    size = len(el)
    partner = None
    if size == 5 or (size > 2 and el[1].tag == _PARTNERNAAM):
        partner = el[1]
    return _new(Naam, (el, partner, el[size - 1]))


def _relatie(el: Element, tags: _Tags) -> Relatie:
    # Nummer, Volgorde?, Soort, Geboortedatum?, Geslacht?, Naam, Contact
    size = len(el)
    geboortedatum = None
    if size == 7:
        geboortedatum = _geboortedatum(el[3])
    else:
        for index in range(2, size - 2):
            child = el[index]
            if child.tag == tags.geboortedatum:
                geboortedatum = _geboortedatum(child)
                break
    naam = _volledige_naam(el[size - 2])
    return _new(Relatie, (el, el[0], geboortedatum, naam, _contact(el[size - 1], tags)))


def _contact(el: Element, tags: _Tags) -> Contact:
    # Soort, Adres?, Organisatie?, Telefoon?, Emailadres?, Periode?
    if len(el) == 6:
        return _new(Contact, (el, el[0], _adres(el[1]), el[3], _periode(el[5])))
    adres = periode = telefoon = None
    for child in el:  # the first is Soort, which matches none of these
        tag = child.tag
        if tag == tags.adres:
            adres = _adres(child)
        elif tag == tags.telefoon:
            telefoon = child
        elif tag == tags.periode:
            periode = _periode(child)
    return _new(Contact, (el, el[0], adres, telefoon, periode))


def _adres(el: Element) -> Adres:
    # Huis?, Postcode?, Straatnaam?, Plaatsnaam?, LandCode?
    if len(el) == 5:
        return _new(Adres, (el, el[0], el[1], el[4]))
    huis = postcode = landcode = None
    for child in el:
        tag = child.tag
        if tag == _HUIS:
            huis = child
        elif tag == _POSTCODE:
            postcode = child
        elif tag == _LANDCODE:
            landcode = child
    return _new(Adres, (el, huis, postcode, landcode))


def _periode(el: Element) -> Periode:
    # Begindatum?, Einddatum?
    begin = eind = None
    for child in el:
        if child.tag == _BEGINDATUM:
            begin = child
        else:
            eind = child
    return _new(Periode, (el, begin, eind))


def _toegewezen_product(el: Element, tags: _Tags) -> ToegewezenProduct:
    # ToewijzingNummer, ReferentieAanbieder?, Product?, Toewijzingsdatum, Toewijzingstijd,
    # Ingangsdatum, Einddatum?, RedenWijziging?, Omvang?, Budget?, Commentaar?
    product = einddatum = reden = omvang = budget = None
    if len(el) == 11:
        product, index = el[2], 3
        einddatum, reden, omvang, budget = el[6], el[7], el[8], el[9]
    else:
        index = 1
        tag = el[1].tag
        if tag == tags.referentie:
            index = 2
            tag = el[2].tag
        if tag == tags.product:
            product = el[index]
            index += 1
        for position in range(index + 3, len(el)):
            child = el[position]
            tag = child.tag
            if tag == tags.einddatum:
                einddatum = child
            elif tag == tags.reden_wijziging:
                reden = child
            elif tag == tags.omvang:
                omvang = child
            elif tag == tags.budget:
                budget = child
    categorie = code = eenheid = frequentie = None
    if product is not None:
        # Categorie, Code?
        categorie = product[0]
        code = product[1] if len(product) > 1 else None
    if omvang is not None:
        # Volume, Eenheid, Frequentie
        eenheid, frequentie = omvang[1], omvang[2]
    ingangsdatum = el[index + 2]
    return _new(
        ToegewezenProduct,
        (el, el[0], product, categorie, code, el[index], ingangsdatum, date_key(ingangsdatum),
         einddatum, date_key(einddatum), reden, omvang, eenheid, frequentie, budget),
    )  # fmt: skip


def _levering(el: Element, tags: _Tags, stop: bool) -> Levering:
    # StartProduct: ToewijzingNummer?, Product?, ToewijzingIngangsdatum?, Begindatum,
    # StatusAanlevering. A StopProduct has RedenBeeindiging and Einddatum after Begindatum.
    size = len(el)
    nummer = categorie = code = None
    for index in range(size - (4 if stop else 2)):
        child = el[index]
        tag = child.tag
        if tag == tags.toewijzing_nummer:
            nummer = child
        elif tag == tags.product:
            # Categorie, Code?
            categorie = child[0]
            code = child[1] if len(child) > 1 else None
    if stop:
        begin, reden, eind = el[size - 4], el[size - 3], el[size - 2]
        return _new(Levering, (el, nummer, categorie, code, begin, eind, reden, el[size - 1]))
    begin = el[size - 2]
    return _new(Levering, (el, nummer, categorie, code, begin, None, None, el[size - 1]))
