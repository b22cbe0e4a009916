"""Prometheus metrics at /metrics: events handled per channel and how long handling took,
deliveries by channel and result, and, read from the database at each scrape, the outbox depth,
messages given up on, open alerts and channel status.

Each App has its own registry (tests make many Apps in one process). The router and the outbox
take a `metrics` object; without one they use NO_METRICS, which does nothing.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.http import ROUTE_FACTORIES

log = logging.getLogger(__name__)


class NoMetrics:
    def event_handled(self, channel: str, seconds: float, ok: bool) -> None: ...

    def delivery(self, channel: str, result: str) -> None: ...


NO_METRICS = NoMetrics()


class Metrics(NoMetrics):
    def __init__(self, version: str = "") -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter("bot_events_processed", "Incoming events handled, by channel and result",
                              ["channel", "result"], registry=r)
        self.latency = Histogram("bot_event_handling_seconds", "Time to handle one incoming event (one step)",
                                 ["channel"], registry=r,
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.deliveries = Counter("bot_deliveries", "Delivery attempts, by channel and result "
                                  "(delivered, retry, failed)", ["channel", "result"], registry=r)
        self.outbox_depth = Gauge("bot_outbox_depth", "Messages waiting in the outbox, by channel",
                                  ["channel"], registry=r)
        self.outbox_oldest = Gauge("bot_outbox_oldest_age_seconds", "Age of the oldest message waiting",
                                   registry=r)
        self.outbox_failed = Gauge("bot_outbox_failed_messages", "Messages given up on (in the database)",
                                   registry=r)
        self.alerts_open = Gauge("bot_alerts_open", "Urgent cases whose alerts nobody has acknowledged yet",
                                 registry=r)
        self.channel_up = Gauge("bot_channel_connected", "1 when the channel is connected", ["channel"],
                                registry=r)
        info = Gauge("bot_info", "The bot's version", ["version"], registry=r)
        info.labels(version=version or "unknown").set(1)
        # The children of the per-step metrics, by their labels: labels() takes a lock and builds
        # its key at every call, once or twice a step.
        self._children: dict[tuple, object] = {}

    def _child(self, metric, *values: str):
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def event_handled(self, channel: str, seconds: float, ok: bool) -> None:
        self._child(self.events, channel, "ok" if ok else "error").inc()
        self._child(self.latency, channel).observe(seconds)

    def delivery(self, channel: str, result: str) -> None:
        self._child(self.deliveries, channel, result).inc()

    async def refresh(self, sessions, now) -> None:
        """Read the figures that live in the database."""
        from storage import operations as ops

        async with sessions() as session:
            backlog = await ops.outbox_backlog(session)
            alerts = await ops.open_alerts(session)
            channels = await ops.channel_states(session)
        self.outbox_depth.clear()
        for channel, count in backlog.by_channel.items():
            self.outbox_depth.labels(channel=channel).set(count)
        self.outbox_oldest.set((now - backlog.oldest).total_seconds() if backlog.oldest else 0)
        self.outbox_failed.set(backlog.failed)
        self.alerts_open.set(alerts.cases)
        self.channel_up.clear()
        for row in channels:
            self.channel_up.labels(channel=row.channel).set(1 if row.connected else 0)

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


def _routes(app) -> list:
    async def metrics(_request: web.Request) -> web.Response:
        try:
            await app.metrics.refresh(app.sessions, app.clock.now())
        except Exception:  # noqa: BLE001 - the process counters are still worth serving
            log.warning("metrics: could not read the database")
        from prometheus_client import CONTENT_TYPE_LATEST

        return web.Response(body=app.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return [web.get("/metrics", metrics)] if isinstance(getattr(app, "metrics", None), Metrics) else []


ROUTE_FACTORIES.append(_routes)
