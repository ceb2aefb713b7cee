"""docker-compose.yml: checked by Debian's `docker-compose config` when it is installed, and
always by its own structural checks (no Docker engine runs here, nothing is fetched)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
SERVICES = ("kafka", "api", "projector")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def test_docker_compose_accepts_the_file() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("Debian's docker-compose is not installed (apt-get install docker-compose)")
    done = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr


def test_the_three_services_with_healthchecks_and_restart(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == set(SERVICES)
    for name in SERVICES:
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert {"interval", "timeout", "retries"} <= set(check), name
        assert services[name]["restart"] == "unless-stopped"


def test_kafka_is_the_official_image_in_kraft_mode_at_the_tested_version(
    compose: dict[str, Any],
) -> None:
    kafka = compose["services"]["kafka"]
    pinned = re.search(r"<kafka\.version>([^<]+)<", (REPO / "scripts/kafka/pom.xml").read_text())
    assert pinned is not None
    assert kafka["image"] == f"apache/kafka:{pinned.group(1)}"
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "zookeeper" not in COMPOSE.read_text().lower()
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert int(env["KAFKA_MESSAGE_MAX_BYTES"]) > 25 * 1024 * 1024
    assert any(v.endswith(":/var/lib/kafka/data") for v in kafka["volumes"])


def test_api_and_projector_run_the_hub_on_kafka_and_wait_for_a_healthy_broker(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    api, projector = services["api"], services["projector"]
    assert api["command"][:2] == ["iwmo-hub", "serve"] and "--no-projector" in api["command"]
    assert projector["command"] == ["iwmo-hub", "project", "--follow"]
    for service in (api, projector):
        assert service["build"] == "."
        assert service["environment"]["IWMO_HUB_STORE"] == "kafka://kafka:9092"
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert "projections:/data" in service["volumes"]
    assert (
        api["environment"]["IWMO_HUB_PROJECTIONS"]
        == projector["environment"]["IWMO_HUB_PROJECTIONS"]
    )
    assert "/healthz" in " ".join(api["healthcheck"]["test"])
    assert (REPO / "Dockerfile").is_file()


def test_every_port_is_published_on_loopback_only_and_volumes_are_declared(
    compose: dict[str, Any],
) -> None:
    named = set(compose["volumes"])
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith(".") or source in named, (name, volume)
    assert named == {"kafka-data", "projections"}


def test_the_dockerfile_installs_the_packages_and_runs_as_a_user() -> None:
    text = (REPO / "Dockerfile").read_text()
    for package in ("hub", "adapters", "projections", "replay", "schemas"):
        assert f"COPY {package} ./{package}" in text
        assert (REPO / package).is_dir()
    assert re.search(r"^USER \w+", text, re.MULTILINE)
    assert "pip install ." in text
