"""Command line: ``python -m agents {demo,worker,broker,replay,eido,split,fleet}``.

``demo``, ``worker``, ``replay``, ``eido`` and ``fleet`` take ``--broker`` (default:
``$INTAKE_BROKER``, else "embedded": only the demo starts one itself) and
``--redis-url`` (default: ``$INTAKE_REDIS_URL``, else 127.0.0.1:6379).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agents.broker import (
    CHILD_PREEXEC,
    EMBEDDED,
    EmbeddedBroker,
    broker_for,
    ensure_topics,
    free_port,
    wait_until_answers,
)
from agents.exceptions import IntakeError
from agents.replay import FORMATS
from agents.settings import ROOT, Settings

DEMO_LOG = ROOT / "data" / "montgomery_911_2015-12-10_to_2016-05-31.csv.gz"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def wait_for_worker(port: int, process: subprocess.Popen[bytes] | None,
                    timeout_s: float = 90.0) -> dict[str, Any]:
    """Block until the worker's /health shows partitions assigned and no rebalance."""
    deadline = time.monotonic() + timeout_s
    url = f"http://127.0.0.1:{port}/health"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise IntakeError(f"the worker exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                health: dict[str, Any] = json.loads(response.read())
            if health["assigned_partitions"] > 0 and not health["rebalancing"]:
                return health
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            pass
        time.sleep(0.25)
    raise IntakeError(f"the worker was not ready within {timeout_s:.0f} s ({url})")


def read_metrics(port: int) -> str:
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


#: The line a worker's log gets before each run.
RUN_MARK = "--- worker run starting"


@contextlib.contextmanager
def worker_process(settings: Settings, log_path: Path
                   ) -> Iterator[subprocess.Popen[bytes]]:
    """A worker in a child process, stopped (SIGTERM, then SIGKILL) on exit."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, **settings.to_env())
    with open(log_path, "ab") as log:
        # Kept across runs; each run starts below a line of its own, so a
        # failure quotes only its own run (``worker_failure``).
        log.write(f"{RUN_MARK} {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        log.flush()
        process = subprocess.Popen([sys.executable, "-m", "agents", "worker"],
                                   cwd=ROOT, env=env, stdout=log, stderr=log,
                                   preexec_fn=CHILD_PREEXEC)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_worker(settings: Settings) -> None:
    import faust

    from agents.app import create_app

    class Worker(faust.Worker):
        """Faust's worker without its terminal spinner.

        The spinner sets the root logger to DEBUG to spin on every record, so
        each aiokafka debug call on the hot path built a log record.
        """

        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.spinner = None

    require_broker_address(settings, "a worker")
    require_free_port(settings.web_bind, settings.web_port)
    wait_until_answers(settings.broker, timeout_s=15)
    if settings.uvloop:
        import uvloop

        # Before the worker makes its loop: uvloop's is several times cheaper
        # per callback than asyncio's, and a worker is mostly callbacks.
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if os.environ.get("INTAKE_TRACEMALLOC") == "1":
        import tracemalloc

        tracemalloc.start()
    app, context = create_app(settings)
    ensure_topics(settings.broker, {
        name: (spec.partitions, spec.compacted) for name, spec in context.specs.items()
    })
    worker = Worker(app, loglevel=settings.log_level.upper())
    worker.execute_from_commandline()


def require_broker_address(settings: Settings, who: str) -> None:
    if settings.broker == EMBEDDED:
        raise IntakeError(
            f"{who} needs the address of the broker the pipeline uses: start one "
            "with `python -m agents broker` and pass --broker host:port (or set "
            "INTAKE_BROKER); `python -m agents demo` does all of it at once"
        )


def require_free_port(host: str, port: int) -> None:
    """The worker's web port must be free: Faust would fail deep inside aiohttp."""
    import errno
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise IntakeError(
                    f"the worker's web port {host}:{port} is taken; pick another "
                    "with --web-port or INTAKE_WEB_PORT") from exc
            raise IntakeError(
                f"the worker's web server cannot listen on {host}:{port} "
                f"({exc.strerror}); check INTAKE_WEB_BIND (an address of this "
                "host) and INTAKE_WEB_PORT") from exc


def require_writable(path: Path | None) -> None:
    """Fail before a long run, not after it, when its output cannot be written."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a"):
            pass
    except OSError as exc:
        raise IntakeError(f"cannot write the summary to {path}: {exc}") from exc


def require_log(log: Path, limit: int | None) -> None:
    if not log.is_file():
        raise IntakeError(f"the log to replay is missing: {log}")
    if limit is not None and limit < 1:
        raise IntakeError(f"--limit must be at least 1 (got {limit})")


def worker_failure(log_path: Path) -> str:
    """The last lines a failed worker wrote in its last run, for the error
    message (an earlier run's traceback would mislead)."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return ""
    if RUN_MARK in text:  # from the line after the last run's mark
        text = text.rsplit(RUN_MARK, 1)[1].partition("\n")[2]
    lines = text.strip().splitlines()
    return "\n".join(lines[-5:])


def run_demo(settings: Settings, log: Path, limit: int | None,
             speed: float | None, source: str = "montgomery_pa",
             callers: bool = False) -> dict[str, Any]:
    """Broker, Redis, worker, fleet, replay, summary, clean shutdown."""
    from agents.fleet import FleetHeartbeat, publish_fleet
    from agents.redis_server import ensure_redis
    from agents.replay import format_summary, replay
    from agents.resources import load_models

    require_log(log, limit)
    run_dir = settings.data_dir / "demo"
    say(f"redis: checking {settings.redis_url}")
    redis_process = ensure_redis(settings.redis_url, run_dir / "redis")
    if redis_process is not None:
        say("redis: none answered; started a local redis-server for the demo")
    try:
        say("broker: " + ("starting the embedded Tansu broker" if settings.broker ==
                          EMBEDDED else f"using {settings.broker}"))
        with broker_for(settings.broker, run_dir / "broker.log") as bootstrap:
            say(f"broker: answering at {bootstrap}")
            worker_settings = Settings.from_env(
                broker=bootstrap, redis_url=settings.redis_url,
                app_id=settings.app_id, web_port=free_port(),
                data_dir=settings.data_dir,
                # A replay of old times: its windows close by the flush at
                # its end, not by the wall clock.
                surge_wall_clock=False,
            )
            with worker_process(worker_settings, run_dir / "worker.log") as process:
                say(f"worker: pid {process.pid}, log {run_dir / 'worker.log'}")
                try:
                    wait_for_worker(worker_settings.web_port, process)
                except IntakeError as exc:
                    tail = worker_failure(run_dir / "worker.log")
                    raise IntakeError(f"{exc}; its log ends:\n{tail}") from exc
                say(f"worker: ready, metrics at http://127.0.0.1:"
                    f"{worker_settings.web_port}/metrics")

                models = load_models(settings.models_dir)
                points = fleet_points(models, log, source, limit)
                units = publish_fleet(bootstrap, points, models.fleet,
                                      int(time.time() * 1000))
                say(f"fleet: {len(units)} simulated units published to units.status")
                # Fresh fixes through a paced replay, as a real fleet sends them.
                heartbeat = FleetHeartbeat(bootstrap, points, models.fleet,
                                           models.route.fix_stale_after_s / 3)
                heartbeat.start()
                try:
                    figures = replay(bootstrap, log, source, limit=limit,
                                     callers=callers, speed=speed,
                                     summary_path=run_dir / "summary.json")
                finally:
                    heartbeat.stop()
                page = read_metrics(worker_settings.web_port)
                figures["metrics"] = metric_figures(page)
                (run_dir / "summary.json").write_text(json.dumps(figures, indent=2))
                print(format_summary(figures,
                                     models.normalize.sources[source].zone))
                print(f"  summary written to {run_dir / 'summary.json'}")
            say("worker: stopped")
        say("broker: stopped")
        if settings.broker == EMBEDDED:
            # The units the worker kept in Redis belong to a broker that is
            # gone: a next run would start from them.
            from agents.redis_server import forget_app

            gone = forget_app(settings.redis_url, settings.app_id)
            say(f"redis: removed the run's {gone} keys ({settings.app_id}:*)")
    finally:
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=10)
    return figures


def fleet_points(models: Any, log: Path, source: str, limit: int | None
                 ) -> list[tuple[float, float]]:
    """The located rows of a ``source`` log inside its service area: where a
    simulated fleet is stationed."""
    from agents.fleet import log_points
    from agents.replay import FORMATS

    fmt = FORMATS[source]
    return log_points(log, models.normalize.sources[source], fmt.lat_column,
                      fmt.lon_column, limit=limit)


def metric_figures(text: str) -> dict[str, float]:
    """Sum each counter family of a Prometheus text page over its labels."""
    from prometheus_client.parser import text_string_to_metric_families

    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_total"):
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
                label = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                if label:
                    totals[f"{sample.name}{{{label}}}"] = sample.value
    return totals


def run_broker() -> None:
    # Block the stop signals first: sigwait takes them, and the finally below
    # stops the broker, instead of the default handler ending Python at once.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    settings = Settings.from_env()
    broker = EmbeddedBroker(port=int(os.environ.get("INTAKE_BROKER_PORT", "0")) or None,
                            log_path=settings.data_dir / "broker.log")
    bootstrap = broker.start()
    print(bootstrap, flush=True)
    say(f"embedded broker at {bootstrap}; set INTAKE_BROKER={bootstrap} for "
        "workers and tools; Ctrl-C stops it")
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        broker.stop()


def positive(text: str) -> float:
    """An argparse type: a number above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above zero: {text}")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m agents", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--broker", help='"embedded" or a Kafka host:port list')
        p.add_argument("--redis-url", help="redis://host:port/db")
        p.add_argument("--app-id", help="consumer group and key prefix")

    demo = sub.add_parser("demo", help="broker + worker + replay + summary")
    common(demo)
    demo.add_argument("--log", type=Path, default=DEMO_LOG)
    demo.add_argument("--source", default="montgomery_pa", choices=sorted(FORMATS),
                      help="the kind of log (its columns and time format)")
    demo.add_argument("--limit", type=int, help="replay only the first N records")
    demo.add_argument("--simulate-callers", action="store_true",
                      help="give each record a simulated caller (public logs withhold "
                      "callers' numbers), so status updates and surveys go out")
    demo.add_argument("--speed", type=positive, help="pace at N x real time "
                      "(default: as fast as possible)")

    worker = sub.add_parser("worker", help="run one streaming worker")
    common(worker)
    worker.add_argument("--web-port", type=int)

    sub.add_parser("broker", help="run the embedded broker until Ctrl-C")

    rep = sub.add_parser("replay", help="replay a log into a running pipeline")
    common(rep)
    rep.add_argument("--log", type=Path, default=DEMO_LOG)
    rep.add_argument("--source", default="montgomery_pa", choices=sorted(FORMATS),
                     help="the kind of log (its columns and time format)")
    rep.add_argument("--limit", type=int)
    rep.add_argument("--simulate-callers", action="store_true",
                     help="give each record a simulated caller (public logs withhold "
                      "callers' numbers), so status updates and surveys go out")
    rep.add_argument("--speed", type=positive)
    rep.add_argument("--summary", type=Path, help="also write the summary as JSON")

    eido = sub.add_parser("eido", help="export incidents on the board as EIDO-style "
                          "JSON files")
    common(eido)
    eido.add_argument("--out", type=Path, default=Path("var/eido"))
    eido.add_argument("--incident", action="append",
                      help="an incident id (repeat; default: every incident)")

    split = sub.add_parser("split", help="take a report out of an incident it was "
                           "merged into (the undo of a merge)")
    common(split)
    split.add_argument("--incident", required=True, help="the incident id")
    split.add_argument("--report", required=True, help="the report id to take out")
    split.add_argument("--by", required=True, help="who decides (kept with the split)")
    split.add_argument("--reason", default="", help="why (kept with the split)")

    fleet = sub.add_parser("fleet", help="publish a simulated fleet for a log's area")
    common(fleet)
    fleet.add_argument("--log", type=Path, default=DEMO_LOG)
    fleet.add_argument("--source", default="montgomery_pa", choices=sorted(FORMATS),
                       help="the kind of log (its columns and time format)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except IntakeError as exc:
        say(f"error: {exc}")
        return 2
    except (OSError, ValueError, EOFError, csv.Error) as exc:
        # A file that is not what it claims (not gzip, not a CSV log), a setting
        # that is not a number, a port taken: one line, not a traceback.
        logging.getLogger(__name__).debug("failed", exc_info=exc)
        say(f"error: {type(exc).__name__}: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env(
        broker=getattr(args, "broker", None),
        redis_url=getattr(args, "redis_url", None),
        app_id=getattr(args, "app_id", None),
        web_port=getattr(args, "web_port", None),
    )
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kafka-python reports every refused connection while a broker starts.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    if args.command == "worker":
        run_worker(settings)
    elif args.command == "broker":
        run_broker()
    elif args.command == "demo":
        run_demo(settings, args.log, args.limit, args.speed, args.source,
                 args.simulate_callers)
    elif args.command == "replay":
        from agents.replay import format_summary, replay
        from agents.resources import load_models

        require_broker_address(settings, "a replay")
        require_log(args.log, args.limit)
        require_writable(args.summary)
        with broker_for(settings.broker) as bootstrap:
            figures = replay(bootstrap, args.log, args.source,
                             limit=args.limit, speed=args.speed,
                             callers=args.simulate_callers,
                             summary_path=args.summary)
        sources = load_models(settings.models_dir).normalize.sources
        print(format_summary(figures, sources[args.source].zone))
    elif args.command == "eido":
        from agents.export import export_eido

        require_broker_address(settings, "the export")
        with broker_for(settings.broker) as bootstrap:
            try:
                written = export_eido(bootstrap, args.out, args.incident)
            except KeyError as exc:
                raise IntakeError(str(exc.args[0])) from exc
        say(f"wrote {len(written)} incidents to {args.out}")
    elif args.command == "split":
        from agents.export import send_split
        from agents.resources import load_topics

        require_broker_address(settings, "a split")
        if not args.by.strip():
            raise IntakeError("--by must name who decides the split")
        from agents.dedupe import MAX_SPLIT_REASON

        if len(args.reason) > MAX_SPLIT_REASON:
            raise IntakeError(f"--reason is kept with both incidents: at most "
                              f"{MAX_SPLIT_REASON} characters, not "
                              f"{len(args.reason):,}")
        partitions = load_topics(settings.topics_file)["incidents.commands"].partitions
        with broker_for(settings.broker) as bootstrap:
            try:
                command = send_split(bootstrap, args.incident, args.report, args.by,
                                     args.reason, partitions)
            except KeyError as exc:
                raise IntakeError(str(exc.args[0])) from exc
        say(f"sent: split {command['report_id']} out of {command['incident_id']} "
            f"(region {command['region']}). The worker carries it out (the board "
            "shows a split and a new incident) or refuses it (reports.deadletter, "
            "reason split_refused, says why)")
    elif args.command == "fleet":
        from agents.fleet import publish_fleet
        from agents.resources import load_models

        require_broker_address(settings, "the fleet tool")
        require_log(args.log, None)
        models = load_models(settings.models_dir)
        points = fleet_points(models, args.log, args.source, None)
        with broker_for(settings.broker) as bootstrap:
            units = publish_fleet(bootstrap, points, models.fleet,
                                  int(time.time() * 1000))
        say(f"published {len(units)} units to units.status")
    return 0
