"""Throughput: N real reports through the whole pipeline, and through a plain chain.

Both run on the same broker in one run: first the pipeline (normalize, dedupe,
score, route, alert, plus the surge counts), replaying the first N rows of the
Montgomery County log as fast as possible; then the same N records through the
five-hop pass-through chain of ``benchmarks/chain_app.py``. It prints figures
and ends with one JSON line; it never fails on speed.

    python -m benchmarks.throughput --reports 20000
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from agents.fleet import log_points, publish_fleet
from agents.replay import Progress, read_rows, replay
from agents.resources import load_models
from benchmarks.workload import (
    broker,
    chain_worker,
    montgomery_log,
    pipeline_worker,
    say,
)
from pipeline.summary import percentile


def bench_pipeline(bootstrap: str, reports: int) -> dict[str, Any]:
    with pipeline_worker(bootstrap) as settings:
        models = load_models(settings.models_dir)
        area = models.normalize.sources["montgomery_pa"]
        publish_fleet(bootstrap, log_points(montgomery_log(), area, limit=reports),
                      models.fleet, int(time.time() * 1000))
        time.sleep(1.0)
        figures = replay(bootstrap, montgomery_log(), "montgomery_pa",
                         limit=reports, stall_s=120)
    return figures


def bench_chain(bootstrap: str, reports: int) -> dict[str, Any]:
    """Send N report envelopes through the chain; time their arrival at the end."""
    rows = read_rows(montgomery_log(), reports)
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
    args = parser.parse_args(argv)

    with broker() as bootstrap:
        say(f"bench: broker at {bootstrap}; {args.reports} reports")
        pipeline = bench_pipeline(bootstrap, args.reports)
        say(f"bench: pipeline {pipeline['throughput_rps']} reports/s")
        chain = bench_chain(bootstrap, args.reports)
        say(f"bench: five-hop chain {chain['chain_rps']} reports/s")

    latency = pipeline["latency_ms"]
    figures = {
        "reports": args.reports,
        "pipeline_rps": pipeline["throughput_rps"],
        **chain,
        "ratio": round(pipeline["throughput_rps"] / chain["chain_rps"], 2),
        "p50_ms": latency["p50"],
        "p95_ms": latency["p95"],
        "p99_ms": latency["p99"],
        "incidents": pipeline["incidents"],
        "alerts": pipeline["alerts"],
    }
    print(f"pipeline: {figures['pipeline_rps']} reports/s, latency p50 "
          f"{figures['p50_ms']} ms, p99 {figures['p99_ms']} ms")
    print(f"chain:    {figures['chain_rps']} reports/s, latency p50 "
          f"{figures['chain_p50_ms']} ms, p99 {figures['chain_p99_ms']} ms")
    print(f"ratio:    {figures['ratio']}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
