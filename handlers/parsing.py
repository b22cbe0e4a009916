"""Forgiving parsers for what people type into the bot.

Village heads are often older and type without tone marks ("hom qua", "thon 3"),
with thousands separators ("1.245") or with words around a number ("khoang 50
nguoi"). Every function here is pure: it takes the raw text (and, for dates, today's
date) and returns a value, or a ``ParseError`` whose ``code`` selects the Vietnamese
message the form shows.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from core.text import (  # noqa: F401 - parsing is where handlers find them
    _INVISIBLE,
    CODE_ALPHABET,
    _fold_core,
    _strip_edges,
    fold,
    looks_like_code,
    nfc,
    normalise_code,
)


@dataclass(frozen=True)
class ParseError:
    """Why a reply could not be parsed; ``code`` and ``params`` fill the message."""

    code: str
    params: dict[str, object] = field(default_factory=dict)


# ------------------------------------------------------------------ text

def quotable(text: str | None, limit: int = 40) -> str:
    """What a person typed, made safe to quote back in a reply ("“5o” ..."): without any format
    or control character (a U+202E in a refusal would turn the rest of the bot's sentence
    around), on one line, at most `limit` characters with "…" when cut."""
    chars: list[str] = []
    for ch in unicodedata.normalize("NFC", text or ""):
        category = unicodedata.category(ch)
        if ch.isspace() or category in ("Zl", "Zp"):
            chars.append(" ")
        elif category not in ("Cc", "Cf", "Cs") and ch not in _INVISIBLE:
            chars.append(ch)
    plain = " ".join("".join(chars).split())
    return plain if len(plain) <= limit else plain[: max(limit - 1, 0)].rstrip() + "…"


_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


def _key(text: str) -> str:
    """Fold and drop inner punctuation: "Họp thôn / hội nghị" -> "hop thon hoi nghi"; a number glued to
    a word is a word of its own ("thon3" -> "thon 3")."""
    plain = "".join(ch if ch.isalnum() else " " for ch in fold(text))
    return " ".join(_LETTER_DIGIT.sub(" ", plain).split())


# ------------------------------------------------------------------ choices

_NUM_ITEM = r"\d+\.?(?:\s*[-\u2013\u2014]\s*\d+\.?)?"
_NUM_SEP = r"(?:\s*[,;&+]\s*|\s+(?:va|and)\s+|\s+)"
_NUMBER_LIST = re.compile(rf"{_NUM_ITEM}(?:{_NUM_SEP}{_NUM_ITEM})*")
_NUMBER_ITEM = re.compile(r"(\d+)\.?(?:\s*[-\u2013\u2014]\s*(\d+))?")
# A whole line copied back from the numbered list: "2. Sinh hoạt chi hội, chi đoàn".
_ECHOED_LINE = re.compile(r"(\d+)\s*[.):]\s*(.+)")
# Separators between several option texts; captured so that pieces can be re-joined
# when an option's own label contains one ("Phòng, chống bạo lực gia đình").
_MAX_PIECES = 30
_TEXT_SEP = re.compile(r"(\s*[,;]\s*|\s+(?:và|va|and)\s+|\s*&\s*)", re.IGNORECASE)


def parse_choices(text: str, labels: Sequence[str], *, multi: bool) -> list[int] | None:
    """Parse a reply to a numbered list of options into 0-based indices, or None.

    Numbers ("2", "1, 3 và 5", "1-3") win over option texts; a text matches exactly,
    without diacritics, or as an unambiguous prefix/substring of 3+ letters.
    """
    folded = fold(text)
    if not folded:
        return None
    keys = [_key(label) for label in labels]
    stripped = _strip_edges(nfc(text))
    if _NUMBER_LIST.fullmatch(folded):
        picked = _pick_numbers(folded, len(labels), multi=multi)
        if picked is not None:
            return picked
        # "60" out of range may still be an option's exact text (an age group, a year).
        index = _match_one(stripped, labels, keys, exact_only=True)
        return None if index is None else [index]
    echoed = _ECHOED_LINE.fullmatch(stripped)
    if echoed and _match_one(echoed[2], labels, keys) == int(echoed[1]) - 1:
        return [int(echoed[1]) - 1]
    if not multi:
        index = _match_one(stripped, labels, keys)
        return None if index is None else [index]
    return _match_several(stripped, labels, keys)


def _pick_numbers(folded: str, count: int, *, multi: bool) -> list[int] | None:
    picked: set[int] = set()
    for first, last in _NUMBER_ITEM.findall(folded):
        if len(first) > 6 or len(last) > 6:  # int() refuses very long digit strings
            return None
        low, high = int(first), int(last or first)
        if (last and not multi) or low > high or low < 1 or high > count:
            return None
        picked.update(range(low - 1, high))
    if not multi and len(picked) != 1:
        return None
    return sorted(picked)


def _match_several(
    text: str, labels: Sequence[str], keys: list[str]
) -> list[int] | None:
    parts = _TEXT_SEP.split(text)  # piece, separator, piece, ...
    pieces = parts[0::2]
    if len(pieces) > _MAX_PIECES:  # the search below is quadratic in the pieces
        return None
    found: list[int] = []
    start = 0
    while start < len(pieces):
        if not _key(pieces[start]):
            start += 1
            continue
        # Longest run of pieces first, so labels that contain a separator stay whole.
        for end in range(len(pieces), start, -1):
            index = _match_one("".join(parts[2 * start : 2 * end - 1]), labels, keys)
            if index is not None:
                break
        else:
            return None
        if index not in found:
            found.append(index)
        start = end
    return found or None


def _match_one(
    text: str, labels: Sequence[str], keys: list[str], *, exact_only: bool = False
) -> int | None:
    """The single option ``text`` names, or None when it names none or several."""
    exact = nfc(text).casefold()
    hits = [i for i, label in enumerate(labels) if nfc(label).casefold() == exact]
    if len(hits) == 1:
        return hits[0]
    key = _key(text)
    if not key:
        return None
    # Exact beats partial; a partial match at the start of a word beats one inside a
    # word. Several matches in the best tier make the text ambiguous: ask again.
    tiers: list[list[int]] = [[i for i, k in enumerate(keys) if k == key], [], []]
    if not exact_only and len(key.replace(" ", "")) >= 3:
        # Never split a number: "thon 2" must not match "Thôn 20".
        pattern = re.compile(
            ("(?<!\\d)" if key[0].isdigit() else "")
            + re.escape(key)
            + ("(?!\\d)" if key[-1].isdigit() else "")
        )
        for i, k in enumerate(keys):
            starts = [m.start() for m in pattern.finditer(k)]
            if any(s == 0 or k[s - 1] == " " for s in starts):
                tiers[1].append(i)
            elif starts:
                tiers[2].append(i)
    for tier in tiers:
        if tier:
            return tier[0] if len(tier) == 1 else None
    return None


# ------------------------------------------------------------------ numbers

# "1 245" is one number: a 1-3 digit group followed by space-separated groups of three.
_SPACE_GROUPS = re.compile(r"(?<![\d.,])(\d{1,3})((?: \d{3})+)(?!\d)")
_INT_TOKEN = re.compile(r"([-\u2212]?)(\d+(?:[.,]\d+)*)")


# Letters that look like digits: O and o like 0 (ô, ơ too: Telex turns "oo" into "ô"), I and l like 1.
_LOOKALIKE = {"o": "0", "i": "1", "l": "1"}
_WORD = re.compile(r"[^\W_]+")
_DIGITS_OR_NOT = re.compile(r"\d+|\D+")


def _lookalike(text: str) -> ParseError | None:
    """A look-alike letter touching digits ("5o", "1o0", "l0", "O5") is never read as a digit,
    nor dropped: the reply is refused. A unit glued to the number ("50ng", "50luot") is fine."""
    plain = unicodedata.normalize("NFKC", nfc(text))
    for word in _WORD.finditer(plain):
        pieces = _DIGITS_OR_NOT.findall(word[0])
        if not any(p[0].isdigit() for p in pieces):
            continue
        lookalike = [
            not p[0].isdigit() and all(fold(ch) in _LOOKALIKE for ch in p) for p in pieces
        ]
        if not any(lookalike):
            continue
        letters = next(p for p, bad in zip(pieces, lookalike, strict=True) if bad)
        guess = "".join(
            p if p[0].isdigit() else "".join(_LOOKALIKE[fold(ch)] for ch in p)
            for p, bad in zip(pieces, lookalike, strict=True)
            if bad or p[0].isdigit()
        )
        return ParseError("lookalike", {"letter": letters, "guess": guess.lstrip("0") or "0"})
    return None


def parse_int(
    text: str, *, minimum: int = 0, maximum: int = 1_000_000
) -> int | ParseError:
    """Parse one whole number; words around it and "1.245"/"1,245"/"1 245" are fine.

    Letters that look like digits are refused ("5o" is not 5, nor 50): see ``_lookalike``.
    """
    if (mixed := _lookalike(text)) is not None:
        return mixed
    plain = _SPACE_GROUPS.sub(lambda m: m[1] + m[2].replace(" ", ""), _fold_core(text))
    tokens = list(_INT_TOKEN.finditer(plain))
    if not tokens:
        return ParseError("not_a_number")
    if len(tokens) > 1:
        return ParseError("several_numbers")
    token = tokens[0]
    # A minus sign glued to the digits and not part of a range like "40-50".
    if token[1] and (token.start() == 0 or not plain[token.start() - 1].isalnum()):
        return ParseError("negative")
    groups = re.split(r"[.,]", token[2])
    separators = set(re.findall(r"[.,]", token[2]))
    if len(groups) > 1 and (
        len(separators) > 1
        or not 1 <= len(groups[0]) <= 3
        or any(len(g) != 3 for g in groups[1:])
    ):
        return ParseError("not_integer")  # "12,5" is a decimal comma in Vietnamese
    digits = "".join(groups).lstrip("0") or "0"
    if len(digits) > 18:  # int() refuses very long digit strings
        return ParseError("too_large", {"maximum": maximum})
    value = int(digits)
    if value < minimum:
        return ParseError("too_small", {"minimum": minimum})
    if value > maximum:
        return ParseError("too_large", {"maximum": maximum})
    return value


# ------------------------------------------------------------------ ages

OLDEST = 120
_AGE_UNKNOWN = frozenset((
    "khong ro", "ko ro", "k ro", "kh ro", "khg ro", "chua ro", "khong ro tuoi", "ko ro tuoi",
    "khong biet", "ko biet", "k biet", "chua biet", "khong biet tuoi", "khong nho",
    "unknown", "not known", "dont know", "don't know", "not sure",
))  # fmt: skip
_AGE_RANGE = re.compile(r"(?<![\d.,])(\d{1,3})\s*(?:-|\u2013|\u2014|den|toi|to)\s*(\d{1,3})(?![\d.,])")
_AGE_BELOW = re.compile(r"\b(?:duoi|under|chua den|chua du|nho hon|less than|below)\b")
_AGE_ABOVE = re.compile(r"\b(?:tren|hon|ngoai|over|lon hon|more than|above)\b")
_AGE_FROM = re.compile(r"\b(?:tu du|tu|from|at least)\b")
_AGE_ABOUT = re.compile(r"\btren duoi\b")  # "trên dưới 40" is "about 40"
_AGE_MONTHS = re.compile(r"\b(?:thang|months?)\b")
_AGE_BORN = re.compile(r"\b(?:sinh nam|sinh|sn|nam sinh|born)\b")


def parse_age(text: str, *, this_year: int) -> tuple[int, int] | None | ParseError:
    """An age as people say it, as the inclusive range of years it may mean; None for "không rõ".

    "3", "3 tuổi", "khoảng 40", "trên dưới 40" → (n, n); "30-40", "30 đến 40" → (30, 40);
    "dưới 16" → (0, 15); "trên 60", "ngoài 60" → (61, OLDEST); "từ đủ 60" → (60, OLDEST);
    "18 tháng" → (1, 1); "sinh năm 1990" or "1990" → the two ages that birth year gives.
    The caller turns the range into an age group, and keeps nothing else.
    """
    folded = fold(text)
    if folded in _AGE_UNKNOWN:
        return None
    if (mixed := _lookalike(text)) is not None:
        return mixed
    if span := _AGE_RANGE.search(folded):
        low, high = int(span[1]), int(span[2])
        if low > high or high > OLDEST:
            return ParseError("implausible_age")
        return low, high
    value = parse_int(text, maximum=10_000)
    if isinstance(value, ParseError):
        return ParseError("not_an_age") if value.code in ("not_a_number", "too_large") else value
    if _AGE_BORN.search(folded) or 1900 <= value <= this_year:
        year = value
        if year < 100:  # "sinh năm 90"
            year += 2000 if 2000 + year <= this_year else 1900
        if not this_year - OLDEST <= year <= this_year:
            return ParseError("implausible_age")
        age = this_year - year
        return max(age - 1, 0), age  # the birthday may not have come yet this year
    if _AGE_MONTHS.search(folded):
        value //= 12
    if value > OLDEST:
        return ParseError("implausible_age")
    if _AGE_ABOUT.search(folded):
        return value, value
    if _AGE_BELOW.search(folded):
        return (0, value - 1) if value > 0 else ParseError("implausible_age")
    if _AGE_ABOVE.search(folded):
        return (min(value + 1, OLDEST), OLDEST)
    if _AGE_FROM.search(folded):
        return value, OLDEST
    return value, value


# ------------------------------------------------------------------ dates

_DAYS_AGO = {
    "hom nay": 0, "nay": 0, "today": 0,
    "hom qua": 1, "qua": 1, "yesterday": 1,
    "hom kia": 2,
}  # fmt: skip
_WEEKDAY_WORDS = {"hai": 0, "ba": 1, "tu": 2, "nam": 3, "sau": 4, "bay": 5}
_WEEKDAY = re.compile(r"(?:thu|t)\s*([2-7]|hai|ba|tu|nam|sau|bay)|(chu nhat|cn)")
_DMY = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})(?:\s*[/.\-]\s*(\d{4}|\d{2}))?")
_DMY_WORDS = re.compile(r"(\d{1,2}) thang (\d{1,2})(?: nam (\d{4}|\d{2}))?")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def parse_date(
    text: str, *, today: date, window_days: int | None, allow_future: bool = False
) -> date | ParseError:
    """Parse "25/11/2026", "25/11", "hôm qua", "thứ 2"... and check the window."""
    result = _read_date(text, today)
    if isinstance(result, ParseError):
        return result
    if result > today and not allow_future and _yearless(text):
        # A day and month without a year that is still to come this year is last year's when that
        # one is within the window: "20/11" typed on 05/01/2027 is 20/11/2026. "26/11" typed on
        # 25/11 stays this year's, and is refused as in the future.
        try:
            before = result.replace(year=result.year - 1)
        except ValueError:  # 29/02
            before = None
        if before is not None and (window_days is None or (today - before).days <= window_days):
            result = before
    if result > today and not allow_future:
        return ParseError("future")
    if window_days is not None and (today - result).days > window_days:
        return ParseError("too_old", {"days": window_days})
    return result


def _yearless(text: str) -> bool:
    folded = re.sub(r"^ngay\s+", "", fold(text))
    m = _DMY.fullmatch(folded) or _DMY_WORDS.fullmatch(folded)
    return bool(m) and m[3] is None


def _read_date(text: str, today: date) -> date | ParseError:
    folded = re.sub(r"^ngay\s+", "", fold(text))  # "ngày 25/11", "ngày hôm qua"
    if folded in _DAYS_AGO:
        return today - timedelta(days=_DAYS_AGO[folded])
    if weekday := _WEEKDAY.fullmatch(folded):
        word = weekday[1]
        if weekday[2]:
            target = 6
        elif word.isdigit():
            target = int(word) - 2
        else:
            target = _WEEKDAY_WORDS[word]
        return today - timedelta(days=(today.weekday() - target) % 7)
    if iso := _ISO.fullmatch(folded):
        year, month, day = (int(g) for g in iso.groups())
    elif dmy := _DMY.fullmatch(folded) or _DMY_WORDS.fullmatch(folded):
        day, month = int(dmy[1]), int(dmy[2])
        year = today.year if dmy[3] is None else int(dmy[3]) + (2000 if len(dmy[3]) == 2 else 0)
    else:
        return ParseError("not_a_date")
    try:
        return date(year, month, day)
    except ValueError:
        return ParseError("invalid_date", {"text": nfc(text)})


# ------------------------------------------------------------------ phones

_PHONE_LABEL = re.compile(r"^(?:so dien thoai|so dt|sdt|dt|tel|phone)\s*:?\s*")


def display_phone(e164: str) -> str:
    """How a Vietnamese number is written: +84912345678 → 0912 345 678, +842083000113 → 0208 3000 113."""
    if not e164.startswith("+84"):
        return e164
    national = "0" + e164[3:]
    if len(national) == 10:
        return f"{national[:4]} {national[4:7]} {national[7:]}"
    if len(national) == 11:
        return f"{national[:4]} {national[4:8]} {national[8:]}"
    return national


def parse_phone(text: str) -> str | ParseError:
    """Normalise a Vietnamese (or "+"-prefixed foreign) phone number to E.164."""
    plain = _PHONE_LABEL.sub("", _fold_core(text))
    if not re.fullmatch(r"[\d\s.()+\-/]+", plain):
        return ParseError("not_a_phone")
    compact = re.sub(r"[\s.()\-/]", "", plain)
    if not re.fullmatch(r"\+?\d+", compact):
        return ParseError("not_a_phone")
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+84"):
        national = compact[3:]
    elif compact.startswith("+"):
        return compact if 8 <= len(compact) - 1 <= 15 else ParseError("not_a_phone")
    elif compact.startswith("0"):
        national = compact[1:]
    elif compact.startswith("84") and len(compact) in (11, 12):
        national = compact[2:]
    else:
        return ParseError("not_a_phone")  # includes short service numbers such as 113
    # "+84 0912 ..." : people often keep the trunk zero after the country code.
    national = national.removeprefix("0")
    is_mobile = len(national) == 9 and national[0] in "35789"
    is_landline = len(national) in (9, 10) and national[0] == "2"
    return "+84" + national if is_mobile or is_landline else ParseError("not_a_phone")


# ------------------------------------------------------------------ codes, yes/no


_YES = frozenset(
    ("co", "c", "yes", "y", "u", "uh", "um", "dung", "dung roi", "vang", "da", "ok")
)
_NO = frozenset(
    ("khong", "k", "ko", "kg", "kh", "khg", "no", "n", "khong co", "khong dung")
)


def parse_yes_no(text: str) -> bool | None:
    """True for "có"/"co"/"ừ"/"đúng"..., False for "không"/"ko"/"k"..., else None."""
    words = fold(text).split()
    # Polite particles: "dạ không" is no, "có ạ" is yes.
    if len(words) > 1 and words[0] in ("da", "vang"):
        words = words[1:]
    if len(words) > 1 and words[-1] == "a":
        words = words[:-1]
    answer = " ".join(words)
    if answer in _YES:
        return True
    if answer in _NO:
        return False
    return None
