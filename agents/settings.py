"""Every setting, declared once: name, environment variable, default, meaning.

Secrets are masked when the settings are printed.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from agents.exceptions import IntakeError

ROOT = Path(__file__).resolve().parent.parent
#: An app id names topics, a consumer group, a data directory and Redis keys:
#: the characters Kafka allows in a topic name, and not too long for one.
APP_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")
OFFSET_RESETS = ("earliest", "latest")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class SettingsError(IntakeError):
    """A setting's value is not one it can take; the message names it."""


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _number(name: str, default: float, kind: type, low: float,
            high: float = float("inf")) -> Any:
    """The environment variable ``name`` as an int or float in [low, high]."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise SettingsError(f"{name}={raw!r} is not {what}") from None
    if not low <= value <= high:
        bound = f"at least {low:g}" if high == float("inf") else f"{low:g} to {high:g}"
        raise SettingsError(f"{name}={raw!r} is out of range ({bound})")
    return value


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in TRUE:
        return True
    if raw.strip().lower() in FALSE:
        return False
    raise SettingsError(f"{name}={raw!r} is not one of {'/'.join(TRUE + FALSE)}")


@dataclass(frozen=True)
class Settings:
    #: "embedded" starts the Tansu broker; otherwise a Kafka bootstrap host:port list.
    broker: str = "embedded"
    #: Redis for unit positions (GEO) and availability.
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: Faust application id: consumer group, changelog and Redis key prefix.
    app_id: str = "intake"
    #: Port of the worker's web server (/metrics, /health).
    web_port: int = 6066
    #: Address it listens on; 0.0.0.0 lets a Prometheus on another host scrape.
    web_bind: str = "127.0.0.1"
    models_dir: Path = ROOT / "models"
    topics_file: Path = ROOT / "topics.yaml"
    #: Where workers keep local state and logs.
    data_dir: Path = ROOT / "var"
    #: Events an agent takes at once, and how long it waits to fill a batch.
    batch_max: int = 500
    batch_within_ms: int = 5
    #: Run score, route and alert (all keyed by incident) in one agent, skipping
    #: the incidents.scored and incidents.routed hops.
    fuse_incident_stages: bool = True
    #: Longest a broker may hold a worker's fetch while no records are there.
    fetch_max_wait_ms: int = 20
    #: Faust's check that a table's offsets agree with its changelog's (off: the
    #: embedded broker misreports high watermarks; see README, Known limits).
    recovery_check: bool = False
    #: Bound on every Redis call of the route stage.
    redis_timeout_ms: int = 250
    #: Key of the keyed hash that hides reporter identities (a secret).
    reporter_key: str = "intake-default-reporter-key"
    log_level: str = "WARNING"
    #: Run the worker on uvloop's event loop instead of asyncio's.
    uvloop: bool = True
    #: Where a new consumer group starts: "earliest" (every message kept) or
    #: "latest" (only what arrives after it joined; benchmarks use it).
    offset_reset: str = "earliest"
    #: Where delivered alerts are also written, one JSON-lines file per channel
    #: under <outbox_dir>/<app_id>/.
    outbox_dir: Path = ROOT / "var" / "outbox"
    #: How often the alert stage checks ack deadlines, pending updates and held
    #: deliveries on the wall clock.
    alert_tick_s: float = 1.0
    #: Close the count windows of a quiet partition by the wall clock (live
    #: mode); the demo turns it off: a replay closes them with a flush.
    surge_wall_clock: bool = True
    #: How often the surge stage looks at its quiet partitions.
    surge_tick_s: float = 5.0
    #: How often a worker commits the offsets it finished (Faust's default).
    commit_interval_s: float = 2.8

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        base = cls(
            broker=_env("INTAKE_BROKER", cls.broker),
            redis_url=_env("INTAKE_REDIS_URL", cls.redis_url),
            app_id=_env("INTAKE_APP_ID", cls.app_id),
            web_port=_number("INTAKE_WEB_PORT", cls.web_port, int, 1, 65535),
            web_bind=_env("INTAKE_WEB_BIND", cls.web_bind),
            models_dir=Path(_env("INTAKE_MODELS_DIR", str(cls.models_dir))),
            topics_file=Path(_env("INTAKE_TOPICS_FILE", str(cls.topics_file))),
            data_dir=Path(_env("INTAKE_DATA_DIR", str(cls.data_dir))),
            batch_max=_number("INTAKE_BATCH_MAX", cls.batch_max, int, 1),
            batch_within_ms=_number("INTAKE_BATCH_WITHIN_MS", cls.batch_within_ms,
                                    int, 0),
            fetch_max_wait_ms=_number("INTAKE_FETCH_MAX_WAIT_MS",
                                      cls.fetch_max_wait_ms, int, 0),
            redis_timeout_ms=_number("INTAKE_REDIS_TIMEOUT_MS", cls.redis_timeout_ms,
                                     int, 1),
            reporter_key=_env("INTAKE_REPORTER_KEY", cls.reporter_key),
            log_level=_env("INTAKE_LOG_LEVEL", cls.log_level),
            uvloop=_flag("INTAKE_UVLOOP", cls.uvloop),
            offset_reset=_env("INTAKE_OFFSET_RESET", cls.offset_reset),
            fuse_incident_stages=_flag("INTAKE_FUSE_INCIDENT_STAGES",
                                       cls.fuse_incident_stages),
            recovery_check=_flag("INTAKE_RECOVERY_CHECK", cls.recovery_check),
            outbox_dir=Path(_env("INTAKE_OUTBOX_DIR", str(cls.outbox_dir))),
            # Each tick writes to alerts.acks: ten a second at the most.
            alert_tick_s=_number("INTAKE_ALERT_TICK_S", cls.alert_tick_s, float,
                                 0.1),
            surge_wall_clock=_flag("INTAKE_SURGE_WALL_CLOCK", cls.surge_wall_clock),
            surge_tick_s=_number("INTAKE_SURGE_TICK_S", cls.surge_tick_s, float,
                                 0.01),
            commit_interval_s=_number("INTAKE_COMMIT_INTERVAL_S",
                                      cls.commit_interval_s, float, 0.01),
        )
        settings = replace(base, **{k: v for k, v in overrides.items()
                                    if v is not None})
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse, naming the variable, a value the workers would trip on later
        (a traceback in a child's log, or a silent fallback).
        """
        if not APP_ID.fullmatch(self.app_id):
            raise SettingsError(
                f"INTAKE_APP_ID (--app-id) {self.app_id!r} may hold only letters, "
                "digits, '.', '_' and '-' (at most 100)")
        if self.offset_reset not in OFFSET_RESETS:
            raise SettingsError(f"INTAKE_OFFSET_RESET={self.offset_reset!r} is not "
                                f"one of {'/'.join(OFFSET_RESETS)}")
        if not isinstance(logging.getLevelName(self.log_level.upper()), int):
            raise SettingsError(f"INTAKE_LOG_LEVEL={self.log_level!r} is not a "
                                "level (DEBUG, INFO, WARNING, ERROR)")
        if not self.reporter_key.strip():
            raise SettingsError("INTAKE_REPORTER_KEY is empty: every identity "
                                "would be hashed with no secret")
        if not 1 <= self.web_port <= 65535:
            # Faust's web server takes no port 0 (any free one).
            raise SettingsError(f"INTAKE_WEB_PORT (--web-port) {self.web_port} is "
                                "not a port (1 to 65535)")
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(f"INTAKE_REDIS_URL (--redis-url) {self.redis_url!r} "
                                "is not a redis://, rediss:// or unix:// URL")

    def to_env(self) -> dict[str, str]:
        """The environment that gives a child process these same settings."""
        names = {
            "broker": "INTAKE_BROKER", "redis_url": "INTAKE_REDIS_URL",
            "app_id": "INTAKE_APP_ID", "web_port": "INTAKE_WEB_PORT",
            "web_bind": "INTAKE_WEB_BIND",
            "models_dir": "INTAKE_MODELS_DIR", "topics_file": "INTAKE_TOPICS_FILE",
            "data_dir": "INTAKE_DATA_DIR", "batch_max": "INTAKE_BATCH_MAX",
            "batch_within_ms": "INTAKE_BATCH_WITHIN_MS",
            "redis_timeout_ms": "INTAKE_REDIS_TIMEOUT_MS",
            "fetch_max_wait_ms": "INTAKE_FETCH_MAX_WAIT_MS",
            "reporter_key": "INTAKE_REPORTER_KEY", "log_level": "INTAKE_LOG_LEVEL",
            "offset_reset": "INTAKE_OFFSET_RESET",
            "outbox_dir": "INTAKE_OUTBOX_DIR", "alert_tick_s": "INTAKE_ALERT_TICK_S",
            "surge_tick_s": "INTAKE_SURGE_TICK_S",
            "commit_interval_s": "INTAKE_COMMIT_INTERVAL_S",
        }
        env = {env: str(getattr(self, name)) for name, env in names.items()}
        env["INTAKE_UVLOOP"] = "1" if self.uvloop else "0"
        env["INTAKE_FUSE_INCIDENT_STAGES"] = "1" if self.fuse_incident_stages else "0"
        env["INTAKE_RECOVERY_CHECK"] = "1" if self.recovery_check else "0"
        env["INTAKE_SURGE_WALL_CLOCK"] = "1" if self.surge_wall_clock else "0"
        return env

    def masked(self) -> dict[str, str]:
        shown = {f.name: str(getattr(self, f.name)) for f in fields(self)}
        shown["reporter_key"] = "****"
        return shown
