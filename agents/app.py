"""The Faust app: settings, topics from ``topics.yaml``, and every stage's agent.

``create_app`` builds a fresh app for one worker process; nothing is configured
at import time, so tests and tools can build apps with their own settings.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import faust
import orjson
from aiokafka.errors import MessageSizeTooLargeError
from faust.streams import _current_event
from faust.types import EventT, StreamT, TableT, TopicT

from agents import metrics
from agents.health import RedisHealth
from agents.resources import Models, TopicSpec, load_models, load_topics
from agents.settings import Settings
from pipeline.bundle import BundlePacker, partition_for, unbundle
from pipeline.schema import DeadLetter

logger = logging.getLogger(__name__)

# A dead letter keeps this much of the original (base64 makes it a third more).
MAX_ORIGINAL_BYTES = 64 * 1024


def now_ms() -> int:
    return int(time.time() * 1000)


def raw_ref(event: EventT) -> str:
    """Where a message sits: the identity every stage carries to the board."""
    message = event.message
    return f"{message.topic}:{message.partition}:{message.offset}"


def value_of(event: EventT) -> bytes:
    """The raw value of an event; a tombstone (no value) reads as empty bytes."""
    value = event.message.value
    return value if isinstance(value, bytes) else b""


def describe(event: EventT) -> str:
    """Topic, partition, offset and key of an event, for error logs.

    A raw topic's key may be a phone number or a handle (an SMS is keyed by
    its sender): logs show only a short hash of it, enough to tell keys apart.
    """
    message = event.message
    key = message.key if isinstance(message.key, bytes) else b""
    digest = hashlib.sha256(key).hexdigest()[:12] if key else "-"
    return (f"topic={message.topic} partition={message.partition} "
            f"offset={message.offset} key_sha256={digest}")


def table_get(table: TableT, key: str) -> Any:
    """A table's value for ``key``, or None when it holds none.

    Read from the table's store: ``Table.get`` goes through ``Mapping.get``,
    Faust's sensors and, for a key the table lacks, ``__missing__`` and a
    caught KeyError. The hot paths mostly miss (a new incident has no alert
    state, follow-up or stored cells yet). The memory store keeps its values
    in a plain dict, read directly; another store answers through its own
    ``get``.
    """
    store = table.data
    values = getattr(store, "data", None)
    return (values if isinstance(values, dict) else store).get(key)


def as_current(event: EventT) -> None:
    """Make ``event`` the stream's current event before a table write.

    A batch from ``take_events`` leaves the *last* event current; Faust picks
    the changelog partition of a table write from the current event, so each
    write must name its own event or the key lands in the wrong partition.
    """
    _current_event.set(weakref.ref(event))


@dataclass
class Context:
    """What every stage's agent needs: the app, its topics, models, settings."""

    app: faust.App
    settings: Settings
    models: Models
    specs: dict[str, TopicSpec]
    topics: dict[str, TopicT] = field(default_factory=dict)
    #: Set by the units stage: the global table of unit statuses and the Redis
    #: client, both read by the route stage.
    units_table: Any = None
    redis: Any = None
    redis_health: RedisHealth = field(default_factory=RedisHealth)

    def topic(self, name: str) -> TopicT:
        return self.topics[name]

    def batches(self, stream: StreamT) -> AsyncIterator[Sequence[EventT]]:
        within_s = self.settings.batch_within_ms / 1000
        # take_events exists on Faust's Stream but not on its StreamT protocol.
        taker: Any = stream
        result: AsyncIterator[Sequence[EventT]] = taker.take_events(
            self.settings.batch_max, within=within_s
        )
        return result

    def outbox(self) -> Outbox:
        return Outbox(self)


#: A message on its way: topic, key, value, partition (None: by key).
Outgoing = tuple[str, bytes | None, bytes, int | None]


