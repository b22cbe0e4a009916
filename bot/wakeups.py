"""Replicas wake each other on PostgreSQL: a transaction that queued outbox rows its own process
will not send (a job's, or a chat another replica serves) sends NOTIFY with its commit
(storage/db.py); every replica LISTENs on one connection of its own and wakes its outbox, which
then claims them at once instead of at its next scan (bot/outbox.py SCAN_SECONDS).

The connection is only a shortcut: if it is lost, the scan still finds every row, and the
listener connects again within RETRY_SECONDS."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import OUTBOX_NOTIFY

log = logging.getLogger(__name__)


class Wakeups:
    RETRY_SECONDS = 5.0

    def __init__(self, engine: AsyncEngine, on_notify) -> None:
        self.engine = engine
        self.on_notify = on_notify
        self._conn: AsyncConnection | None = None
        self._driver = None  # the asyncpg connection that LISTENs
        self.heard = 0

    @property
    def listening(self) -> bool:
        return self._driver is not None and not self._driver.is_closed()

    async def start(self) -> None:
        if self.engine.dialect.name != "postgresql" or self.listening:
            return
        await self._close()
        try:
            self._conn = await self.engine.connect()
            raw = await self._conn.get_raw_connection()
            self._driver = raw.driver_connection
            await self._driver.add_listener(OUTBOX_NOTIFY, self._heard)
        except Exception:  # noqa: BLE001 - the outbox's scan still finds every row
            log.warning("cannot LISTEN for the other replicas' outbox rows; scanning only", exc_info=True)
            await self._close()

    async def run(self) -> None:
        """Keep listening: connect again when the connection was lost."""
        while True:
            await asyncio.sleep(self.RETRY_SECONDS)
            if not self.listening:
                await self.start()

    def _heard(self, _conn, _pid, _channel, _payload) -> None:
        self.heard += 1
        self.on_notify()

    async def _close(self) -> None:
        driver, conn, self._driver, self._conn = self._driver, self._conn, None, None
        if driver is not None and not driver.is_closed():
            try:
                await driver.remove_listener(OUTBOX_NOTIFY, self._heard)
            except Exception:  # noqa: BLE001
                pass
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # noqa: BLE001
                pass

    async def stop(self) -> None:
        await self._close()
