"""Write the sample messages in samples/ (used by `make demo` and the CLI tests).

Valid messages come from the message factory; each invalid one breaks exactly one check,
named in samples/manifest.jsonl with the rule the hub must report.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.codec import to_xml
from hub.factory import MessageFactory
from hub.model import Wmo301

OUT = Path(__file__).resolve().parent.parent / "samples"


def _replace_line(message: Wmo301, **fields: object) -> Wmo301:
    products = message.client.toegewezen_producten
    first = dataclasses.replace(products[0], **fields)
    client = dataclasses.replace(message.client, toegewezen_producten=(first, *products[1:]))
    return dataclasses.replace(message, client=client)


def main() -> int:
    factory = MessageFactory(seed=2025)
    toewijzing = factory.wmo301(producten=2)
    start = factory.wmo305(toewijzing)
    stop = factory.wmo307(start, toewijzing=toewijzing)
    valid = {
        "valid/01-wmo301-toewijzing.xml": to_xml(toewijzing),
        "valid/02-wmo305-start.xml": to_xml(start),
        "valid/03-wmo307-stop.xml": to_xml(stop),
    }
    line = toewijzing.client.toegewezen_producten[0]
    broken: dict[str, tuple[Callable[[], bytes], str]] = {
        "invalid/wmo301-bsn-fails-11-proef.xml": (
            lambda: to_xml(
                dataclasses.replace(
                    toewijzing, client=dataclasses.replace(toewijzing.client, bsn="123456788")
                )
            ),
            "CS002",
        ),
        "invalid/wmo301-einddatum-before-ingangsdatum.xml": (
            lambda: to_xml(
                _replace_line(toewijzing, einddatum=line.ingangsdatum - dt.timedelta(days=1))
            ),
            "CS003",
        ),
        "invalid/wmo301-missing-ingangsdatum.xml": (
            lambda: to_xml(toewijzing).replace(
                f"<wmo301:Ingangsdatum>{line.ingangsdatum.isoformat()}</wmo301:Ingangsdatum>".encode(),
                b"",
                1,
            ),
            "XSD",
        ),
        "invalid/wmo305-truncated.xml": (lambda: to_xml(start)[:-40], "XML"),
    }
    OUT.mkdir(exist_ok=True)
    manifest = []
    for name, data in valid.items():
        manifest.append({"file": name, "valid": True, "rules": []})
        _write(name, data)
    for name, (make, rule) in broken.items():
        manifest.append({"file": name, "valid": False, "rules": [rule]})
        _write(name, make())
    (OUT / "manifest.jsonl").write_text("".join(json.dumps(m) + "\n" for m in manifest))
    print(f"wrote {len(manifest)} samples to {OUT}")
    return 0


def _write(name: str, data: bytes) -> None:
    path = OUT / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


if __name__ == "__main__":
    sys.exit(main())
