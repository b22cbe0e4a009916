"""Photos: downscaled, re-encoded without EXIF (no GPS), capped in size, kept in the database."""

from __future__ import annotations

import io
from datetime import datetime

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Photo

MAX_SIDE = 1600
MAX_BYTES = 400_000
MAX_INPUT_PIXELS = 50_000_000


# What the JPEG encoder below writes, and nothing else: no EXIF, ICC, XMP or comment.
_CLEAN_INFO = {"jfif", "jfif_version", "jfif_unit", "jfif_density"}


def clean_image(raw: bytes) -> tuple[bytes, int, int] | None:
    """JPEG bytes with no metadata, at most MAX_SIDE pixels a side and about MAX_BYTES; None if unreadable.
    Bytes this function made already (bot/media.py cleans photos on a thread before their step)
    are returned as they are, after reading their header only."""
    Image.MAX_IMAGE_PIXELS = MAX_INPUT_PIXELS
    done = _already_clean(raw)
    if done is not None:
        return done
    try:
        with Image.open(io.BytesIO(raw)) as img:
            img = ImageOps.exif_transpose(img)
            img = img.convert("RGB")
            img.thumbnail((MAX_SIDE, MAX_SIDE))
            for quality in (82, 70, 55, 40):
                out = io.BytesIO()
                img.save(out, "JPEG", quality=quality, optimize=True)  # no exif= given: none written
                if out.tell() <= MAX_BYTES:
                    break
            return out.getvalue(), img.width, img.height
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def _already_clean(raw: bytes) -> tuple[bytes, int, int] | None:
    if len(raw) > MAX_BYTES:
        return None
    try:
        with Image.open(io.BytesIO(raw)) as img:
            segments = {marker for marker, _ in getattr(img, "applist", [])}
            if (img.format == "JPEG" and img.mode == "RGB" and max(img.size) <= MAX_SIDE
                    and set(img.info) <= _CLEAN_INFO and segments <= {"APP0"}):
                return raw, img.width, img.height
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        pass
    return None


async def store_photo(session: AsyncSession, person_id: int, raw: bytes | None, *, now: datetime) -> int | None:
    cleaned = clean_image(raw) if raw else None
    if cleaned is None:
        return None
    data, width, height = cleaned
    photo = Photo(person_id=person_id, mime="image/jpeg", width=width, height=height, data=data, created_at=now)
    session.add(photo)
    await session.flush()
    return photo.id


async def attach_photos(session: AsyncSession, photo_ids: list[int], report_id: int, person_id: int) -> None:
    if photo_ids:
        await session.execute(
            update(Photo)
            .where(Photo.id.in_(photo_ids), Photo.person_id == person_id)
            .values(report_id=report_id)
        )


async def photo_ids_of(session: AsyncSession, report_id: int) -> list[int]:
    return list((await session.scalars(select(Photo.id).where(Photo.report_id == report_id).order_by(Photo.id))).all())
