"""Finding Redis, or starting a local one for the demo when none answers."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import redis

from agents.broker import CHILD_PREEXEC
from agents.exceptions import RedisUnavailable

HOW_TO_GET_ONE = (
    "install one (Debian/Ubuntu: apt-get install redis-server; macOS: brew install "
    "redis) or set INTAKE_REDIS_URL to a Redis you can reach"
)


def answers(url: str, timeout_s: float = 0.5) -> bool:
    return refusal(url, timeout_s) is None


def refusal(url: str, timeout_s: float = 0.5) -> str | None:
    """None when Redis at ``url`` answers a ping; else what went wrong."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s,
                                      socket_timeout=timeout_s)
        return None if client.ping() else "no answer to PING"
    except (redis.ResponseError, redis.AuthenticationError) as exc:
        return f"{ANSWERED}{exc}"
    except (redis.RedisError, OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__


#: How ``refusal`` begins when a server was there and said no (a database
#: number it does not have, a wrong password): starting another will not help.
ANSWERED = "Redis answered: "


def ensure_redis(url: str, data_dir: Path) -> subprocess.Popen[bytes] | None:
    """Return None when ``url`` answers; else start a local redis-server there.

    Raises ``RedisUnavailable`` with how to get one when that is not possible.
    """
    problem = refusal(url)
    if problem is None:
        return None
    if problem.startswith(ANSWERED):
        raise RedisUnavailable(f"{problem} (at {url}); check INTAKE_REDIS_URL "
                               "(--redis-url): its database number and password")
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise RedisUnavailable(f"no Redis answers at {url}; {HOW_TO_GET_ONE}")
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisUnavailable(
            f"no Redis answers at {url} and redis-server is not installed; "
            f"{HOW_TO_GET_ONE}"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, "--bind", host, "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(data_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        preexec_fn=CHILD_PREEXEC,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if answers(url):
            return process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RedisUnavailable(f"redis-server did not start at {url}; {HOW_TO_GET_ONE}")


def forget_app(url: str, app_id: str) -> int:
    """Delete the keys of ``app_id`` (``<app_id>:*``) from Redis at ``url``;
    return how many went. What a run on a broker that is gone left behind."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{app_id}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start:start + 1000])
    return len(keys)

