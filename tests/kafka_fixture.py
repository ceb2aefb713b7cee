"""The `kafka_broker` session fixture (a pytest plugin of tests/conftest.py): a real Kafka broker.

It runs scripts/kafka.py's code: fetch Kafka from Maven Central if not cached, start a broker
in a temp dir on free loopback ports, and stop it by its PID when the session ends. Tests
never use a broker started by hand.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.integration import KafkaBroker

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "scripts" / "kafka.py"
# A distinct module name: "kafka" is the kafka-python client package.
TOOL_MODULE = "iwmo_hub_kafka_tool"
# Two shared CI cores can make a cold JVM slow; a healthy start takes a few seconds.
START_TIMEOUT = 120.0


def kafka_tool() -> ModuleType:
    """scripts/kafka.py loaded as a module (scripts/ is not a package)."""
    if TOOL_MODULE in sys.modules:
        return sys.modules[TOOL_MODULE]
    spec = importlib.util.spec_from_file_location(TOOL_MODULE, TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[TOOL_MODULE] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A running broker for the whole session; tests may stop() and start() it again."""
    tool = kafka_tool()
    missing = tool.missing_prerequisites()
    if missing:
        pytest.skip(f"no real Kafka broker: {missing}")
    try:
        tool.fetch()
    except tool.KafkaToolError as error:
        pytest.fail(f"could not fetch Kafka from Maven Central: {error}", pytrace=False)
    broker = tool.Broker(tmp_path_factory.mktemp("kafka"), tied=True)
    try:
        broker.start(timeout=START_TIMEOUT)
    except tool.KafkaToolError as error:
        pytest.fail(f"Kafka broker did not start: {error}", pytrace=False)
    try:
        yield broker
    finally:
        broker.stop()
