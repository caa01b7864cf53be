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

    @app.page("/debug/memory")
    async def memory_page(web: Any, request: Any) -> Any:
        return web.json(memory_page_body())

    @app.page("/health")
    async def health_page(web: Any, request: Any) -> Any:
        assigned = len(app.consumer.assignment()) if app.consumer else 0
        crashed = crashed_agents(app)
        body = {"status": "degraded" if crashed else "ok",
                "app_id": ctx.settings.app_id, "assigned_partitions": assigned,
                "rebalancing": app.rebalancing, "crashed_agents": crashed,
                # Routing goes on from the unit table: degraded, not down.
                **ctx.redis_health.status()}
        return web.json(body, status=503 if crashed else 200)


def memory_page_body(limit: int = 25) -> dict[str, Any]:
    """Where the worker's memory was allocated, by source line (tracemalloc).

    Only when the worker started with ``INTAKE_TRACEMALLOC=1``: tracing costs
    time on every allocation.
    """
    import tracemalloc

    if not tracemalloc.is_tracing():
        return {"tracing": False,
                "hint": "start the worker with INTAKE_TRACEMALLOC=1"}
    snapshot = tracemalloc.take_snapshot()
    stats = snapshot.statistics("lineno")
    return {
        "tracing": True,
        "traced_mb": round(sum(s.size for s in stats) / 2**20, 1),
        "top": [{"where": str(s.traceback), "kb": s.size // 1024, "blocks": s.count}
                for s in stats[:limit]],
    }


def crashed_agents(app: Any) -> dict[str, str]:
    """Agents with an actor that crashed and was not restarted yet, and why."""
    crashed = {}
    for name, agent in app.agents.items():
        for actor in getattr(agent, "_actors", ()):
            if actor.crashed:
                crashed[name] = repr(actor.crash_reason)[:300]
    return crashed
