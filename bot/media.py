"""Photos people send, made ready beside ingest and outside every transaction.

Ingest stores a photo update with the platform's name for the photo (a Telegram file_id, a Zalo
URL) and does not wait for it. As soon as it is stored, the download starts here, and the photo is
cleaned (scaled down, re-encoded without EXIF: storage/photos.py) on a thread. The router waits for
it before the photo's step begins, so the step transaction only stores the cleaned bytes; the
person's later events wait behind it, as they always wait behind an earlier event.

After a restart the event comes from the database with only its reference: it is fetched again
then (a Zalo URL may have expired by then: the person is asked to send the photo again).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import replace

from core.events import Incoming
from storage.photos import clean_image

log = logging.getLogger(__name__)

FETCH_SECONDS = 60.0  # a download that takes longer has failed
KEEP = 256  # prepared photos kept for their steps; beyond it the oldest are made again if needed


class PhotoFetches:
    def __init__(self) -> None:
        self.channels: dict[str, object] = {}
        self._made: collections.OrderedDict[int, asyncio.Task] = collections.OrderedDict()

    def register(self, channel) -> None:
        self.channels[channel.name] = channel
        if channel.per_account:  # Zalo: one bot or official account per commune
            self.channels[f"{channel.name}:{channel.account}"] = channel

    def arrived(self, arrival) -> None:
        """An inbox listener: a stored photo update starts its download at once."""
        if arrival.event.carries_photo:
            self._start(arrival.id, arrival.event)

    def ready(self, inbox_id: int) -> bytes | None | bool:
        """The prepared photo (bytes, or None when it could not be had); False if not ready yet."""
        task = self._made.get(inbox_id)
        if task is None or not task.done() or task.cancelled():
            return False
        return task.result()

    async def prepare(self, inbox_id: int, event: Incoming, stopping: asyncio.Event) -> bool:
        """Wait until the event's photo is ready; False if the runtime stops first."""
        task = self._start(inbox_id, event)
        halt = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait({task, halt}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halt.cancel()
        return task.done()

    def prepared(self, inbox_id: int, event: Incoming) -> Incoming:
        """The event with its photo ready (after prepare, or when ready() said so)."""
        photo = self.ready(inbox_id)
        return replace(event, photo=photo or None, photo_ref=None)

    def forget(self, inbox_id: int) -> None:
        self._made.pop(inbox_id, None)

    def _start(self, inbox_id: int, event: Incoming) -> asyncio.Task:
        task = self._made.get(inbox_id)
        if task is None or task.cancelled():
            task = asyncio.create_task(self._make(event), name="photo")
            self._made[inbox_id] = task
            while len(self._made) > KEEP:
                self._made.popitem(last=False)
        return task

    async def _make(self, event: Incoming) -> bytes | None:
        raw = event.photo
        if raw is None:
            raw = await self._fetch(event)
        if raw is None:
            return None
        cleaned = await asyncio.to_thread(clean_image, raw)
        # Unreadable: the bytes as they came, so the step says it is not a photo it can read.
        return cleaned[0] if cleaned is not None else raw

    async def _fetch(self, event: Incoming) -> bytes | None:
        channel = self.channels.get(f"{event.channel}:{event.account}") or self.channels.get(event.channel)
        if channel is None or not event.photo_ref:
            return None
        try:
            return await asyncio.wait_for(channel.fetch_photo(event.photo_ref), FETCH_SECONDS)
        except TimeoutError:
            log.warning("%s: a photo download took over %.0f s and was given up", event.channel, FETCH_SECONDS)
        except Exception as exc:  # noqa: BLE001 - the person is asked to send it again
            log.warning("%s: photo download failed: %s", event.channel, type(exc).__name__)
        return None
