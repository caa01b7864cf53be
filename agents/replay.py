"""Replay a recorded incident log into the raw topics and summarise what came out.

The replay reads a recorded log, produces each record to its raw topic (as fast
as possible, or paced by the records' own times at a speed factor), then reads
the terminal topics (board, dead letters, alerts, anomalies) until every record
it produced is accounted for, and prints the summary.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from agents.exceptions import IntakeError
from pipeline.localtime import zone
from pipeline.summary import RunSummary

logger = logging.getLogger(__name__)

MAX_ANOMALIES_SHOWN = 12
TERMINAL_TOPICS = ("incidents.board", "reports.deadletter", "alerts.outbound",
                   "anomalies.detected", "citizen.updates", "feedback.answers")


@dataclass(frozen=True)
class LogFormat:
    """How to read one kind of recorded log."""

    source: str
    topic: str
    time_column: str
    time_format: str
    #: The column naming the dispatch area: the key when a replay is spread
    #: over partitions by area.
    area_column: str
    #: The point's columns: where a simulated fleet is stationed.
    lat_column: str
    lon_column: str


FORMATS = {
    "montgomery_pa": LogFormat("montgomery_pa", "reports.raw.cad", "timeStamp",
                               "%Y-%m-%d %H:%M:%S", "twp", "lat", "lng"),
    "milwaukee_wi": LogFormat("milwaukee_wi", "reports.raw.cad", "time",
                              "%Y-%m-%d %H:%M:%S", "district", "latitude",
                              "longitude"),
}


#: What a log that is not UTF-8 is read as: a Windows export's code page,
#: with a byte it has no character for shown as U+FFFD, never a row lost.
FALLBACK_ENCODING = "cp1252"


def open_text(path: Path, encoding: str = "utf-8-sig") -> TextIO:
    errors = "strict" if encoding == "utf-8-sig" else "replace"
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding,
                                errors=errors, newline="")
    # utf-8-sig: a spreadsheet's byte-order mark too.
    return open(path, encoding=encoding, errors=errors, newline="")


def read_rows(path: Path, limit: int | None = None, start: int = 0
              ) -> list[dict[str, str]]:
    """Rows ``start`` up to (not including) ``limit`` of a CSV log, read as
    UTF-8, or as ``FALLBACK_ENCODING`` when it is not (said once)."""
    try:
        return _read_rows(path, limit, start, "utf-8-sig")
    except UnicodeDecodeError as exc:
        logger.warning("%s is not UTF-8 (byte %d); read as %s", path, exc.start,
                       FALLBACK_ENCODING)
        print(f"replay: {path} is not UTF-8; read as {FALLBACK_ENCODING}",
              file=sys.stderr)
        return _read_rows(path, limit, start, FALLBACK_ENCODING)


def _read_rows(path: Path, limit: int | None, start: int, encoding: str
               ) -> list[dict[str, str]]:
    with open_text(path, encoding) as handle:
        rows = []
        reader = csv.DictReader(handle)
        try:
            for index, row in enumerate(reader):
                if limit is not None and index >= limit:
                    break
                if None in row or None in row.values():
                    raise ValueError(f"{path}: row {index + 1} has other fields "
                                     "than the header: not a CSV log")
                if index >= start:
                    rows.append(row)
        except csv.Error as exc:
            # The line it failed on is not counted yet.
            raise ValueError(f"{path}: line {reader.line_num + 1}: {exc}") from exc
    return rows


#: Simulated callback numbers: the fictional 555 exchange, one per record.
SIMULATED_CALLER = "+1555{:07d}"


def envelopes(rows: list[dict[str, str]], fmt: LogFormat,
              callers: bool = False) -> Iterator[bytes]:
    """The CAD envelope of each row. Public logs withhold callers' numbers;
    with ``callers`` each record gets a simulated callback number of its own
    (``caller_number``, as a CAD adapter passes the ANI), so status updates and
    surveys have someone to reach."""
    for index, row in enumerate(rows):
        envelope: dict[str, Any] = {"source": fmt.source, "row": row}
        if callers:
            envelope["caller_number"] = SIMULATED_CALLER.format(index % 10_000_000)
        yield orjson.dumps(envelope)


class Progress:
    """A progress line on stderr at most every ``every_s`` seconds."""

    def __init__(self, label: str, total: int, every_s: float = 2.0,
                 stream: TextIO = sys.stderr):
        self.label, self.total = label, total
        self.every_s, self.stream = every_s, stream
        self.started = self.last = time.monotonic()

    def update(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.every_s:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        share = 100 * done / self.total if self.total else 100.0
        print(f"{self.label}: {done}/{self.total} ({share:.0f}%), {rate:,.0f}/s",
              file=self.stream, flush=True)


def end_offsets(bootstrap: str, topics: tuple[str, ...]) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        return dict(consumer.end_offsets(partitions)) if partitions else {}
    finally:
        consumer.close()


#: With ``speed``, a gap between two rows' times longer than this (seconds of
#: the log's time) is not waited for.
MAX_GAP_S = 3600.0


def row_stamp(row: dict[str, str], fmt: LogFormat) -> float | None:
    """A row's time in seconds, for pacing only (the gaps matter, not the
    zone); None when it is not a time (normalize dead-letters the row).

    >>> fmt = FORMATS["montgomery_pa"]
    >>> row_stamp({"timeStamp": "2016-01-01 00:00:10"}, fmt) - row_stamp(
    ...     {"timeStamp": "2016-01-01 00:00:00"}, fmt)
    10.0
    >>> row_stamp({"timeStamp": "not a time"}, fmt) is None
    True
    """
    try:
        text = row.get(fmt.time_column, "")
        naive = datetime.strptime(text, fmt.time_format)  # noqa: DTZ007
    except ValueError:
        return None
    return naive.timestamp()


def produce(bootstrap: str, fmt: LogFormat, rows: list[dict[str, str]],
            speed: float | None = None, rate: float | None = None,
            by_area: bool = False, linger_ms: int = 5, callers: bool = False
            ) -> set[str]:
    """Send rows to the raw topic; return the refs (topic:partition:offset) sent.

    As fast as possible by default; with ``speed``, the gaps between the
    records' own times divided by ``speed``; with ``rate``, evenly at that many
    records per second (an offered load, whatever the log's own pace).

    Keyed by source, a feed's records share one partition and keep their order,
    as a live CAD feed's would. ``by_area`` keys them by dispatch area instead:
    each area's records keep their order and the load spreads over partitions
    (and workers). ``linger_ms``: how long the producer waits to fill a batch
    (the embedded broker's fetches slow down with the number of batches it
    holds; latency is measured from the send).
    """
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=linger_ms,
                             batch_size=256 * 1024, acks=1,
                             enable_idempotence=False)
    futures = []
    progress = Progress("replay sent", len(rows))
    last_stamp: float | None = None
    due = time.monotonic()
    started = due
    for index, (row, value) in enumerate(zip(rows, envelopes(rows, fmt, callers),
                                                   strict=True)):
        if rate:
            pause = started + index / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        elif speed:
            stamp = row_stamp(row, fmt)
            gap = 0.0 if stamp is None or last_stamp is None else stamp - last_stamp
            if gap > MAX_GAP_S:
                # A row dated far after the one before (a mistyped year): sent
                # now, and the pace goes on from the row before it.
                print(f"replay: row {index + 1} is {gap / 3600:,.0f} h after the "
                      "row before; not waited for", file=sys.stderr, flush=True)
            elif stamp is not None and gap >= 0:
                due += gap / speed
                last_stamp = stamp
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        key = row.get(fmt.area_column, "") if by_area else fmt.source
        futures.append(producer.send(fmt.topic, key=f"{fmt.source}|{key}".encode(),
                                     value=value))
        progress.update(index + 1)
    producer.flush()
    producer.close()
    progress.update(len(rows), force=True)
    refs = set()
    for future in futures:
        meta = future.get(timeout=30)
        refs.add(f"{meta.topic}:{meta.partition}:{meta.offset}")
    return refs


#: Where an end-of-replay flush goes, how it is wrapped, and where the answer
#: comes: surge closes its count windows, citizen its open incidents.
FLUSHES = (("reports.by_area", True, "anomalies.detected"),
           ("dispatch.outcomes", False, "citizen.updates"))


def flush_windows(bootstrap: str, token: str) -> set[tuple[str, int]]:
    """Ask every surge partition to close its open windows, and every citizen
    partition its open incidents; return the (topic, partition) answers due."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    targets = {topic: sorted(consumer.partitions_for_topic(topic) or ())
               for topic, _, _ in FLUSHES}
    consumer.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    due = set()
    control = {"control": "flush", "token": token}
    for topic, bundled, answer_topic in FLUSHES:
        value = orjson.dumps([control] if bundled else control)
        for partition in targets[topic]:
            producer.send(topic, key=b"__control__", partition=partition,
                          value=value)
            due.add((answer_topic, partition))
    producer.flush()
    producer.close()
    return due


