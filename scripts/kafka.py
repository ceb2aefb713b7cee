#!/usr/bin/env python3
"""Fetch, start and stop a real single-node Apache Kafka broker (KRaft) for the tests.

Kafka comes from Maven Central as jars (no Docker, no Apache mirrors): `fetch` runs
`mvn dependency:copy-dependencies` on scripts/kafka/pom.xml into .kafka/lib, once.
`start --dir DIR` formats DIR's storage the first time, starts `kafka.Kafka` on 127.0.0.1
and waits until the broker answers a metadata request; a later `start` on the same DIR
reuses its ports and data. `stop` ends only the process whose PID this tool recorded.
tests/integration/conftest.py imports this file for its `kafka_broker` fixture.
IWMO_KAFKA_JVM_OPTS adds JVM flags; MAVEN_OPTS reaches Maven (e.g. -Dmaven.repo.local=...).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Run as a script, this file's folder is sys.path[0], and this file (and scripts/kafka/)
# would shadow the kafka-python package that the readiness probe imports.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

REPO = _HERE.parent
TEMPLATES = _HERE / "kafka"
POM = TEMPLATES / "pom.xml"
DEFAULT_LIB = REPO / ".kafka" / "lib"
JVM_OPTS = (
    "-Xms128m",
    "-Xmx512m",
    # C1 only: halves the CPU a start costs (about 7 s to 4 s on two shared cores); a test
    # broker never runs long enough for C2's faster code to pay that back.
    "-XX:TieredStopAtLevel=1",
    # 8 MB G1 regions instead of the 1 MB a small heap gets: the broker reads each produce
    # request into one heap buffer, and an ingest append (about 1 MB for 200 messages) is
    # "humongous" under 1 MB regions. Those go straight to the old generation and start a
    # concurrent marking cycle each; measured over 60,000 ingested messages: 36 such
    # collections and 0.8 s of GC CPU, against 1 and 0.2 s with 8 MB regions.
    "-XX:G1HeapRegionSize=8m",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
STAMP = ".fetched"


class KafkaToolError(RuntimeError):
    """A fetch, start or stop that did not work; the message says why and where to look."""


def log(message: str) -> None:
    """Progress goes to stderr so that stdout carries only the bootstrap address."""
    print(f"kafka: {message}", file=sys.stderr, flush=True)


def kafka_version(pom: Path = POM) -> str:
    """The Kafka version the pom pins (the one value to bump)."""
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom.read_text())
    if not found:
        raise KafkaToolError(f"{pom} has no <kafka.version>")
    return found.group(1)


def java_major() -> int | None:
    """Major version of the `java` on PATH, or None when there is none."""
    if not shutil.which("java"):
        return None
    out = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def missing_prerequisites(lib: Path = DEFAULT_LIB) -> str | None:
    """Why a broker cannot run here (no Java 17+, or no Maven for a fetch still needed)."""
    major = java_major()
    if major is None:
        return "no `java` on PATH (Kafka 4 needs Java 17+; e.g. apt-get install openjdk-17-jre)"
    if major < 17:
        return f"java {major} on PATH, Kafka 4 brokers need Java 17+"
    if not is_fetched(lib) and not shutil.which("mvn"):
        return f"Kafka is not fetched into {lib} and there is no `mvn` (apt-get install maven)"
    return None


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def is_fetched(lib: Path = DEFAULT_LIB) -> bool:
    """True when `lib` holds a complete copy resolved from the current pom."""
    stamp = lib / STAMP
    return stamp.is_file() and stamp.read_text().strip() == _pom_digest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise fetches (two pytest sessions or make targets may start together)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch(lib: Path = DEFAULT_LIB) -> Path:
    """Download Kafka and its log4j2 binding into `lib`; does nothing when already there."""
    if is_fetched(lib):
        return lib
    if not shutil.which("mvn"):
        raise KafkaToolError("`mvn` is not on PATH (apt-get install maven)")
    with _locked(lib.parent / "fetch.lock"):
        if is_fetched(lib):  # another process finished it while we waited
            return lib
        started = time.monotonic()
        staging = lib.with_name(lib.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        mvn_log = lib.parent / "mvn.log"
        log(f"fetching Apache Kafka {kafka_version()} from Maven Central (log: {mvn_log})")
        command = [
            "mvn",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ]
        _run_mvn(command, mvn_log)
        (staging / STAMP).write_text(_pom_digest() + "\n")
        shutil.rmtree(lib, ignore_errors=True)
        staging.rename(lib)  # atomic: a half-copied lib never looks complete
        jars = len(list(lib.glob("*.jar")))
        log(f"fetched {jars} jars into {lib} in {time.monotonic() - started:.1f} s")
    return lib


def _run_mvn(command: list[str], mvn_log: Path) -> None:
    """Run Maven, echo each downloaded jar as progress, keep the full output in a file."""
    pattern = re.compile(r"Downloaded from \S+: \S+/([^/\s]+\.jar) \(([^)]*?)(?: at [^)]*)?\)")
    count = 0
    with (
        mvn_log.open("w") as out,
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=TEMPLATES
        ) as proc,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            found = pattern.search(line)
            if found:
                count += 1
                log(f"  [{count}] {found.group(1)} ({found.group(2)})")
        code = proc.wait()
    if code != 0:
        tail = "".join(mvn_log.read_text().splitlines(keepends=True)[-25:])
        raise KafkaToolError(f"mvn failed with exit code {code}; end of {mvn_log}:\n{tail}")


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all sockets held open until every port is picked)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka's own generator avoids these (they look like flags)
            return text


def _tie_prefix() -> list[str]:
    """Linux: a command prefix that has the kernel SIGTERM the broker when its parent dies.

    util-linux `setpriv` sets the parent-death signal and then execs java (same PID), so a
    killed pytest session cannot leave a broker behind; elsewhere brokers are not tied.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM"] if setpriv and sys.platform == "linux" else []


