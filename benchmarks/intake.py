"""Nothing lost at intake: raw reports in = normalized + dead-lettered.

Every recorded data file of ``../shared/data`` (as the messages its channel
would deliver: ``agents/feeds.py``) and a seeded corpus of malformed messages
(``benchmarks/malformed.py``) go through a real worker on an embedded broker.
Each raw message must come out of normalize exactly once: as a report on
``reports.normalized`` or as a dead letter with a reason; and the worker must
not restart an agent. Prints the counts by feed and by dead-letter reason; the
last line is one JSON object.

    python -m benchmarks.intake [--rows N] [--malformed M]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from agents.cli import read_metrics
from agents.feeds import shared_feeds
from agents.replay import Progress
from benchmarks.malformed import build_corpus
from benchmarks.workload import broker, pipeline_workers, say

#: (topic, key, value, label): a raw message and what it stands for.
Message = tuple[str, bytes | None, bytes, str]


def feed_messages(rows: int | None) -> list[Message]:
    return [(feed.topic, key, value, feed.name)
            for feed in shared_feeds() for key, value in feed.messages(rows)]


def corpus_messages(count: int, seed: int = 1) -> list[Message]:
    return [(topic, None, raw, f"malformed:{fault}")
            for topic, raw, fault in build_corpus(count, seed)]


def produce(bootstrap: str, messages: Iterable[Message]) -> dict[str, str]:
    """Send every message; return its raw ref (topic:partition:offset) -> label."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20,
                             batch_size=512 * 1024, max_request_size=2 * 1024**2,
                             acks=1, enable_idempotence=False)
    sent = [(producer.send(topic, key=key, value=value), label)
            for topic, key, value, label in messages]
    producer.flush()
    refs = {}
    for future, label in sent:
        meta = future.get(timeout=60)
        refs[f"{meta.topic}:{meta.partition}:{meta.offset}"] = label
    producer.close()
    return refs


@dataclass
class Outcome:
    """Where each raw message ended: normalized, or dead-lettered with a reason."""

    normalized: Counter[str] = field(default_factory=Counter)
    dead: dict[str, str] = field(default_factory=dict)

    def take(self, topic: str, value: bytes) -> None:
        if topic == "reports.normalized":
            for report in orjson.loads(value):
                self.normalized[report["raw_ref"]] += 1
        else:
            letter = orjson.loads(value)
            # A later stage's dead letter (``<stage>_error``) is not intake's.
            if letter.get("topic", "").startswith("reports.raw."):
                self.dead[letter["raw_ref"]] = letter["reason"]

    def accounted(self) -> int:
        return len(self.normalized.keys() | self.dead.keys())


def collect(bootstrap: str, refs: dict[str, str], stall_s: float = 120) -> Outcome:
    """Read normalize's outputs from the start until every ref is accounted for."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             fetch_max_wait_ms=200, max_partition_fetch_bytes=4 << 20)
    topics = ("reports.normalized", "reports.deadletter")
    partitions = [TopicPartition(t, p) for t in topics
                  for p in sorted(consumer.partitions_for_topic(t) or ())]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    outcome = Outcome()
    progress = Progress("intake accounted", len(refs))
    last_news = time.monotonic()
    try:
        while outcome.accounted() < len(refs):
            batch = consumer.poll(timeout_ms=500, max_records=10_000)
            for tp, records in batch.items():
                for record in records:
                    outcome.take(tp.topic, record.value)
                last_news = time.monotonic()
            progress.update(outcome.accounted())
            if time.monotonic() - last_news > stall_s:
                raise TimeoutError(f"intake stalled: {outcome.accounted()} of "
                                   f"{len(refs)} accounted for")
        time.sleep(1.0)  # a second copy of anything would arrive by now
        for tp, records in consumer.poll(timeout_ms=1000).items():
            for record in records:
                outcome.take(tp.topic, record.value)
    finally:
        consumer.close()
    progress.update(outcome.accounted(), force=True)
    return outcome


def check(refs: dict[str, str], outcome: Outcome) -> dict[str, Any]:
    """The invariant's figures: what is missing, doubled, or both."""
    normalized, dead = set(outcome.normalized), set(outcome.dead)
    by_label: dict[str, Counter[str]] = {}
    for ref, label in refs.items():
        if ref in normalized:
            outcome_of = "normalized"
        else:
            outcome_of = "dead_lettered" if ref in dead else "lost"
        by_label.setdefault(label.split(":")[0], Counter())[outcome_of] += 1
    return {
        "raw_in": len(refs),
        "normalized": len(normalized & refs.keys()),
        "dead_lettered": len(dead & refs.keys()),
        "lost": len(refs.keys() - normalized - dead),
        "both": len(normalized & dead),
        "normalized_twice": sum(1 for n in outcome.normalized.values() if n > 1),
        "dead_letter_reasons": dict(Counter(
            outcome.dead[r] for r in dead & refs.keys()).most_common()),
        "by_feed": {label: dict(counts) for label, counts in sorted(by_label.items())},
    }


def agent_restarts(web_port: int) -> int:
    """Agents the worker saw crash (Faust restarts a crashed agent's actor)."""
    text = read_metrics(web_port)
    crashed = [line for line in text.splitlines()
               if line.startswith("intake_agent_crashes_total")]
    return int(sum(float(line.split()[-1]) for line in crashed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, help="rows per data file (default all)")
    parser.add_argument("--malformed", type=int, default=5_000)
    args = parser.parse_args(argv)
    messages = feed_messages(args.rows) + corpus_messages(args.malformed)
    say(f"intake: {len(messages)} raw messages")
    with broker() as bootstrap, pipeline_workers(bootstrap, 1) as running:
        started = time.monotonic()
        refs = produce(bootstrap, messages)
        outcome = collect(bootstrap, refs)
        elapsed = time.monotonic() - started
        alive = all(p.poll() is None for p in running.processes)
        restarts = agent_restarts(running.settings.web_port)
    figures = check(refs, outcome)
    figures.update(elapsed_s=round(elapsed, 1), worker_alive=alive,
                   agent_restarts=restarts,
                   invariant_holds=(figures["lost"] == 0 and figures["both"] == 0
                                    and figures["normalized_twice"] == 0
                                    and alive and restarts == 0))
    for label, counts in figures["by_feed"].items():
        print(f"{label:<18} {counts}")
    print("dead letters by reason:")
    for reason, count in figures["dead_letter_reasons"].items():
        print(f"  {reason:<32} {count:>6}")
    print(f"raw in {figures['raw_in']} = normalized {figures['normalized']} + "
          f"dead-lettered {figures['dead_lettered']} (lost {figures['lost']}, "
          f"both {figures['both']}); agent restarts {restarts}")
    print(json.dumps(figures))
    return 0 if figures["invariant_holds"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
