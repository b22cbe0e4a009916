"""Splitting long texts for platforms with a length limit: at lines, then words, never inside a
letter with its tone marks or a surrogate pair."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _hard_cut(text: str, limit: int, measure: Callable[[str], int]) -> tuple[str, str]:
    cut = len(text)
    while cut > 1 and measure(text[:cut]) > limit:
        cut -= 1
    while 1 < cut < len(text) and _joined(text[cut - 1], text[cut]):
        cut -= 1  # keep a base letter with its marks, an emoji with its modifiers
    return text[:cut], text[cut:]


def _joined(before: str, ch: str) -> bool:
    """True when `ch` belongs to the same visible character as `before`."""
    code = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")  # tone marks, keycaps
        or ch in "\u200d\ufe0e\ufe0f" or before == "\u200d"  # emoji joined by ZWJ, presentation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tag sequences (subdivision flags)
    )


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    if measure(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for token in _tokens(text):
        candidate = current + token
        if measure(candidate) <= limit:
            current = candidate
            continue
        if current.strip():
            parts.append(current.rstrip())
        current = token.lstrip("\n") if token.startswith("\n") else token
        while measure(current) > limit:
            head, current = _hard_cut(current, limit, measure)
            parts.append(head)
    if current.strip():
        parts.append(current.rstrip())
    return parts


def _tokens(text: str) -> list[str]:
    """Words with the space or line break in front of them, so joining them gives the text back."""
    out: list[str] = []
    word = ""
    for ch in text:
        if ch in (" ", "\n") and word:
            out.append(word)
            word = ""
        word += ch
    if word:
        out.append(word)
    return out
