"""Settings from the environment: a value a worker would trip on later is
refused at once, by a message that names its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.cli import main
from agents.settings import Settings, SettingsError


@pytest.mark.parametrize(("name", "value", "said"), [
    ("INTAKE_BATCH_MAX", "abc", "INTAKE_BATCH_MAX='abc' is not an integer"),
    ("INTAKE_BATCH_MAX", "0", "INTAKE_BATCH_MAX='0' is out of range (at least 1)"),
    ("INTAKE_WEB_PORT", "70000",
     "INTAKE_WEB_PORT='70000' is out of range (1 to 65535)"),
    # Faust's web server refuses port 0 with a traceback once it starts.
    ("INTAKE_WEB_PORT", "0", "INTAKE_WEB_PORT='0' is out of range (1 to 65535)"),
    ("INTAKE_ALERT_TICK_S", "soon", "INTAKE_ALERT_TICK_S='soon' is not a number"),
    ("INTAKE_OFFSET_RESET", "newest", "INTAKE_OFFSET_RESET='newest' is not one of"),
    ("INTAKE_UVLOOP", "maybe", "INTAKE_UVLOOP='maybe' is not one of"),
    ("INTAKE_LOG_LEVEL", "loud", "INTAKE_LOG_LEVEL='loud' is not a level"),
    ("INTAKE_APP_ID", "my app/1", "INTAKE_APP_ID (--app-id) 'my app/1' may hold"),
    ("INTAKE_REDIS_URL", "127.0.0.1:6379", "is not a redis://"),
    ("INTAKE_REPORTER_KEY", " ", "INTAKE_REPORTER_KEY is empty"),
    ("INTAKE_ALERT_TICK_S", "0", "out of range (at least 0.1)"),
])
def test_a_bad_value_is_refused_by_its_name(monkeypatch: pytest.MonkeyPatch,
                                            name: str, value: str, said: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        Settings.from_env()
    assert said in str(refused.value)


def test_good_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_BATCH_MAX", " 64 ")
    monkeypatch.setenv("INTAKE_UVLOOP", "Off")
    monkeypatch.setenv("INTAKE_LOG_LEVEL", "info")
    monkeypatch.setenv("INTAKE_OFFSET_RESET", "latest")
    monkeypatch.setenv("INTAKE_SURGE_TICK_S", "0.5")
    settings = Settings.from_env(app_id="city-1.test_2")
    assert (settings.batch_max, settings.uvloop, settings.offset_reset,
            settings.surge_tick_s, settings.app_id) == (64, False, "latest", 0.5,
                                                        "city-1.test_2")
    # What a worker's child process is given reads back the same.
    for key, value in settings.to_env().items():
        monkeypatch.setenv(key, value)
    assert Settings.from_env() == settings


def test_the_cli_says_one_line_and_exits_2(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_BATCH_MAX", "abc")
    assert main(["demo", "--limit", "5"]) == 2
    err = capsys.readouterr()
    said = (err.err + err.out).strip().splitlines()
    assert said == ["error: INTAKE_BATCH_MAX='abc' is not an integer"]


def test_a_bad_app_id_flag_is_refused_before_anything_starts(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--limit", "5", "--app-id", "two words"]) == 2
    err = capsys.readouterr()
    assert "--app-id" in err.err + err.out
    assert "broker" not in err.err + err.out  # nothing was started


def test_a_redis_that_refuses_the_url_is_named_not_restarted(
        tmp_path: Path) -> None:
    from agents.exceptions import RedisUnavailable
    from agents.redis_server import ensure_redis
    from tests.e2e.conftest import REDIS_URL

    base = REDIS_URL.rsplit("/", 1)[0]
    with pytest.raises(RedisUnavailable) as refused:
        ensure_redis(f"{base}/99", tmp_path)  # a database it does not have
    said = str(refused.value)
    assert "DB index is out of range" in said and "INTAKE_REDIS_URL" in said
    assert "did not start" not in said and not list(tmp_path.iterdir())


def test_a_web_address_of_another_host_is_named_not_called_taken() -> None:
    import socket

    from agents.cli import require_free_port
    from agents.exceptions import IntakeError

    with pytest.raises(IntakeError) as refused:
        require_free_port("192.0.2.1", 0)  # TEST-NET-1: on no host's interface
    assert "INTAKE_WEB_BIND" in str(refused.value)
    assert "taken" not in str(refused.value)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        with pytest.raises(IntakeError, match="is taken"):
            require_free_port("127.0.0.1", held.getsockname()[1])