# The Popen objects of brokers this process started, so stop() can reap them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Broker:
    """One broker's folder (config, data, logs, PID file); all state lives in the files.

    `tied` has the kernel stop the broker when the process that started it dies (test
    sessions); the command line leaves it untied so the broker outlives `start`.
    """

    dir: Path
    lib: Path = DEFAULT_LIB
    tied: bool = False

    @property
    def config(self) -> Path:
        return self.dir / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.dir / "kafka.pid"

    @property
    def log_dir(self) -> Path:
        return self.dir / "logs"

    def _setting(self, key: str) -> str:
        for line in self.config.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and name.strip() == key:
                return value.strip()
        raise KafkaToolError(f"{self.config} has no {key}")

    @property
    def port(self) -> int:
        return int(self._setting("listeners").split(",")[0].rsplit(":", 1)[1])

    @property
    def controller_port(self) -> int:
        return int(self._setting("controller.quorum.bootstrap.servers").rsplit(":", 1)[1])

    @property
    def bootstrap(self) -> str:
        """The address clients connect to, e.g. "127.0.0.1:40123"."""
        return f"127.0.0.1:{self.port}"

    def configure(self, port: int | None = None) -> None:
        """Write server.properties and format the storage once; later calls keep both."""
        if self.config.is_file():
            if port is not None and port != self.port:
                raise KafkaToolError(f"{self.dir} is set up for port {self.port}, not {port}")
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        ports = free_ports(2)
        broker_port = port if port is not None else ports[0]
        controller_port = ports[1] if ports[1] != broker_port else ports[0]
        template = string.Template((TEMPLATES / "server.properties.template").read_text())
        text = template.substitute(
            port=broker_port, controller_port=controller_port, data_dir=self.dir / "data"
        )
        partial = self.config.with_suffix(".partial")
        partial.write_text(text)
        shutil.rmtree(self.dir / "data", ignore_errors=True)  # left by a format that failed
        log(f"formatting KRaft storage in {self.dir / 'data'}")
        self._java(
            "kafka.tools.StorageTool",
            ["format", "--standalone", "--cluster-id", _cluster_id(), "--config", str(partial)],
        )
        partial.rename(self.config)  # only a formatted folder counts as configured

    def _java(self, main: str, args: list[str]) -> None:
        """Run a short Kafka tool to completion, failing with its output."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        command = ["java", *self._jvm_opts(), "-cp", str(self.lib / "*"), main, *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise KafkaToolError(f"{main} failed ({done.returncode}):\n{done.stdout}{done.stderr}")

    def _jvm_opts(self) -> list[str]:
        return [
            *JVM_OPTS,
            f"-Dlog4j2.configurationFile={TEMPLATES / 'log4j2.xml'}",
            f"-Dkafka.logs.dir={self.log_dir}",
            *os.environ.get("IWMO_KAFKA_JVM_OPTS", "").split(),
        ]

    def pid(self) -> int | None:
        """The PID of the running broker this folder belongs to, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) and self._is_ours(pid) else None

    def _is_ours(self, pid: int) -> bool:
        """Guard against PID reuse: the process must be kafka.Kafka on this folder's config."""
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            ps = ["ps", "-ww", "-o", "command=", "-p", str(pid)]
            command = subprocess.run(ps, capture_output=True, text=True, check=False).stdout
        return "kafka.Kafka" in command and str(self.config) in command

    def start(self, port: int | None = None, timeout: float = 90.0) -> int:
        """Start the broker (configuring it first if needed); wait until it serves metadata."""
        fetch(self.lib)
        self.configure(port)
        running = self.pid()
        if running is not None:
            log(f"already running (pid {running}) on {self.bootstrap}")
            return running
        taken = [p for p in (self.port, self.controller_port) if _port_taken(p)]
        if taken:
            raise KafkaToolError(f"127.0.0.1 port(s) {taken} in use by another process")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        command = [
            *(_tie_prefix() if self.tied else []),
            "java",
            *self._jvm_opts(),
            "-cp",
            str(self.lib / "*"),
            "kafka.Kafka",
            str(self.config),
        ]
        with (self.log_dir / "kafka.out").open("ab") as out:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                start_new_session=True,  # a Ctrl-C in the terminal must not skip stop()
            )
        _CHILDREN[proc.pid] = proc
        self.pid_file.write_text(f"{proc.pid}\n")
        try:
            self._wait_ready(proc, started + timeout)
        except BaseException:
            self.stop()
            raise
        log(
            f"broker ready on {self.bootstrap} (pid {proc.pid}, {time.monotonic() - started:.1f} s)"
        )
        return proc.pid

    def _wait_ready(self, proc: subprocess.Popen[bytes], deadline: float) -> None:
        """Poll with a bounded retry until node 1 shows up in a DescribeCluster answer."""
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise KafkaToolError(f"broker exited with {proc.returncode}\n{self.log_tail()}")
            if self.answers_metadata(timeout=5.0):
                return
            time.sleep(0.25)
        raise KafkaToolError(f"broker not ready within the timeout\n{self.log_tail()}")

    def answers_metadata(self, timeout: float = 5.0) -> bool:
        """True when the broker answers a metadata request and lists itself as a node."""
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1.0).close()
        except OSError:
            return False  # not listening yet: skip the client and its connection errors
        try:
            from kafka.admin import KafkaAdminClient
            from kafka.errors import KafkaError
        except ImportError as error:
            raise KafkaToolError(
                "kafka-python is missing: run this with .venv/bin/python"
            ) from error

        admin = None
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap,
                client_id="iwmo-hub-kafka-probe",
                request_timeout_ms=int(timeout * 1000),
                bootstrap_timeout_ms=int(timeout * 1000),
            )
            cluster = admin.describe_cluster()
            brokers = cluster.get("brokers", [])
            return any(b.get("broker_id") == 1 and not b.get("is_fenced") for b in brokers)
        except (KafkaError, OSError):
            return False
        finally:
            if admin is not None:
                admin.close()

    def stop(self, timeout: float = 30.0, kill: bool = False) -> bool:
        """SIGTERM (or SIGKILL when `kill`) the recorded broker, SIGKILL after `timeout`."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        started = time.monotonic()
        _signal(pid, signal.SIGKILL if kill else signal.SIGTERM)
        if not _wait_gone(pid, timeout):
            log(f"pid {pid} ignored SIGTERM for {timeout:.0f} s; sending SIGKILL")
            _signal(pid, signal.SIGKILL)
            if not _wait_gone(pid, 10.0):
                raise KafkaToolError(f"pid {pid} survived SIGKILL")
        self.pid_file.unlink(missing_ok=True)
        how = "killed" if kill else "stopped"
        log(f"broker {how} (pid {pid}, {time.monotonic() - started:.1f} s)")
        return True

    def log_tail(self, lines: int = 30) -> str:
        """The end of the broker's log files, for error messages."""
        parts = []
        for name in ("kafka.out", "server.log"):
            path = self.log_dir / name
            if path.is_file():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path} ---\n" + "\n".join(text))
        return "\n".join(parts)


