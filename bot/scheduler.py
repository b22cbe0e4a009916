"""Scheduled work, claimed in the database so that it runs once even with several processes.

Each job is a function of (services, sessions, now) run every `every` seconds; what it does is
decided and queued in one transaction, so a restart neither loses nor repeats it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from handlers import features  # noqa: F401 - registers the jobs of every feature
from handlers.context import Services
from handlers.registry import JOBS

log = logging.getLogger(__name__)

class Scheduler:
    def __init__(self, services: Services, sessions, jobs=None, on_queued=None) -> None:
        self.services = services
        self.sessions = sessions
        self.jobs = jobs if jobs is not None else list(JOBS.values())
        self.on_queued = on_queued or (lambda: None)
        self._last: dict[str, datetime] = {}
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()

    async def run_due(self) -> int:
        """Run every job whose time has come; returns how many things they did."""
        now = self.services.clock.now()
        total = 0
        for item in self.jobs:
            last = self._last.get(item.name)
            if last is not None and (now - last).total_seconds() < item.every:
                continue
            self._last[item.name] = now
            try:
                total += await item.run(self.services, self.sessions, now) or 0  # None: nothing queued
            except Exception:  # noqa: BLE001 - one job failing must not stop the others
                log.exception("scheduled job %s failed", item.name)
        if total:
            self.on_queued()
        return total

    async def run(self, tick: float = 5.0) -> None:
        while not self._stopping.is_set():
            self._woken.clear()
            await self.run_due()
            try:
                await asyncio.wait_for(self._woken.wait(), tick)
            except TimeoutError:
                pass

    @property
    def woken(self) -> bool:
        return self._woken.is_set()

    async def run_job(self, name: str) -> int:
        """One job now, whatever its schedule (tests and the CLI drive the loops by hand)."""
        self._woken.clear()
        item = next(j for j in self.jobs if j.name == name)
        total = await item.run(self.services, self.sessions, self.services.clock.now()) or 0
        if total:
            self.on_queued()
        return total

    def wake(self) -> None:
        """A step left work for a job (handlers/context.py wake_jobs): run the due ones now."""
        self._woken.set()

    def stop(self) -> None:
        self._stopping.set()
        self._woken.set()