class Collector:
    """Reads the terminal topics and keeps what belongs to one replay.

    Board records, dead letters and alerts are this replay's when they carry one
    of its raw refs; anomalies when detected after it started. Nothing relies on
    the broker's end offsets to decide what is new (the embedded broker's
    answer to "latest offset" lags behind its last batch).
    """

    def __init__(self, summary: RunSummary, refs: set[str], started_ms: int,
                 token: str):
        self.summary, self.refs = summary, refs
        self.started_ms, self.token = started_ms, token
        self.flushed: set[tuple[str, int]] = set()

    def take(self, topic: str, record: dict[str, Any]) -> None:
        if record.get("control") == "flushed":
            if record.get("token") == self.token:
                self.flushed.add((topic, int(record["partition"])))
        elif topic == "anomalies.detected":
            if record.get("at_ms", 0) >= self.started_ms:
                self.summary.add_anomaly(record)
        elif topic == "alerts.outbound" and record.get("surge"):
            if record.get("at_ms", 0) >= self.started_ms:
                self.summary.add_surge_alert(record)
        elif topic == "citizen.updates":
            if record.get("reply_to") in self.refs:
                self.summary.add_citizen_update(record)
        elif topic == "feedback.answers":
            self.summary.add_answer(record)
        elif record.get("raw_ref") in self.refs:
            if topic == "incidents.board":
                self.summary.add_board(record)
            elif topic == "reports.deadletter":
                self.summary.add_dead_letter(record)
            elif topic == "alerts.outbound":
                self.summary.add_alert(record)