class Outbox:
    """The messages one batch sends, acknowledged together before the batch is.

    Sends go straight to the producer (no per-message Faust channel work).
    Records for a bundled topic are packed per partition and sent as one
    message each (``pipeline/bundle.py``). ``delivered`` returns only once the
    broker has acknowledged every message, retrying while it cannot: the batch's
    input is acknowledged after that, and Faust acknowledges a batch even when
    its body raises, so nothing here may give up on a message silently.
    """

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.producer = ctx.app.producer
        self.packer = BundlePacker()
        self.outgoing: list[Outgoing] = []

    async def send(self, name: str, key: str | bytes, value: dict[str, Any]) -> None:
        key_bytes = key.encode() if isinstance(key, str) else key
        spec = self.ctx.specs[name]
        if spec.bundled:
            self.packer.add(name, partition_for(key_bytes, spec.partitions), value)
        else:
            self.outgoing.append((name, key_bytes, orjson.dumps(value), None))

    async def send_to(self, name: str, partition: int, value: dict[str, Any]
                      ) -> None:
        """Send a record to one partition whatever its key (a control record)."""
        spec = self.ctx.specs[name]
        if spec.bundled:
            self.packer.add(name, partition, value)
        else:
            self.outgoing.append((name, b"__control__", orjson.dumps(value),
                                  partition))

    async def dead_letter(self, event: EventT, reason: str, detail: str,
                          ref: str | None = None) -> None:
        """Send a message that cannot go on to the dead-letter topic, with why.

        The original bytes are kept up to ``MAX_ORIGINAL_BYTES``; past that the
        letter says how long it was, and topic, partition and offset find it.
        """
        message = event.message
        original = value_of(event)
        letter = DeadLetter(
            reason=reason,
            detail=detail[:500],
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            original_b64=base64.b64encode(original[:MAX_ORIGINAL_BYTES]).decode(),
            at_ms=now_ms(),
            raw_ref=ref or raw_ref(event),
            original_bytes=len(original),
        )
        metrics.DEAD_LETTERS.labels(reason).inc()
        await self.send("reports.deadletter", letter.raw_ref, letter.to_dict())

    async def delivered(self) -> None:
        """Send everything, then wait until the broker acknowledged all of it."""
        for topic, partition, bundle in self.packer.drain():
            self.outgoing.append((topic, None, bundle, partition))
        outgoing, self.outgoing = self.outgoing, []
        backoff_s = 0.2
        while outgoing:
            outgoing = await self._send_once(outgoing)
            if outgoing:
                logger.warning("%d messages not acknowledged; retrying in %.1f s",
                               len(outgoing), backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 10.0)

    async def _send_once(self, outgoing: list[Outgoing]) -> list[Outgoing]:
        """Send each message once; return those to try again."""
        sent: list[tuple[Outgoing, Any]] = []
        retry: list[Outgoing] = []
        for message in outgoing:
            topic, key, value, partition = message
            try:
                future = await self.producer.send(topic, key, value, partition,
                                                  None, None)
                sent.append((message, future))
            except Exception as exc:  # noqa: BLE001 - sorted out below
                self._keep_or_drop(message, exc, retry)
        results = await asyncio.gather(*(f for _, f in sent), return_exceptions=True)
        for (message, _), result in zip(sent, results, strict=True):
            if isinstance(result, BaseException):
                self._keep_or_drop(message, result, retry)
        return retry

    @staticmethod
    def _keep_or_drop(message: Outgoing, exc: BaseException,
                      retry: list[Outgoing]) -> None:
        cause = exc.__cause__ or exc
        if isinstance(cause, MessageSizeTooLargeError):
            # No retry can succeed; loud, counted, never silent.
            metrics.UNDELIVERABLE.labels(message[0]).inc()
            logger.error("dropping a %d-byte message to %s: larger than the broker "
                         "accepts (%r)", len(message[2]), message[0], exc)
            return
        retry.append(message)


def records_of(ctx: Context, event: EventT) -> list[dict[str, Any]]:
    """The records an event carries: a bundle's, or the one of a plain message.

    Raises ``ValueError`` (orjson's decode error included) on a value that is
    neither.
    """
    value = value_of(event)
    if ctx.specs[event.message.topic].bundled:
        return unbundle(value)
    record = orjson.loads(value)
    if not isinstance(record, dict):
        raise ValueError("a record is a JSON object")
    return [record]


RecordHandler = Callable[["Outbox", EventT, dict[str, Any]], Awaitable[None]]

#: A record of a batch with the message it came in.
Change = tuple[EventT, dict[str, Any]]


@dataclass(frozen=True)
class Step:
    """One stage as a step over a batch: what it reads alone, what it sends on.

    ``run`` takes a batch of records and returns the ones that go on to
    ``sink`` (a record that failed was dead-lettered by the step and is not
    among them). Steps keyed alike can run back to back in one agent
    (``agents/incidents.py``).
    """

    name: str
    source: str
    sink: str
    run: Callable[[Outbox, list[Change]], Awaitable[list[Change]]]


async def read_batch(ctx: Context, out: Outbox, events: Sequence[EventT],
                     stage: str) -> list[Change]:
    """The records of a batch of messages; an unreadable message is dead-lettered.

    ``records_of`` raises ``ValueError`` (orjson's decode error included).
    """
    batch: list[Change] = []
    for event in events:
        try:
            records = records_of(ctx, event)
        except ValueError as exc:
            logger.error("%s: unreadable message on %s: %r", stage, describe(event),
                         exc)
            await out.dead_letter(event, f"{stage}_unreadable", repr(exc))
            continue
        batch.extend((event, record) for record in records)
    return batch


async def each_change(out: Outbox, batch: list[Change], stage: str,
                      handle: RecordHandler) -> list[Change]:
    """Run ``handle`` on each record of a batch; return the records that went
    through (``handle`` may add fields to them).

    A record that fails is dead-lettered with the raw_ref it carries (it is
    never lost, and its report stays accounted for), and the batch goes on.
    """
    passed: list[Change] = []
    for event, record in batch:
        try:
            await handle(out, event, record)
        except Exception as exc:  # noqa: BLE001 - logged and dead-lettered
            await record_failed(out, event, record, stage, exc)
            continue
        passed.append((event, record))
    return passed


