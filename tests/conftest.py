"""Shared test fixtures: the reference folder and the CI rule that no test may be skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# One real Kafka broker per test session, shared by the integration and e2e suites.
pytest_plugins = ["tests.kafka_fixture"]

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


_ran_with_broker: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed and "kafka" in report.keywords:
        _ran_with_broker.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI a skipped test fails the run, and so does a run in which no broker test passed."""
    if not IN_CI or session.exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    problems = []
    if skipped:
        problems.append(f"{skipped} test(s) were skipped; under CI=true every test must run")
    if not _ran_with_broker:
        problems.append("no test against the real Kafka broker ran (marker 'kafka')")
    if problems:
        session.exitstatus = 1
        for problem in problems:
            if reporter:
                reporter.write_line(f"CI: {problem}", red=True)
