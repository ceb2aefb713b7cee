"""`iwmo-hub demo` as a new user runs it: the summary, then the API serving what it printed."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from tests.http_support import BIN, free_port


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("IWMO_HUB_")}


def test_demo_posts_a_month_through_the_api_and_summarises_each_gemeente(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(BIN / "iwmo-hub"), "demo", "--no-serve", "--clients", "300", "--dir", "demo"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=environment(),
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    generated = re.search(r"generated ([\d,]+) messages", out)
    posted = re.search(r"posted them to POST /v1/messages in .*: (.*)", out)
    assert generated and posted, out
    count = int(generated.group(1).replace(",", ""))
    assert posted.group(1) == f"{count:,} x 202", "every generated message is accepted"
    gemeenten = re.findall(r"gemeente (\d{4}): ([\d,]+) arrangements", out)
    assert len(gemeenten) == 3 and all(int(n.replace(",", "")) > 0 for _, n in gemeenten)
    assert out.count("open mismatches:") == 3
    assert "the generator injected" in out
    assert (tmp_path / "demo" / "events.db").is_file()
    tokens = (tmp_path / "demo" / "tokens.json").read_text()
    assert "iwmo_" not in tokens, "the tokens file holds hashes only"


def test_demo_serves_the_api_and_its_curl_command_works(tmp_path: Path) -> None:
    port = free_port()
    command = [str(BIN / "iwmo-hub"), "demo", "--clients", "60", "--port", str(port)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env=environment(),
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        curl = None
        deadline = time.monotonic() + 300
        while curl is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "demo ended early:\n" + "".join(lines)
            lines.append(line)
            if line.strip().startswith("curl ") and "mismatches" in line:
                curl = line.strip()
        assert curl is not None
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}/docs" in output
        argv = shlex.split(curl)
        url = argv[-1]
        token = argv[argv.index("-H") + 1].removeprefix("Authorization: Bearer ")
        _wait_serving(f"http://127.0.0.1:{port}/healthz")
        if shutil.which("curl"):
            answer = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            assert answer.returncode == 0 and '"items"' in answer.stdout
        page = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert page.status_code == 200 and "items" in page.json()
        docs = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=30)
        assert docs.status_code == 200
    finally:
        process.terminate()
        process.wait(30)
        if process.stdout is not None:
            process.stdout.close()


def _wait_serving(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the demo server did not answer")
