"""The yardstick: five plain Faust agents passing each value to the next topic.

The idiom of Faust's documentation, untuned: each agent iterates its stream and
awaits a send of each value. Only what start-up needs is set (the broker, and
the rebalance timeout without which the embedded broker holds the first join
for most of a minute); nothing that touches the per-message path.
"""

from __future__ import annotations

import os

import faust

HOPS = 5
app = faust.App(
    os.environ.get("CHAIN_APP_ID", "chain"),
    broker=f"kafka://{os.environ['INTAKE_BROKER']}",
    web_port=int(os.environ.get("CHAIN_WEB_PORT", "6067")),
    broker_rebalance_timeout=6.0,
    broker_session_timeout=10.0,
    broker_heartbeat_interval=1.0,
    datadir=os.environ.get("CHAIN_DATA_DIR", "var/bench/chain-data"),
)
topics = [app.topic(f"chain.{n}", value_serializer="raw") for n in range(HOPS + 1)]


def hop(source: faust.TopicT, target: faust.TopicT, name: str) -> None:
    @app.agent(source, name=name)
    async def forward(stream: faust.StreamT) -> None:
        async for value in stream:
            await target.send(value=value)


for n in range(HOPS):
    hop(topics[n], topics[n + 1], f"hop{n + 1}")
