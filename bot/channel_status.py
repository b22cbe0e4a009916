"""Channels say when they connect and disconnect; this writes it to channel_status for
`python -m bot status`, the admin notices and /metrics.

The contract for a channel is one attribute: the App sets `channel.on_status` to a plain callable
`on_status(connected: bool, detail: str = "")`, which the channel calls from its receive loop on
every change (TelegramChannel does it from its `connected` flag). It never blocks: the write
happens in the background. Channels without `on_status` are taken as connected while running.
"""

from __future__ import annotations

import asyncio
import logging

from storage import operations as ops

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 60.0


class ChannelStatusBook:
    def __init__(self, sessions, clock) -> None:
        self.sessions = sessions
        self.clock = clock
        self._latest: dict[str, tuple[bool, str]] = {}
        self._written: dict[str, tuple[bool, str]] = {}
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()
        self._stopping = asyncio.Event()

    @staticmethod
    def key(channel) -> str:
        """Channels with one bot per commune (Zalo Bot) report each account apart."""
        return f"{channel.name}:{channel.account}" if channel.per_account else channel.name

    def attach(self, channel) -> None:
        name = self.key(channel)
        channel.on_status = lambda connected, detail="": self.report(name, connected, detail)

    def report(self, channel: str, connected: bool, detail: str = "") -> None:
        """Called by channels, from inside the event loop; returns at once."""
        if self._latest.get(channel) == (bool(connected), detail):
            return
        self._latest[channel] = (bool(connected), detail)
        try:
            task = asyncio.get_running_loop().create_task(self.flush())
        except RuntimeError:  # no loop (a channel used outside the app): nothing to record
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Write what changed since the last write. The latest state wins, whatever the order."""
        async with self._lock:
            changed = {k: v for k, v in self._latest.items() if self._written.get(k) != v}
            if not changed:
                return
            now = self.clock.now()
            try:
                async with self.sessions() as session, session.begin():
                    for name, (connected, detail) in changed.items():
                        await ops.record_channel(session, name, connected, now=now, detail=detail,
                                                 fresh=name not in self._written)
            except Exception:  # noqa: BLE001 - status keeping must never take a channel down
                log.exception("could not record the channel status")
                return
            self._written.update(changed)

    async def started(self, channels: list) -> None:
        for channel in channels:
            if not channel.reports_status:
                self.report(self.key(channel), True)
        await self.flush()
        try:
            async with self.sessions() as session, session.begin():
                await ops.forget_stopped_channels(session, [self.key(c) for c in channels])
        except Exception:  # noqa: BLE001
            log.exception("could not tidy the channel status")

    async def run(self) -> None:
        """The heartbeat: a state nobody confirms for minutes means no bot is running it."""
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), HEARTBEAT_SECONDS)
                return
            except TimeoutError:
                pass
            try:
                async with self.sessions() as session, session.begin():
                    await ops.touch_channels(session, list(self._written), now=self.clock.now())
            except Exception:  # noqa: BLE001
                log.warning("could not refresh the channel status")

    async def stopped(self, channels: list) -> None:
        self._stopping.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for channel in channels:
            self._latest[self.key(channel)] = (False, "stopped")
        await self.flush()