def readable(value: bytes | None) -> dict[str, Any] | None:
    """A record's JSON object, or None: feedback.answers is written by other
    programs, and the worker dead-letters what it cannot read there; the
    replay's count must not stop on it either.

    >>> readable(b'{"a": 1}'), readable(b"[1]"), readable(b"not json")
    ({'a': 1}, None, None)
    """
    try:
        record = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def collect(bootstrap: str, since: dict[TopicPartition, int], collector: Collector,
            stall_s: float = 60.0) -> float:
    """Read until every ref is accounted for and every surge and citizen
    partition flushed.

    Returns the monotonic time at which the last ref was accounted for. Raises
    ``TimeoutError`` when nothing new arrives for ``stall_s`` seconds.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             fetch_max_wait_ms=100)
    consumer.assign(list(since))
    for tp, offset in since.items():
        consumer.seek(tp, offset)
    summary, refs = collector.summary, collector.refs
    progress = Progress("pipeline done", len(refs))
    last_news = time.monotonic()
    flushing: set[tuple[str, int]] | None = None
    drained_at = 0.0
    try:
        while True:
            batch = consumer.poll(timeout_ms=200, max_records=5000)
            for tp, records in batch.items():
                for record in records:
                    value = readable(record.value)
                    if value is not None:
                        collector.take(tp.topic, value)
                last_news = time.monotonic()
            progress.update(len(summary.accounted & refs))
            if flushing is None and refs <= summary.accounted:
                drained_at = time.monotonic()
                flushing = flush_windows(bootstrap, collector.token)
                last_news = time.monotonic()
            if flushing is not None and flushing <= collector.flushed and not batch:
                break  # drained, flushed, and one quiet poll for stragglers
            if time.monotonic() - last_news > stall_s:
                missing = len(refs - summary.accounted)
                raise TimeoutError(
                    f"the pipeline stalled: {missing} of {len(refs)} reports not "
                    f"accounted for after {stall_s:.0f} s without progress"
                )
    finally:
        consumer.close()
    progress.update(len(refs), force=True)
    return drained_at


def replay(bootstrap: str, path: Path, source: str,
           limit: int | None = None, speed: float | None = None,
           summary_path: Path | None = None, stall_s: float = 60.0,
           start: int = 0, callers: bool = False) -> dict[str, Any]:
    """Replay a log through a running pipeline; return (and write) the summary.

    ``callers``: give each record a simulated caller (``envelopes``)."""
    fmt = FORMATS.get(source)
    if fmt is None:
        raise ValueError(f"unknown log source {source!r}; known: {sorted(FORMATS)}")
    rows = read_rows(path, limit, start)
    if rows and fmt.time_column not in rows[0]:
        raise ValueError(f"{path} is not a {source} log: it has no column "
                         f"{fmt.time_column!r}")
    figures = replay_rows(bootstrap, fmt, rows, speed=speed, stall_s=stall_s,
                          callers=callers)
    figures["source"] = str(path.name)
    figures["simulated_callers"] = callers
    if summary_path is not None:
        summary_path.parent.mkdir(parents=True, exist_ok=True)
        summary_path.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


def replay_rows(bootstrap: str, fmt: LogFormat, rows: list[dict[str, str]],
                speed: float | None = None, rate: float | None = None,
                stall_s: float = 60.0, by_area: bool = False,
                linger_ms: int = 5, callers: bool = False) -> dict[str, Any]:
    """Replay rows already read; return the summary's figures."""
    try:
        since = end_offsets(bootstrap, TERMINAL_TOPICS)
    except KafkaError as exc:
        raise IntakeError(f"cannot read the terminal topics: {exc!r}") from exc
    if len(since) < len(TERMINAL_TOPICS):
        raise IntakeError("the terminal topics do not exist yet: is a worker running?")

    started = time.monotonic()
    started_ms = int(time.time() * 1000)
    refs = produce(bootstrap, fmt, rows, speed=speed, rate=rate, by_area=by_area,
                   linger_ms=linger_ms, callers=callers)
    summary = RunSummary(reports_read=len(rows))
    collector = Collector(summary, refs, started_ms, token=uuid.uuid4().hex)
    drained_at = collect(bootstrap, since, collector, stall_s)
    # Throughput runs from the first report sent to the last one accounted for.
    return summary.figures(drained_at - started)


