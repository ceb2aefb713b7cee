"""Validation throughput: the hub's full validation (XSD + rules) against three baselines.

Runs in one process on one core, on the same messages:
  - hub:       hub.validation.Validator.check (parse, lxml XSD, every intra-message rule)
  - lxml XSD:  parse + lxml XSD only (the floor for the hub's XSD layer)
  - xmlschema: xmlschema's validation with the project's XSDs
  - XSLT:      the official rule XSLT (TR-CD-CS_regels_WMO_3.2.xsl) run with lxml, when the
               reference folder ../shared/iwmo-reference is present

Prints messages/s and ratios, and writes them to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.pop(0)  # benchmarks/ itself: its http.py would shadow the standard library's http
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import xmlschema
from lxml import etree

from benchmarks._common import REFERENCE, interleaved, machine, table, write_section
from hub.factory import sample_documents
from hub.messagetypes import MessageType
from hub.validation import Validator, compiled_schema, schema_path
from hub.xmlsafe import parse_bytes

TYPES = (MessageType.WMO301, MessageType.WMO305, MessageType.WMO307)


def schema_check(schema: etree.XMLSchema) -> Callable[[bytes], object]:
    return lambda data: schema.validate(parse_bytes(data))


def xmlschema_check(xs: xmlschema.XMLSchema) -> Callable[[bytes], object]:
    return lambda data: xs.is_valid(parse_bytes(data))


def xslt_check(xslt: etree.XSLT) -> Callable[[bytes], object]:
    return lambda data: xslt(parse_bytes(data))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200, help="documents per type")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per figure")
    parser.add_argument("--seconds", type=float, default=0.3, help="length of one round")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()

    xslt_path = REFERENCE / "bronnen" / "TR-CD-CS_regels_WMO_3.2.xsl"
    xslt = etree.XSLT(etree.parse(str(xslt_path))) if xslt_path.exists() else None
    validator = Validator(today=dt.date.today())
    rows = []
    example = REFERENCE / "bronnen" / "berichten" / "WMO301.xml"
    cases: list[tuple[str, MessageType, list[bytes]]] = [
        (mt.name, mt, sample_documents(mt, args.messages, seed=7)) for mt in TYPES
    ]
    if example.exists():
        # The official example 301, the document the reference figures were taken on.
        cases.insert(1, ("WMO301 (official example)", MessageType.WMO301, [example.read_bytes()]))
    for label, mt, docs in cases:
        assert all(validator.is_valid(d) for d in docs), "benchmark documents must be valid"
        schema = compiled_schema(mt)
        xs = xmlschema.XMLSchema(str(schema_path(mt)))
        methods = {
            "hub": validator.check,
            "xsd": schema_check(schema),
            "xmlschema": xmlschema_check(xs),
        }
        if xslt is not None:
            methods["xslt"] = xslt_check(xslt)
        rates = interleaved(docs, methods, rounds=args.rounds, round_seconds=args.seconds)
        hub_rate, xsd_rate, xs_rate = rates["hub"], rates["xsd"], rates["xmlschema"]
        xslt_rate = rates.get("xslt")
        size = sum(len(d) for d in docs) // len(docs)
        rows.append((label, size, hub_rate, xsd_rate, xs_rate, xslt_rate))
        print(
            f"{label}: hub {hub_rate:,.0f}/s | lxml XSD only {xsd_rate:,.0f}/s | "
            f"xmlschema {xs_rate:,.0f}/s | official XSLT "
            + (f"{xslt_rate:,.0f}/s" if xslt_rate else "n/a (no reference folder)"),
            flush=True,
        )

    def ratio(a: float, b: float | None) -> str:
        return f"{a / b:,.1f}x" if b else "n/a"

    body = table(
        (
            "message",
            "avg bytes",
            "hub (XSD+rules) msg/s",
            "lxml XSD only msg/s",
            "xmlschema msg/s",
            "official XSLT msg/s",
            "hub / XSLT",
            "hub / xmlschema",
            "hub / XSD only",
        ),
        [
            (
                label,
                f"{size:,}",
                f"{h:,.0f}",
                f"{x:,.0f}",
                f"{s:,.0f}",
                f"{t:,.0f}" if t else "n/a",
                ratio(h, t),
                ratio(h, s),
                f"{h / x:.2f}",
            )
            for label, size, h, x, s, t in rows
        ],
    )
    header = (
        "## Validation (`benchmarks/validate.py`)\n\n"
        f"One process, one core, {args.messages} factory documents per type (and the official "
        "example 301 on its own row), measured "
        f"{dt.date.today().isoformat()} on {machine()}. All four columns run in the same process "
        f"on the same documents, in {args.rounds} alternating rounds (best round counts); ratios "
        "compare the hub's full validation with each baseline.\n\n"
    )
    print(body)
    if not args.no_write:
        write_section("validate", header + body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
