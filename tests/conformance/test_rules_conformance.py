"""The project's rule layer against the official rule XSLT: the same rule IDs on every document.

For each XSD-valid document of the mutation corpus (the rules are defined on schema-valid
messages only; the official XSD decides), `Validator.rule_errors` and the official
TR-CD-CS_regels_WMO_3.2.xsl (run by lxml) must report the same set of rule IDs. Only the IDs
the XSLT can report are compared: TR135 (Dagtekening not in the future; an "externe bron" check
on the system date) and CS318 are not in it. `today` is pinned so date rules are deterministic.
Every other disagreement fails unless `ALLOWED` lists it with the reason the XSLT is wrong.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from hub.messagetypes import MessageType
from hub.validation import Validator
from tests.conformance.corpus import HEEN_TYPES, CorpusDoc

pytestmark = pytest.mark.reference

TODAY = dt.date(2030, 1, 1)
_RAPPORT = "{http://www.istandaarden.nl/validatie/1_1/rapport/schema}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_IDS = [mt.name for mt in HEEN_TYPES]


@dataclass(frozen=True)
class Allowed:
    """A known disagreement: documents whose name matches, the exact difference, and why.

    It must occur in the corpus of each of `types`, so that a stale entry is noticed.
    """

    name: re.Pattern[str]
    xslt_only: frozenset[str]
    hub_only: frozenset[str]
    types: frozenset[MessageType]
    reason: str


def _allowed(
    pattern: str, xslt_only: str, hub_only: str, reason: str, types: str = "301"
) -> Allowed:
    return Allowed(
        re.compile(pattern),
        frozenset(xslt_only.split()),
        frozenset(hub_only.split()),
        frozenset(MessageType.from_name(t) for t in types.split()),
        reason,
    )


#: Where the 2.10.5 XSLT is wrong, by corpus document name (see rule_mutations for the names).
ALLOWED: tuple[Allowed, ...] = (
    _allowed(
        r":rule:(CS050:edge:relatie-no-partner-gebruik6|CS318:break:client-no-partner-gebruik6)$",
        "CS050",
        "",
        "iWmo 3.2 CS050 reads 'without Partnernaam, NaamGebruik 1 or 6' (6 = niet-natuurlijk "
        "persoon; the Client is kept from 6 by CS318). The XSLT still tests the older 'only 1'; "
        "the iJw 3.2 XSLT, same rule text, tests '1,6' and has CS318.",
    ),
    _allowed(
        r":rule:CS335:break:verwijderd-without-einddatum$",
        "",
        "CS335",
        "CS335: RedenWijziging 13 only when Einddatum equals Ingangsdatum. The XSLT compares "
        "only when an Einddatum is present, so a 'deleted' open-ended assignment slips through.",
    ),
    _allowed(
        r":rule:TR101:lexical:toewijzingnummer-leading-zero$",
        "",
        "TR101",
        "ToewijzingNummer is xs:integer: '0101' and '101' are the same number. The XSLT "
        "compares the text and misses the duplicate.",
    ),
    # The XSLT's date checks (checkafter for CS003/TR018/TR134, checkYearsBetween for TR002)
    # take substring(text, 1, 10) of the later date. xs:date collapses whitespace and allows
    # years past 9999, so ' 2024-06-09' and '12023-01-01' are valid dates whose first ten
    # characters (' 2024-06-0', '12023-01-0') make a 7-digit number: every comparison fails.
    _allowed(
        r"(:rule:CS003:lexical:tp-end-leading-space"
        r"|:value:(pattern-met=' \d{4}|lexical-ok='\d{5})-\d\d-\d\d'@[^:]*/Einddatum)$",
        "CS003",
        "",
        "CS003 on a padded or five-digit-year Einddatum: the XSLT compares a truncated date.",
    ),
    _allowed(
        r":value:(pattern-met=' \d{4}|lexical-ok='\d{5})-\d\d-\d\d'"
        r"@[^:]*/StopProduct[^:]*/Einddatum$",
        "TR018",
        "",
        "TR018 on a padded or five-digit-year StopProduct/Einddatum: a truncated date again.",
        types="307",
    ),
    _allowed(
        r":value:pattern-met=' \d{4}-\d\d-\d\d'@/Bericht/Header/BerichtIdentificatie/Dagtekening$",
        "TR134",
        "",
        "TR134 on a padded Dagtekening: the XSLT compares every date with a truncated one.",
        types="301 305 307",
    ),
    _allowed(
        r":value:lexical-ok='\d{5}-\d\d-\d\d'@/Bericht/Header/BerichtIdentificatie/Dagtekening$",
        "TR134",
        "TR002",
        "Dagtekening in year 12023: the XSLT truncates it to 1202301, so it reports TR134 for "
        "every date and misses TR002 (a date of birth ten thousand years earlier).",
        types="301 305 307",
    ),
    _allowed(
        r"(:rule:CS139:lexical:datum-trailing-space"
        r"|:value:pattern-met='\d{4}-\d\d-\d\d '@[^:]*/Geboortedatum/Datum)$",
        "CS139",
        "",
        "CS139 compares the text after the first '-' of Datum with '01-01' (or the day with "
        "'01'); a valid Datum with a trailing space ('1978-01-01 ') fails that text test.",
        types="301 305 307",
    ),
    _allowed(
        r":rule:CS335:lexical:verwijderd-padded-einddatum$",
        "CS335",
        "",
        "xs:date collapses whitespace: Einddatum '2023-06-14 ' equals Ingangsdatum 2023-06-14; "
        "the XSLT compares the raw text.",
    ),
)


def _reportable(xslt_path: Path) -> frozenset[str]:
    """The rule IDs the XSLT can report: those it passes as pRule to a check."""
    stylesheet = etree.parse(str(xslt_path), _PARSER)
    ids = set()
    for param in stylesheet.iter("{http://www.w3.org/1999/XSL/Transform}with-param"):
        text = (param.text or "").strip()
        if param.get("name") == "pRule" and re.fullmatch(r"[A-Z]{2}\d{3}", text):
            ids.add(text)
    return frozenset(ids)


@pytest.fixture(scope="module")
def official_rules(reference_dir: Path) -> tuple[etree.XSLT, frozenset[str]]:
    path = reference_dir / "TR-CD-CS_regels_WMO_3.2.xsl"
    return etree.XSLT(etree.parse(str(path), _PARSER)), _reportable(path)


def _xslt_ids(transform: etree.XSLT, root: etree._Element) -> set[str]:
    report = transform(etree.ElementTree(root))
    return {(f.findtext(f"{_RAPPORT}Code") or "").strip() for f in report.iter(f"{_RAPPORT}Fout")}


def _explained(doc: CorpusDoc, xslt_only: set[str], hub_only: set[str]) -> Allowed | None:
    for entry in ALLOWED:
        if (
            entry.name.search(doc.name)
            and entry.xslt_only == xslt_only
            and entry.hub_only == hub_only
        ):
            return entry
    return None


def test_reportable_rules_are_the_ones_the_hub_implements(
    official_rules: tuple[etree.XSLT, frozenset[str]],
) -> None:
    """Every rule the XSLT reports on a 301/305/307 has a hub rule for that message type."""
    from hub.rules.base import registry

    on_these = {"CD005", "CD007", "CD009", "CD025", "CD034", "CD041", "CD075", "CD076", "CD077"}
    on_these |= {"CD078", "CD079", "CD080", "CS002", "CS003", "CS050", "CS058", "CS089"}
    on_these |= {"CS139", "CS335", "CS336", "CS338", "TR002", "TR006", "TR018", "TR061"}
    on_these |= {"TR101", "TR134", "TR302"}
    _, reportable = official_rules
    assert on_these <= reportable
    for rule_id in on_these:
        assert rule_id in registry, f"{rule_id} is not implemented"


@pytest.mark.parametrize("message_type", HEEN_TYPES, ids=_IDS)
def test_rule_layer_reports_the_rule_ids_of_the_official_xslt(
    message_type: MessageType,
    corpus_for: Callable[[MessageType], list[CorpusDoc]],
    official_xsd: Callable[[MessageType], etree.XMLSchema],
    official_rules: tuple[etree.XSLT, frozenset[str]],
    record_property: Callable[[str, object], None],
    rule_stats: dict[str, str],
) -> None:
    transform, reportable = official_rules
    schema = official_xsd(message_type)
    validator = Validator(today=TODAY)
    valid = agreed = explained = 0
    fired: set[str] = set()
    unexplained: list[str] = []
    used: set[Allowed] = set()
    for doc in corpus_for(message_type):
        root = etree.fromstring(doc.data, _PARSER)
        if not schema.validate(root):
            continue
        valid += 1
        hub = {e.rule for e in validator.rule_errors(root, message_type)} & reportable
        xslt = _xslt_ids(transform, root)
        fired |= xslt
        if hub == xslt:
            agreed += 1
            continue
        entry = _explained(doc, xslt - hub, hub - xslt)
        if entry is None:
            unexplained.append(
                f"{doc.name}: XSLT only {sorted(xslt - hub)}, hub only {sorted(hub - xslt)}"
            )
        else:
            explained += 1
            used.add(entry)
    record_property("schema_valid", valid)
    record_property("agreements", agreed)
    record_property("allowed_disagreements", explained)
    rule_stats[message_type.name] = (
        f"{valid} schema-valid corpus documents, {agreed} same rule IDs, "
        f"{explained} allowed disagreements, {len(unexplained)} unexplained; "
        f"XSLT rules seen: {' '.join(sorted(fired))}"
    )
    assert not unexplained, f"{len(unexplained)} disagreements:\n" + "\n".join(unexplained[:30])
    stale = [e.name.pattern for e in ALLOWED if message_type in e.types and e not in used]
    assert not stale, f"allowed disagreements that no longer occur: {stale}"
    # The corpus must exercise the rules, not only agree on clean documents.
    assert valid >= 30 and len(fired) >= (20 if message_type is MessageType.WMO301 else 4)