async def record_failed(out: Outbox, event: EventT, record: dict[str, Any],
                        stage: str, exc: Exception) -> None:
    """Log and dead-letter one record a stage could not handle."""
    logger.error("%s failed on a record of %s", stage, describe(event),
                 exc_info=exc)
    ref = record.get("raw_ref")
    await out.dead_letter(event, f"{stage}_error", repr(exc),
                          ref if isinstance(ref, str) else None)


async def each_record(ctx: Context, out: Outbox, events: Sequence[EventT],
                      stage: str, handle: RecordHandler) -> int:
    """Run ``handle`` on every record of a batch of messages; return how many
    went through. Unreadable messages and failed records are dead-lettered."""
    batch = await read_batch(ctx, out, events, stage)
    return len(await each_change(out, batch, stage, handle))


def bound_fetch_wait(max_wait_ms: int) -> None:
    """Cap how long the worker's consumer lets the broker hold a fetch.

    Faust builds its consumer with ``fetch_max_wait_ms=1500`` and no setting to
    change it. The embedded broker does not answer a waiting fetch when new
    records arrive, so every hop waited up to 1.5 s: a plain five-agent chain
    showed 660 to 3,670 ms end to end at 10 messages/s, in steps of about
    750 ms, and 20 to 160 ms once the wait was capped at 50 ms. A real Kafka
    broker answers early anyway; there the cap only costs more, smaller fetches.
    """
    from faust.transport.drivers import aiokafka as driver

    thread_class: Any = driver.AIOKafkaConsumerThread
    original = getattr(thread_class, "_intake_original_create", None)
    if original is None:
        original = thread_class._create_worker_consumer
        thread_class._intake_original_create = original

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = max_wait_ms  # read by consumer.start()
        return consumer

    thread_class._create_worker_consumer = create_worker_consumer


def count_agent_crashes(app: faust.App) -> None:
    """Count and log every agent crash before Faust's own handling of it.

    Agents take ``app._on_agent_error`` as their error handler when they are
    created, so this must run before any agent is.
    """
    original = app._on_agent_error

    async def on_agent_error(agent: Any, exc: BaseException) -> None:
        metrics.AGENT_CRASHES.labels(agent.name).inc()
        logger.error("agent %s crashed: %r", agent.name, exc, exc_info=exc)
        await original(agent, exc)

    app._on_agent_error = on_agent_error  # type: ignore[method-assign]


def create_app(settings: Settings) -> tuple[faust.App, Context]:
    """Build the app with every topic and agent, ready for ``faust.Worker``."""
    specs = load_topics(settings.topics_file)
    models = load_models(settings.models_dir, settings.reporter_key)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust makes one level
    bound_fetch_wait(settings.fetch_max_wait_ms)
    broker = ";".join(f"kafka://{host}" for host in settings.broker.split(","))
    app = faust.App(
        settings.app_id,
        broker=broker,
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        topic_replication_factor=1,
        consumer_auto_offset_reset=settings.offset_reset,
        web_host="127.0.0.1",
        # Faust binds all interfaces unless told; the metrics stay local unless
        # the operator opens them (INTAKE_WEB_BIND).
        web_bind=settings.web_bind,
        web_port=settings.web_port,
        web_in_thread=False,
        datadir=str(settings.data_dir / settings.app_id),
        # The embedded broker holds a join for a share of the rebalance
        # timeout; Faust's 60 s default makes every start wait that long.
        broker_session_timeout=10.0,
        broker_rebalance_timeout=6.0,
        broker_heartbeat_interval=1.0,
        producer_linger=0.002,
        broker_commit_interval=settings.commit_interval_s,
        # Recovery compares a table's persisted offset with its changelog's
        # high watermark, and the embedded broker reports that one lagging: a
        # worker whose peer stopped crashed with "The persisted offset for
        # changelog topic partition ... is higher than the last offset in that
        # topic (highwater)". Against a real Kafka, turn the check back on.
        recovery_consistency_check=settings.recovery_check,
    )
    count_agent_crashes(app)
    context = Context(app=app, settings=settings, models=models, specs=specs)
    for name, spec in specs.items():
        context.topics[name] = app.topic(
            name,
            partitions=spec.partitions,
            value_serializer="raw",
            key_serializer="raw",
            compacting=spec.compacted or None,
        )

    # Imported here: each module adds its agent to this app only.
    from agents import (
        alert_surges,
        dedupe,
        delivery,
        fences,
        incidents,
        normalize,
        surge,
        thread,
        units,
        web,
    )

    for stage in (normalize, thread, dedupe, incidents, surge, alert_surges, units,
                  web, delivery):
        stage.install(context)
    fences.install(app)  # after every table exists
    return app, context
