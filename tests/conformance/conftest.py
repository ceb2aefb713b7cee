"""Conformance fixtures: the mutation corpus (built once per session) and its summary line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from hub.messagetypes import MessageType
from tests.conformance.corpus import CorpusDoc, build_corpus

#: message type name -> (corpus size, XSD-valid documents, agreements), filled by the tests.
CorpusStats = dict[str, tuple[int, int, int]]
_STATS = pytest.StashKey[CorpusStats]()
#: message type name -> one line on the rule layer's agreement with the official XSLT.
RuleStats = dict[str, str]
_RULE_STATS = pytest.StashKey[RuleStats]()


@pytest.fixture(scope="session")
def corpus_for(reference_dir: Path) -> Callable[[MessageType], list[CorpusDoc]]:
    """The mutation corpus of a message type, built once per session."""
    built: dict[MessageType, list[CorpusDoc]] = {}

    def get(message_type: MessageType) -> list[CorpusDoc]:
        if message_type not in built:
            built[message_type] = build_corpus(message_type, reference_dir)
        return built[message_type]

    return get


@pytest.fixture(scope="session")
def official_xsd(reference_dir: Path) -> Callable[[MessageType], etree.XMLSchema]:
    """The official XSD of a message type compiled by lxml, without network access."""
    compiled: dict[MessageType, etree.XMLSchema] = {}
    parser = etree.XMLParser(no_network=True, resolve_entities=False)

    def get(message_type: MessageType) -> etree.XMLSchema:
        if message_type not in compiled:
            path = reference_dir / "xsd" / f"{message_type.name}.xsd"
            compiled[message_type] = etree.XMLSchema(etree.parse(str(path), parser))
        return compiled[message_type]

    return get


@pytest.fixture(scope="session")
def corpus_stats(pytestconfig: pytest.Config) -> CorpusStats:
    """Where the differential test leaves its counts for the end-of-run summary."""
    return pytestconfig.stash.setdefault(_STATS, {})


@pytest.fixture(scope="session")
def rule_stats(pytestconfig: pytest.Config) -> RuleStats:
    """Where the rule differential test leaves its counts for the end-of-run summary."""
    return pytestconfig.stash.setdefault(_RULE_STATS, {})


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Print the corpus size and agreement count per message type, with or without -s."""
    stats = config.stash.get(_STATS, {})
    if stats:
        terminalreporter.write_sep("-", "XSD differential corpus (project vs official)")
        for name, (size, valid, agreed) in sorted(stats.items()):
            terminalreporter.write_line(
                f"{name}: {size} documents ({valid} valid under the official XSD), "
                f"{agreed} verdicts agree, {size - agreed} disagree"
            )
    rules = config.stash.get(_RULE_STATS, {})
    if rules:
        terminalreporter.write_sep("-", "rule layer vs official XSLT (schema-valid corpus)")
        for name, line in sorted(rules.items()):
            terminalreporter.write_line(f"{name}: {line}")