def delivery_lines(metrics: dict[str, float]) -> list[str]:
    """What reached recipients, from the worker's counters (a demo has them):
    per-recipient rate limits hold the rest for digests."""
    if "intake_alert_deliveries_total" not in metrics:
        return []
    return [f"  alert deliveries    {metrics['intake_alert_deliveries_total']:>9,.0f}"
            f"  held by rate limits "
            f"{metrics.get('intake_alert_rate_limited_total', 0):,.0f}, digests "
            f"{metrics.get('intake_alert_digests_total', 0):,.0f} (held ones go out "
            "as a digest once a recipient's window has room)"]


def redelivery_lines(figures: dict[str, Any]) -> list[str]:
    """What a worker killed before its commit sent twice, when it did: board
    records delivered again, and reports that then named another incident.

    >>> redelivery_lines({"board_redeliveries": 0})
    []
    >>> redelivery_lines({"board_redeliveries": 9, "reports_in_two_incidents": 2})
    ['  redelivered                 9 board records; 2 reports in two incidents']
    """
    again = figures.get("board_redeliveries", 0)
    if not again:
        return []
    return [f"  {'redelivered':<20}{again:>9,} board records; "
            f"{figures.get('reports_in_two_incidents', 0):,} reports in two "
            "incidents"]


def surge_why(anomaly: dict[str, Any]) -> str:
    """A flagged window's count against the range expected, or, when the count
    is inside it, what the detector saw instead (a rhythm that broke).

    >>> surge_why({"count": 19, "expected_high": 7.2})
    '19 reports (expected <= 7.2)'
    >>> surge_why({"count": 5, "expected_high": 7.2,
    ...            "reason": "the shape of the last 4 inputs: further"})
    '5 reports (expected <= 7.2), flagged for the shape of the last 4 inputs: further'
    """
    count, high = anomaly["count"], float(anomaly["expected_high"])
    said = f"{count} reports (expected <= {high:.1f})"
    reason = anomaly.get("reason") or ""
    if count > high or not reason:
        return said
    return f"{said}, flagged for {reason}"