def _alive(pid: int) -> bool:
    """Whether `pid` runs; reaps it first when it is our own child (else it stays a zombie)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have exited a moment ago
        os.kill(pid, signum)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            _CHILDREN.pop(pid, None)
            return True
        time.sleep(0.1)
    return False


def main(argv: list[str] | None = None) -> int:
    """Command line: fetch | start | stop | status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--lib", type=Path, default=DEFAULT_LIB, help="jar folder (.kafka/lib)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("fetch", help="download Kafka from Maven Central into --lib, once")
    start = commands.add_parser("start", help="start a broker in DIR; prints its bootstrap")
    stop = commands.add_parser("stop", help="stop the broker started in DIR (by its PID)")
    status = commands.add_parser("status", help="exit 0 when DIR's broker runs, 3 when not")
    for sub in (start, stop, status):
        sub.add_argument("--dir", type=Path, required=True, help="broker folder")
    start.add_argument("--port", type=int, help="broker port (default: a free one)")
    start.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for ready")
    stop.add_argument("--timeout", type=float, default=30.0, help="seconds before SIGKILL")
    args = parser.parse_args(argv)

    try:
        if args.command == "fetch":
            if is_fetched(args.lib):
                log(f"Kafka {kafka_version()} already in {args.lib}")
            fetch(args.lib)
            return 0
        broker = Broker(args.dir.resolve(), args.lib.resolve())
        if args.command == "start":
            broker.start(port=args.port, timeout=args.timeout)
            print(broker.bootstrap)
        elif args.command == "stop":
            if not broker.stop(timeout=args.timeout):
                log(f"no broker running for {args.dir}")
        else:
            pid = broker.pid()
            if pid is None:
                print("not running")
                return 3
            ready = "answers metadata" if broker.answers_metadata() else "NOT answering"
            print(f"running: pid {pid}, {broker.bootstrap}, {ready}")
    except KafkaToolError as error:
        log(f"error: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
