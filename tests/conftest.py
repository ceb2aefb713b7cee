"""Shared test fixtures: the reference folder and the CI rule that no test may be skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO.parent / "shared" / "iwmo-reference"
WMO_REFERENCE = REFERENCE / "jaapjunior" / "packages" / "api" / "wmo" / "bronnen"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The official iWmo 3.2 artefacts (XSDs, rule XSLT, examples) used as an external oracle."""
    if not WMO_REFERENCE.is_dir():
        reason = f"iWmo reference artefacts not found at {WMO_REFERENCE}"
        if IN_CI:
            pytest.fail(f"{reason}; under CI the conformance tests must run")
        pytest.skip(f"{reason} (conformance tests need ../shared/iwmo-reference beside the repo)")
    return WMO_REFERENCE


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI a skipped test is a failure: integration and conformance tests must really run."""
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and session.exitstatus == 0:
        session.exitstatus = 1
        if reporter:
            reporter.write_line(f"CI: {skipped} test(s) were skipped; under CI=true that fails the run")
