"""`iwmo-hub validate` as a user runs it: a real subprocess over the shipped samples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
BIN = Path(sys.executable).parent


def iwmo_hub(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run the installed console script, exactly as the README tells a user to."""
    return subprocess.run(
        [str(BIN / "iwmo-hub"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def manifest() -> list[dict[str, Any]]:
    lines = (SAMPLES / "manifest.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_json_verdicts_match_the_sample_manifest() -> None:
    result = iwmo_hub("validate", "--format", "json", "samples")
    assert result.returncode == 1, result.stderr
    verdicts = {
        Path(v["file"]).relative_to("samples").as_posix(): v for v in json.loads(result.stdout)
    }
    expected = manifest()
    assert set(verdicts) == {m["file"] for m in expected}
    for case in expected:
        verdict = verdicts[case["file"]]
        assert verdict["valid"] is case["valid"], case["file"]
        assert sorted({e["rule"] for e in verdict["errors"]}) == case["rules"], case["file"]
        for error in verdict["errors"]:
            assert set(error) == {"rule", "retour_code", "path", "line", "message"}
            assert error["retour_code"] == "0001"
            assert error["message"]


def test_every_error_is_located() -> None:
    result = iwmo_hub("validate", "--format", "json", "samples/invalid")
    for verdict in json.loads(result.stdout):
        for error in verdict["errors"]:
            assert isinstance(error["line"], int) and error["line"] > 0
            assert error["path"].startswith("/")


def test_exit_zero_when_all_valid_and_text_verdict_per_file() -> None:
    result = iwmo_hub("validate", "samples/valid")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("VALID")]
    assert len(lines) == len(list((SAMPLES / "valid").glob("*.xml")))
    assert "3 file(s): 3 valid, 0 invalid" in result.stdout


def test_text_output_names_rule_line_and_path() -> None:
    result = iwmo_hub("validate", "samples/invalid/wmo301-einddatum-before-ingangsdatum.xml")
    assert result.returncode == 1
    assert "CS003" in result.stdout
    assert "/Bericht/Client/ToegewezenProducten/ToegewezenProduct" in result.stdout
    assert "line " in result.stdout


def test_bsn_never_appears_in_the_output() -> None:
    bad = SAMPLES / "invalid" / "wmo301-bsn-fails-11-proef.xml"
    bsn = bad.read_text().split("<wmo301:Bsn>")[1].split("<")[0]
    for fmt in ("text", "json"):
        result = iwmo_hub("validate", "--format", fmt, str(bad))
        assert result.returncode == 1
        assert bsn not in result.stdout + result.stderr


def test_bsn_masked_in_schema_errors(tmp_path: Path) -> None:
    source = (SAMPLES / "valid" / "01-wmo301-toewijzing.xml").read_text()
    bsn = source.split("<wmo301:Bsn>")[1].split("<")[0]
    broken = source.replace(f"<wmo301:Bsn>{bsn}</wmo301:Bsn>", f"<wmo301:Bsn>{bsn}0</wmo301:Bsn>")
    (tmp_path / "m.xml").write_text(broken)
    result = iwmo_hub("validate", "--format", "json", str(tmp_path / "m.xml"))
    assert result.returncode == 1
    assert json.loads(result.stdout)[0]["errors"][0]["rule"] == "XSD"
    assert bsn not in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("validate",),
        ("validate", "does/not/exist.xml"),
        ("validate", "--format", "yaml", "samples"),
        ("validate", "--today", "yesterday", "samples"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = iwmo_hub(*args)
    assert result.returncode == 2
    assert result.stderr.strip()


def test_help_for_every_command() -> None:
    top = iwmo_hub("--help")
    assert top.returncode == 0 and "validate" in top.stdout
    sub = iwmo_hub("validate", "--help")
    assert sub.returncode == 0 and "--format" in sub.stdout


def test_directories_are_searched_recursively_and_non_xml_ignored(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "m.xml").write_bytes((SAMPLES / "valid" / "02-wmo305-start.xml").read_bytes())
    (nested / "notes.txt").write_text("not a message")
    result = iwmo_hub("validate", "--format", "json", str(tmp_path))
    assert result.returncode == 0
    verdicts = json.loads(result.stdout)
    assert [Path(v["file"]).name for v in verdicts] == ["m.xml"]
    assert verdicts[0]["message_type"] == "WMO305"


def test_oversized_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    with big.open("wb") as handle:
        handle.truncate(25 * 1024 * 1024 + 1)
    result = iwmo_hub("validate", "--format", "json", str(big))
    assert result.returncode == 1
    error = json.loads(result.stdout)[0]["errors"][0]
    assert error["rule"] == "OP179"
