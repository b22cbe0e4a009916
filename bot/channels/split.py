"""Splitting long texts for platforms with a length limit: at line ends where possible, then at
spaces, never inside a letter with its tone marks (Python strings never split a surrogate pair)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable


def utf16_len(text: str) -> int:
    """Telegram counts lengths in UTF-16 code units: an emoji outside the BMP counts two."""
    return len(text.encode("utf-16-le")) // 2


def _hard_cut(text: str, limit: int, measure: Callable[[str], int]) -> tuple[str, str]:
    cut = len(text)
    while cut > 1 and measure(text[:cut]) > limit:
        cut -= 1
    while 1 < cut < len(text) and _joined(text[cut - 1], text[cut]):
        cut -= 1  # keep a base letter with its combining marks, an emoji with its modifiers
    return text[:cut], text[cut:]


def _joined(before: str, ch: str) -> bool:
    """True when `ch` belongs to the same visible character as `before` (👍🏽, 👨‍👩‍👧, 2️⃣, ệ)."""
    code = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")  # tone marks, the keycap
        or ch in "\u200d\ufe0e\ufe0f" or before == "\u200d"  # emoji joined by ZWJ, presentation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tag sequences (subdivision flags)
    )


def _pack(pieces: list[str], sep: str, limit: int, measure: Callable[[str], int]) -> list[str]:
    """Join pieces with sep into chunks within the limit; a piece too long alone is cut further."""
    chunks: list[str] = []
    current: str | None = None
    for piece in pieces:
        candidate = piece if current is None else current + sep + piece
        if measure(candidate) <= limit:
            current = candidate
            continue
        if current is not None and current.strip():
            chunks.append(current)
        current = piece
        if measure(current) > limit:
            smaller = _pack(current.split(" "), " ", limit, measure) if sep == "\n" else []
            if len(smaller) <= 1:
                smaller = []
                rest = current
                while measure(rest) > limit:
                    head, rest = _hard_cut(rest, limit, measure)
                    smaller.append(head)
                smaller.append(rest)
            chunks.extend(smaller[:-1])
            current = smaller[-1]
    if current is not None and current.strip():
        chunks.append(current)
    return chunks


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    if measure(text) <= limit:
        return [text]
    return [chunk.strip("\n") for chunk in _pack(text.split("\n"), "\n", limit, measure)]
