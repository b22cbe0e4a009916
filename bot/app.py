"""Wiring: storage, inbox, router, outbox, scheduler, channels and the HTTP server in one loop."""

from __future__ import annotations

import asyncio
import gc
import logging

from bot.channel_status import ChannelStatusBook
from bot.http import HttpServer
from bot.inbox import Inbox
from bot.media import PhotoFetches
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.router import Router
from bot.scheduler import Scheduler
from bot.version import app_version
from bot.wakeups import Wakeups
from core.clock import Clock
from core.config import Config
from handlers.context import Services
from storage import exports as export_requests
from storage.crypto import Keyring
from storage.db import make_engine, migrate, session_factory
from storage.people import sync_communes

log = logging.getLogger(__name__)


STOP_GRACE_SECONDS = 5.0


def freeze_heap() -> None:
    """Once the bot has started: what is alive then (modules, catalogs, mappers, python-telegram-bot)
    lives as long as the process, so it is put where the garbage collector no longer looks
    (gc.freeze). A full collection then walks only what the bot made since: on the bench's bot
    one took up to 94 ms, every step in flight waiting behind it, the p99 of a person's step twice
    its p90. For the long-running process only (`bot run`, the bench): an App a test starts and
    stops would stay in memory for good."""
    gc.collect()
    gc.freeze()


class App:
    def __init__(self, config: Config, *, clock: Clock | None = None, keyring: Keyring,
                 storage_url: str | None = None, fallback_sender=None, replica: str | None = None) -> None:
        self.config = config
        self.clock = clock or Clock()
        self.engine = make_engine(storage_url or config.storage_url)
        self.sessions = session_factory(self.engine)
        self.services = Services(config=config, clock=self.clock, keyring=keyring)
        self.metrics = Metrics(app_version())  # a registry per App: tests make many
        self.channel_status = ChannelStatusBook(self.sessions, self.clock)
        self.outbox = Outbox(self.sessions, keyring, self.clock, fallback=fallback_sender, metrics=self.metrics,
                             services=self.services, owner=replica or config.replica or None)
        self.scheduler = Scheduler(self.services, self.sessions, on_queued=self.outbox.wake)
        self.media = PhotoFetches()
        self.router = Router(self.services, self.sessions, on_queued=self.outbox.wake, metrics=self.metrics,
                             claim=self.outbox.claim_queued, on_jobs=self.scheduler.wake, media=self.media)
        self.inbox = Inbox(self.sessions, keyring, self.clock)
        self.inbox.listeners += [self.media.arrived, self.router.wake]  # the download starts first
        self.wakeups = Wakeups(self.engine, self.outbox.wake)  # PostgreSQL: the other replicas' rows
        self.channels: list = []
        self.http: HttpServer | None = None
        self._tasks: list[asyncio.Task] = []
        self._prepared = False
        self._stopped = False

    def add_channel(self, channel) -> None:
        self.channels.append(channel)
        self.services.capabilities[channel.name] = channel.capabilities
        self.outbox.register(channel)
        self.media.register(channel)
        self.channel_status.attach(channel)

    async def prepare(self) -> None:
        """Schema up to date, communes and villages as config.toml says."""
        if self._prepared:
            return
        self._prepared = True
        await migrate(self.engine, self.services.keyring)
        async with self.sessions() as session, session.begin():
            await sync_communes(session, self.config.communes)

    async def start(self, *, http: bool = True) -> None:
        await self.prepare()
        from bot.http import ROUTE_FACTORIES, domain_routes
        from handlers.registry import ROUTES

        routes = [r for ch in self.channels for r in ch.routes()]
        routes += [r for factory in ROUTE_FACTORIES for r in factory(self)]
        routes += domain_routes(ROUTES, self.services, self.sessions)
        if http:
            self.http = HttpServer(self.config.http.host, self.config.http.port, self.sessions)
            self.http.add_routes(routes)
            await self.http.start()
        if self.engine.dialect.name == "sqlite":
            self.outbox.leases = False
            await self.outbox.release_claims()  # SQLite means one process: nothing else is sending
            async with self.sessions() as session, session.begin():
                await export_requests.release_all(session)  # nor building an export
        await self.wakeups.start()
        await self.outbox.take_up()
        for channel in self.channels:
            await channel.start()
        await self.channel_status.started(self.channels)
        self._tasks = [
            asyncio.create_task(self.channel_status.run(), name="channel-status"),
            asyncio.create_task(self.router.run(), name="router"),
            asyncio.create_task(self.outbox.run(), name="outbox"),
            asyncio.create_task(self.scheduler.run(), name="scheduler"),
        ]
        if self.engine.dialect.name == "postgresql":
            self._tasks.append(asyncio.create_task(self.wakeups.run(), name="wakeups"))

    async def stop(self) -> None:
        if self._stopped:  # a second stop (a test restarting it, then its fixture) does nothing
            return
        self._stopped = True
        self.scheduler.stop()
        await self.router.stop()
        self.outbox.stop()
        for channel in self.channels:
            try:
                await channel.stop()
            except Exception:  # noqa: BLE001
                log.exception("channel %s did not stop cleanly", channel.name)
        if self._tasks:  # started: say the channels are stopped, so `status` does not think them up
            await self.channel_status.stopped(self.channels)
        if self.http is not None:
            await self.http.stop()
        # The loops end their pass and see the flag: a delivery cancelled between its send and its
        # record would be sent again, and a session cancelled mid-statement can leave its SQLite
        # connection closing behind a lock for ever. Only what has not ended within the grace is cancelled.
        loops = [t for t in self._tasks if t.get_name() not in ("channel-status", "wakeups")]
        if loops:
            await asyncio.wait(loops, timeout=STOP_GRACE_SECONDS)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.wakeups.stop()
        await self.engine.dispose()
