"""The worker's web pages: /metrics (Prometheus) and /health."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents.app import Context
from agents.metrics import REGISTRY


def install(ctx: Context) -> None:
    app = ctx.app

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        # aiohttp takes the charset apart from the media type.
        media_type = CONTENT_TYPE_LATEST.split(";")[0]
        return web.bytes(generate_latest(REGISTRY), content_type=media_type)

    @app.page("/health")
    async def health_page(web: Any, request: Any) -> Any:
        assigned = len(app.consumer.assignment()) if app.consumer else 0
        crashed = crashed_agents(app)
        body = {"status": "degraded" if crashed else "ok",
                "app_id": ctx.settings.app_id, "assigned_partitions": assigned,
                "rebalancing": app.rebalancing, "crashed_agents": crashed}
        return web.json(body, status=503 if crashed else 200)


def crashed_agents(app: Any) -> dict[str, str]:
    """Agents with an actor that crashed and was not restarted yet, and why."""
    crashed = {}
    for name, agent in app.agents.items():
        for actor in getattr(agent, "_actors", ()):
            if actor.crashed:
                crashed[name] = repr(actor.crash_reason)[:300]
    return crashed