def format_summary(figures: dict[str, Any], zone_name: str = "UTC") -> str:
    """The summary for a terminal; surge windows in ``zone_name``, the
    source's local time, as its alerts give them."""
    latency = figures["latency_ms"]
    updates = figures["citizen_updates"]
    lines = [
        f"replayed {figures['source']}",
        f"  reports read        {figures['reports_read']:>9,}",
        f"  accounted for       {figures['reports_accounted']:>9,}",
        f"  dead-lettered       {figures['dead_lettered_total']:>9,}  "
        f"{figures['dead_lettered'] or ''}",
        f"  incidents           {figures['incidents']:>9,}",
        f"  scored, reasons     {figures['incidents_scored']:>9,}  with reasons "
        f"{figures['incidents_with_reasons']:,}, moved by the model "
        f"{figures['priority_model_moved']:,}, by priority {figures['priorities']}",
        f"  merges              {figures['merges']:>9,}",
        f"  moved by a reporter {figures.get('moved_by_reporter_fix', 0):>9,}  "
        f"(incidents left with no report {figures.get('incidents_emptied', 0):,})",
        f"  repeats ignored     {figures['repeats']:>9,}",
        *redelivery_lines(figures),
        f"  newer versions      {figures['updates']:>9,}",
        f"  alerts              {figures['alerts']:>9,}  {figures['alerts_by_rule']}",
        f"  alerts suppressed   {figures['alerts_suppressed']:>9,}",
        f"  alerts addressed    {figures['alerts_by_recipient']}",
        *delivery_lines(figures.get("metrics", {})),
        f"  alert updates       {sum(figures['alert_updates'].values()):>9,}  "
        f"collapsed {figures['alerts_collapsed']:,}",
        f"  escalations         {sum(figures['alert_escalations'].values()):>9,}",
        f"  units assigned      {figures['units_assigned']:>9,}  "
        f"{figures['units_recommended']}",
        f"  open slots, why     {figures['route_shortfalls']}",
        *(f"    {p['incident_id']} {p['kind']}: {p['unit_id']} for "
          f"{p.get('capability', '?')}, {'; '.join(p.get('reasons', ()))}"
          for p in figures["unit_pick_examples"]),
        f"  anomalies flagged   {figures['anomalies_flagged']:>9,}",
        f"  surge alerts        {figures.get('surge_alerts', 0):>9,}  "
        f"{figures.get('surge_alerts_by_rule', {})}",
        f"  citizen updates     {sum(sum(c.values()) for c in updates.values()):>9,}"
        f"  {updates}",
        f"  surveys sent        {figures['surveys_sent']:>9,}  answered "
        f"{figures['survey_answers']:,}",
        f"  latency ms          p50 {latency['p50']}  p95 {latency['p95']}  "
        f"p99 {latency['p99']}",
        f"  throughput          {figures['throughput_rps']:>9,} reports/s over "
        f"{figures['elapsed_s']} s",
    ]
    anomalies = figures.get("anomalies", [])
    for anomaly in anomalies[:MAX_ANOMALIES_SHOWN]:
        start = datetime.fromtimestamp(anomaly["start_ms"] / 1000,
                                       tz=zone(zone_name))
        lines.append(f"    surge {anomaly['key']:<28} {start:%Y-%m-%d %H:%M %Z}  "
                     f"{surge_why(anomaly)}")
    if len(anomalies) > MAX_ANOMALIES_SHOWN:
        lines.append(f"    ... and {len(anomalies) - MAX_ANOMALIES_SHOWN} more in the "
                     "summary's JSON")
    return "\n".join(lines)
