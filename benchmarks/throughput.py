"""Throughput, latency under load, scale-out and memory, in one run.

1. the full pipeline (normalize, dedupe, score, route, alert, and the surge
   counts) replays the first N rows of the Montgomery County log as fast as
   possible on one worker, and on the same broker the same N records go
   through the plain five-hop chain of ``benchmarks/chain_app.py``: the ratio
   of the two rates;
2. on a fresh broker, the pipeline again on two workers of one app: faster,
   and the same results?
3. end-to-end latency (raw message created to its incident on the board) at a
   fixed offered load of 500 reports/s, and at 80% of the measured maximum;
4. the worker's resident memory before and after a soak of M minutes at that
   80% load.

It prints figures and ends with one JSON line; it never fails on speed.

    python -m benchmarks.throughput --reports 20000 --soak-minutes 5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Protocol

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from agents.fleet import log_points, publish_fleet
from agents.replay import FORMATS, Progress, read_rows, replay_rows
from agents.resources import load_models
from benchmarks.workload import (
    broker,
    chain_worker,
    looped_rows,
    montgomery_log,
    pipeline_workers,
    say,
)
from pipeline.summary import percentile

FMT = FORMATS["montgomery_pa"]
LATENCY_WINDOW_S = 20
WARM_REPORTS = 80_000
SOAK_FETCH_WAIT_MS = 200
SOAK_LINGER_MS = 50
SAME = ("reports_accounted", "incidents", "merges", "alerts", "units_assigned")


def publish_units(bootstrap: str, models_dir: Path, rows: int) -> None:
    models = load_models(models_dir)
    area = models.normalize.sources["montgomery_pa"]
    publish_fleet(bootstrap, log_points(montgomery_log(), area, limit=rows),
                  models.fleet, int(time.time() * 1000))
    time.sleep(1.0)  # the units stage stores the fleet before incidents arrive


def bench_pipeline(bootstrap: str, rows: list[dict[str, str]], workers: int
                   ) -> dict[str, Any]:
    with pipeline_workers(bootstrap, workers) as running:
        publish_units(bootstrap, running.settings.models_dir, len(rows))
        return replay_rows(bootstrap, FMT, rows, stall_s=120)


def bench_load(bootstrap: str, rows: list[dict[str, str]], max_rps: float,
               soak_minutes: float) -> dict[str, Any]:
    """Latency at 500/s and at 80% of max, then memory over a soak at 80%."""
    figures: dict[str, Any] = {}
    with pipeline_workers(bootstrap, 1) as running:
        publish_units(bootstrap, running.settings.models_dir, len(rows))
        at_500 = replay_rows(bootstrap, FMT, looped_rows(rows, 500 * LATENCY_WINDOW_S),
                             rate=500, stall_s=120)
        figures.update(p50_ms_at_500=at_500["latency_ms"]["p50"],
                       p95_ms_at_500=at_500["latency_ms"]["p95"],
                       p99_ms_at_500=at_500["latency_ms"]["p99"])
        say(f"bench: at 500/s p99 {figures['p99_ms_at_500']} ms")

        rate = round(0.8 * max_rps)
        at_80 = replay_rows(bootstrap, FMT,
                            looped_rows(rows, rate * LATENCY_WINDOW_S),
                            rate=rate, stall_s=120)
        figures.update(load_80pct_rps=rate,
                       p50_ms_at_80pct=at_80["latency_ms"]["p50"],
                       p99_ms_at_80pct=at_80["latency_ms"]["p99"])
        say(f"bench: at {rate}/s p99 {figures['p99_ms_at_80pct']} ms")

    if soak_minutes > 0:
        figures.update(soak(rows, rate, soak_minutes))
    return figures


def soak(rows: list[dict[str, str]], rate: int, minutes: float) -> dict[str, Any]:
    """Worker memory before and after ``minutes`` at ``rate``, on a fresh broker.

    The worker first takes ``WARM_REPORTS`` at that rate, so its bounded caches
    (``lru_cache`` of 65,536 entries each) are full when the soak starts: what
    grows after that is what the soak measures. The soak's worker lets the
    broker hold a fetch ``SOAK_FETCH_WAIT_MS``: the embedded broker's fetch cost
    grows with the record batches it holds, and with a 20 ms wait it starved
    partitions a few hundred thousand messages in (docs/embedded-broker.md);
    for the same reason the soak's replay fills batches for ``SOAK_LINGER_MS``.
    A stall is still reported in the figures, not raised.
    """
    figures: dict[str, Any] = {"soak_minutes": minutes,
                               "soak_fetch_wait_ms": SOAK_FETCH_WAIT_MS,
                               "soak_replay_linger_ms": SOAK_LINGER_MS}
    with broker() as bootstrap, pipeline_workers(
            bootstrap, 1, fetch_max_wait_ms=SOAK_FETCH_WAIT_MS) as running:
        publish_units(bootstrap, running.settings.models_dir, len(rows))
        warm_n = max(rate * 5, WARM_REPORTS)
        # One run of new reports: the soak's come after the warm-up's.
        every = looped_rows(rows, warm_n + int(rate * minutes * 60))
        replay_rows(bootstrap, FMT, every[:warm_n], rate=rate, stall_s=120,
                    by_area=True, linger_ms=SOAK_LINGER_MS)
        figures["rss_mb_start"] = running.rss_mb()
        load = every[warm_n:]
        started = time.monotonic()
        try:
            soaked = replay_rows(bootstrap, FMT, load, rate=rate, stall_s=120,
                                 by_area=True, linger_ms=SOAK_LINGER_MS)
            figures["p99_ms_in_soak"] = soaked["latency_ms"]["p99"]
        except TimeoutError as exc:
            figures["soak_stalled"] = str(exc)
        figures.update(rss_mb_end=running.rss_mb(), soak_reports=len(load),
                       soak_s=round(time.monotonic() - started, 1))
    say(f"bench: soak RSS {figures['rss_mb_start']} -> {figures['rss_mb_end']} MiB"
        + (" (stalled)" if "soak_stalled" in figures else ""))
    return figures


class Meter(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


def bench_chain(bootstrap: str, rows: list[dict[str, str]],
                meter: Meter | None = None) -> dict[str, Any]:
    """Send the rows through the chain; time their arrival at its end.

    ``meter`` is started right before the first send and stopped right after
    the last arrival (``benchmarks/cpu_budget.py`` reads CPU time with it).
    """
    reports = len(rows)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             fetch_max_wait_ms=50)
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1,
                             enable_idempotence=False)
    with chain_worker(bootstrap) as process:
        # Warm up: one message through all five hops proves the chain is ready.
        deadline = time.monotonic() + 120
        while not consumer.partitions_for_topic("chain.5"):
            producer.send("chain.0", value=b'{"warmup": true}')
            producer.flush()
            time.sleep(0.5)
            if process.poll() is not None or time.monotonic() > deadline:
                raise TimeoutError("the chain did not start (see var/bench/chain.log)")
        partitions = [TopicPartition("chain.5", p)
                      for p in sorted(consumer.partitions_for_topic("chain.5"))]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        warm = False
        while not warm:
            for records in consumer.poll(timeout_ms=200).values():
                warm = warm or any(b"warmup" in r.value for r in records)
            if time.monotonic() > deadline:
                raise TimeoutError("no warm-up message came out of the chain")

        if meter is not None:
            meter.start()
        started = time.monotonic()
        for seq, row in enumerate(rows):
            value = orjson.dumps({"seq": seq, "sent_ms": time.time() * 1000,
                                  "source": "montgomery_pa", "row": row})
            producer.send("chain.0", value=value)
        producer.flush()

        seen: set[int] = set()
        latencies: list[float] = []
        progress = Progress("chain done", reports)
        last_news = time.monotonic()
        while len(seen) < reports:
            for records in consumer.poll(timeout_ms=200, max_records=5000).values():
                now_ms = time.time() * 1000
                for record in records:
                    message = orjson.loads(record.value)
                    if "seq" in message and message["seq"] not in seen:
                        seen.add(message["seq"])
                        latencies.append(round(now_ms - message["sent_ms"], 1))
                last_news = time.monotonic()
            progress.update(len(seen))
            if time.monotonic() - last_news > 120:
                raise TimeoutError(f"the chain stalled at {len(seen)} of {reports}")
        elapsed = time.monotonic() - started
        if meter is not None:
            meter.stop()
    consumer.close()
    producer.close()
    latencies.sort()
    return {
        "chain_rps": round(reports / elapsed, 1),
        "chain_p50_ms": percentile(latencies, 50),
        "chain_p99_ms": percentile(latencies, 99),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--soak-minutes", type=float, default=5.0)
    args = parser.parse_args(argv)
    rows = read_rows(montgomery_log(), args.reports)

    # The pipeline and the chain run side by side on one broker. Each later
    # step gets a fresh broker: a new app on a used embedded broker starts at
    # its "latest" offsets, which lag, and would read the last batch again.
    with broker() as bootstrap:
        say(f"bench: broker at {bootstrap}; {len(rows)} reports")
        one = bench_pipeline(bootstrap, rows, workers=1)
        say(f"bench: pipeline, one worker: {one['throughput_rps']} reports/s")
        chain = bench_chain(bootstrap, rows)
        say(f"bench: five-hop chain: {chain['chain_rps']} reports/s")
    with broker() as bootstrap:
        two = bench_pipeline(bootstrap, rows, workers=2)
        say(f"bench: pipeline, two workers: {two['throughput_rps']} reports/s")
    with broker() as bootstrap:
        load = bench_load(bootstrap, rows, one["throughput_rps"], args.soak_minutes)

    latency = one["latency_ms"]
    figures = {
        "reports": len(rows),
        "pipeline_rps": one["throughput_rps"],
        "pipeline_rps_2_workers": two["throughput_rps"],
        "same_results_2_workers": all(one[k] == two[k] for k in SAME),
        "differences_2_workers": {k: [one[k], two[k]] for k in SAME
                                  if one[k] != two[k]},
        **chain,
        "ratio": round(one["throughput_rps"] / chain["chain_rps"], 2),
        "ratio_2_workers": round(two["throughput_rps"] / chain["chain_rps"], 2),
        "p50_ms": latency["p50"],
        "p95_ms": latency["p95"],
        "p99_ms": latency["p99"],
        **load,
        "incidents": one["incidents"],
        "merges": one["merges"],
        "alerts": one["alerts"],
    }
    print(f"pipeline: {figures['pipeline_rps']} reports/s on one worker, "
          f"{figures['pipeline_rps_2_workers']} on two "
          f"(same results: {figures['same_results_2_workers']})")
    print(f"chain:    {figures['chain_rps']} reports/s; ratio {figures['ratio']} "
          f"(two workers: {figures['ratio_2_workers']})")
    print(f"latency:  p99 {figures['p99_ms_at_500']} ms at 500/s, "
          f"{figures['p99_ms_at_80pct']} ms at {figures['load_80pct_rps']}/s")
    if "rss_mb_end" in figures:
        print(f"memory:   {figures['rss_mb_start']} -> {figures['rss_mb_end']} MiB "
              f"over {figures['soak_minutes']} min"
              + (f" ({figures['soak_stalled']})" if "soak_stalled" in figures else ""))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
