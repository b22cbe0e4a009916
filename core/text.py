"""Text as every floor compares and stores it: NFC without invisible or direction characters,
folded for forgiving comparison (no tone marks, no case), and invite codes.

Pure functions; handlers/parsing.py builds the forms' parsers on them, storage/ normalises codes
with them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Invite codes avoid 0/O and 1/I/L so that a code copied by hand stays unambiguous.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

# Invisible characters that phones and copy-paste slip into messages; removed outright.
_INVISIBLE = frozenset("\u00ad\u200b\u2060\ufeff")
# The zero-width joiner is the one format character kept: it joins emoji ("👨‍👩‍👧") and
# cannot reorder text. Every other one (category Cf: the bidi embeddings and overrides
# U+202A–U+202E, isolates U+2066–U+2069, marks U+200E, U+200F, U+061C...) is dropped.
_ZWJ = "\u200d"


# Short texts (labels, option names, typed answers) recur at every step: their results are kept.
_CACHED_LEN = 80


def nfc(text: str) -> str:
    """NFC-normalise, drop format characters, turn control characters into spaces and
    collapse runs of spaces.

    Newlines and tabs survive (free-text notes keep their lines); CR LF becomes LF.
    """
    return _nfc_cached(text) if len(text) <= _CACHED_LEN else _nfc(text)


def _nfc(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    chars: list[str] = []
    for ch in text:
        if ch in "\n\t":
            chars.append(ch)
        elif ch in _INVISIBLE or (ch != _ZWJ and unicodedata.category(ch) == "Cf"):
            continue
        elif unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Zs"):
            chars.append(" ")
        else:
            chars.append(ch)
    text = re.sub(r" {2,}", " ", "".join(chars))
    return re.sub(r" *\n *", "\n", text).strip()


def _fold_core(text: str) -> str:
    """Casefold, drop diacritics, map đ to d, collapse all whitespace to one space."""
    # NFKD rather than NFD so full-width digits and ligatures also compare equal.
    decomposed = unicodedata.normalize("NFKD", nfc(text))
    decomposed = unicodedata.normalize("NFKD", decomposed.casefold())
    # Dropping enclosing marks too turns a keycap "2️⃣" into a plain "2".
    plain = "".join(
        ch for ch in decomposed if unicodedata.category(ch) not in ("Mn", "Me")
    )
    return " ".join(plain.replace("đ", "d").split())


def _is_edge_noise(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch)[0] in "PS"


def _strip_edges(text: str) -> str:
    """Strip whitespace, punctuation and symbols (".", "!", emoji) from both ends."""
    start, end = 0, len(text)
    while start < end and _is_edge_noise(text[start]):
        start += 1
    while end > start and _is_edge_noise(text[end - 1]):
        end -= 1
    return text[start:end]


def fold(text: str) -> str:
    """Reduce text for forgiving comparison: fold("Thôn 3.") == "thon 3"."""
    return _fold_cached(text) if len(text) <= _CACHED_LEN else _fold(text)


def _fold(text: str) -> str:
    return _strip_edges(_fold_core(text))


_nfc_cached = lru_cache(maxsize=4096)(_nfc)
_fold_cached = lru_cache(maxsize=4096)(_fold)


def normalise_code(text: str) -> str:
    """Uppercase an invite code; drop the spaces, dashes, dots and underscores."""
    return re.sub(r"[\s\-\u2013\u2014._]", "", nfc(text)).upper()


def looks_like_code(text: str) -> bool:
    code = normalise_code(text)
    return len(code) == 8 and all(ch in CODE_ALPHABET for ch in code)
