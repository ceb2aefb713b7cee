"""As a new user would: write messages to a folder, `iwmo-hub ingest` them, then ask
`iwmo-hub mismatches` and `iwmo-hub arrangements` what does not add up (subprocesses, the
installed command line, the embedded stores in the working directory)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from hub.codec import to_xml
from hub.factory import MessageFactory
from hub.model import Product, Wmo301, Wmo305, Wmo307


def iwmo_hub(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def renamed(message: Any, identificatie: str) -> Any:
    """The same message sent again under a new BerichtIdentificatie (not a TR056 duplicate)."""
    header = message.header
    ident = dataclasses.replace(header.bericht_identificatie, identificatie=identificatie)
    return dataclasses.replace(
        message, header=dataclasses.replace(header, bericht_identificatie=ident)
    )


def with_lines(message: Wmo305 | Wmo307, identificatie: str, **changes: Any) -> Any:
    client = message.client
    name = "start_producten" if isinstance(message, Wmo305) else "stop_producten"
    lines = tuple(dataclasses.replace(line, **changes) for line in getattr(client, name))
    changed = dataclasses.replace(message, client=dataclasses.replace(client, **{name: lines}))
    return renamed(changed, identificatie)


def scenario(factory: MessageFactory) -> tuple[Wmo301, list[tuple[str, Any]]]:
    # An Einddatum far ahead: today's date never makes the care "open after the Einddatum".
    toewijzing = factory.wmo301(
        producten=[{"ingangsdatum": dt.date(2025, 2, 1), "einddatum": dt.date(2099, 12, 31)}]
    )
    started = factory.wmo305(toewijzing)
    stopped = factory.wmo307(started, toewijzing=toewijzing)
    files = [
        ("01-start-before-its-toewijzing.xml", started),
        ("02-toewijzing.xml", toewijzing),
        ("03-same-start-again.xml", renamed(started, "START-AGAIN")),
        ("04-stop-with-other-product.xml",
         with_lines(stopped, "STOP-OTHER", product=Product(categorie="08", code="08X99"))),
        ("05-start-for-unknown-toewijzing.xml",
         with_lines(started, "START-UNKNWN", toewijzing_nummer=99999999)),
    ]  # fmt: skip
    return toewijzing, files


def test_ingest_then_mismatches_and_arrangements(tmp_path: Path) -> None:
    factory = MessageFactory(31)
    toewijzing, files = scenario(factory)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, message in files:
        (inbox / name).write_bytes(to_xml(message))
    ingested = iwmo_hub(tmp_path, "ingest", str(inbox))
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr

    shown = iwmo_hub(tmp_path, "mismatches", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)
    gemeente, nummer = (
        toewijzing.header.afzender,
        toewijzing.client.toegewezen_producten[0].toewijzing_nummer,
    )
    by_code = {(m["code"], m["toewijzingnummer"]): m for m in found}
    assert set(by_code) == {
        ("TR074", nummer),  # the same start twice
        ("TR382", nummer),  # a stop whose key (with its product) matches no start
        ("PRODUCT_MISMATCH", nummer),  # that stop's product is not the one assigned
        ("TR019", 99999999),  # a start for a toewijzing the gemeente never sent
    }
    for m in found:
        assert m["status"] == "open" and m["gemeente"] == gemeente
        assert m["bsn_masked"].startswith("*****") and m["reason"] and m["message_ids"]
    assert len(by_code[("TR074", nummer)]["message_ids"]) == 2

    # The start came before its 301: TR019 was raised and then resolved.
    everything = json.loads(iwmo_hub(tmp_path, "mismatches", "--status", "all",
                                     "--format", "json").stdout)  # fmt: skip
    resolved = [m for m in everything if m["status"] == "resolved"]
    assert [(m["code"], m["toewijzingnummer"]) for m in resolved] == [("TR019", nummer)]
    assert resolved[0]["resolved_at"]

    # The aanbieder deletes the duplicate start: TR074 is resolved.
    fix = tmp_path / "fix"
    fix.mkdir()
    started = files[0][1]
    (fix / "06-delete-duplicate.xml").write_bytes(
        to_xml(with_lines(started, "DELETE-DUP", status_aanlevering="3"))
    )
    assert iwmo_hub(tmp_path, "ingest", str(fix)).returncode == 0
    now_open = json.loads(iwmo_hub(tmp_path, "mismatches", "--format", "json").stdout)
    assert ("TR074", nummer) not in {(m["code"], m["toewijzingnummer"]) for m in now_open}

    listed = iwmo_hub(tmp_path, "arrangements", "--gemeente", gemeente, "--format", "json")
    assert listed.returncode == 0, listed.stderr
    [arrangement] = json.loads(listed.stdout)
    assert arrangement["toewijzingnummer"] == nummer
    assert arrangement["status"] == "gestart"
    assert arrangement["bsn_masked"] == "*****" + toewijzing.client.bsn[-4:]
    assert toewijzing.client.bsn not in listed.stdout

    text = iwmo_hub(tmp_path, "mismatches")
    assert (
        text.returncode == 0 and "TR382" in text.stdout and toewijzing.client.bsn not in text.stdout
    )
    assert (tmp_path / ".iwmo-hub" / "projections.db").exists()


def test_read_commands_without_any_events_say_so(tmp_path: Path) -> None:
    shown = iwmo_hub(tmp_path, "mismatches")
    assert shown.returncode == 0 and "no mismatches" in shown.stdout
    listed = iwmo_hub(tmp_path, "arrangements", "--gemeente", "0363", "--format", "json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    assert not (tmp_path / ".iwmo-hub" / "events.db").exists()  # reading created no event store


def test_project_reports_what_it_folded_and_refuses_another_store(tmp_path: Path) -> None:
    factory = MessageFactory(32)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "t.xml").write_bytes(to_xml(factory.wmo301(producten=2)))
    assert iwmo_hub(tmp_path, "ingest", str(inbox)).returncode == 0
    done = iwmo_hub(tmp_path, "project")
    assert done.returncode == 0 and "folded 2 events (3 records)" in done.stdout
    again = iwmo_hub(tmp_path, "project")
    assert "folded 0 events" in again.stdout
    other = iwmo_hub(tmp_path, "project", "--store", f"sqlite:{tmp_path / 'other.db'}")
    assert other.returncode == 3 and "another --projections file" in other.stderr
    bad = iwmo_hub(tmp_path, "mismatches", "--store", "nonsense:x")
    assert bad.returncode == 2 and "unknown store" in bad.stderr
