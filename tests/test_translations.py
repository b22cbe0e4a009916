"""Every message marked in the code is translated, and translations keep their {placeholders}.

When this fails after you added or changed a message: run `python -m tools.i18n update`, then fill
the empty msgstr in locales/vi/LC_MESSAGES/messages.po (Vietnamese, full diacritics, the words of
/work/shared/DOMAIN.md) and locales/en/LC_MESSAGES/messages.po (the English source itself).
"""

from __future__ import annotations

import re
import string

import pytest
from babel.messages.pofile import read_po

from core import i18n
from tools.i18n import LANGUAGES, extract_messages, placeholders, po_path

# Vietnamese translations that may equal their msgid: names that are the same in both languages.
SAME_IN_VIETNAMESE = {"Dao", "Tày", "Nùng", "Mông"}

# Vietnamese words that are never right without their tone marks in our UI text. Whole words only;
# "/huy" style commands are not words. Avoid words that exist unaccented ("ngay", "huy", "ban").
UNACCENTED = ["khong", "nguoi", "thon", "duoc", "chua", "cua", "voi", "nhap", "gui", "bao cao",
              "tuyen truyen", "tham du", "xac nhan", "vui long", "dien thoai", "hom nay", "hom qua",
              "quay lai", "bo qua", "tiep tuc", "ghi chu", "nu"]
UNACCENTED_RE = re.compile(r"(?<![\w/])(" + "|".join(re.escape(w) for w in UNACCENTED) + r")(?!\w)", re.IGNORECASE)

# Keywords typed on text-only channels must fold to a word the form engine understands.
KEYWORDS = {
    "back": "BACK_WORDS", "skip": "SKIP_WORDS", "cancel": "CANCEL_WORDS", "discard draft": "CANCEL_WORDS",
    "continue": "RESUME_WORDS", "done": "DONE_WORDS", "confirm": "CONFIRM_WORDS",
}


@pytest.fixture(scope="module")
def messages() -> dict[str, list]:
    found = extract_messages()
    assert found, "no messages extracted from bot/ and handlers/"
    return found


def _catalog(lang: str):
    path = po_path(lang)
    assert path.exists(), f"{path} is missing: run python -m tools.i18n update"
    with path.open("rb") as fh:
        return read_po(fh, locale=lang)


@pytest.fixture(scope="module", params=LANGUAGES)
def lang_catalog(request):
    return request.param, _catalog(request.param)


@pytest.fixture(scope="module")
def vi():
    return _catalog("vi")


def _where(messages, msgid) -> str:
    return " ".join(f"{f}:{n}" for f, n in messages.get(msgid, [])[:2])


def _report(title: str, bad: list[str]) -> str:
    return f"{title} ({len(bad)}); run `python -m tools.i18n check`:\n  " + "\n  ".join(bad)


def test_every_message_is_translated(messages, lang_catalog):
    lang, cat = lang_catalog
    bad = []
    for msgid in messages:
        msg = cat.get(msgid)
        if msg is None or not msg.string:
            bad.append(f"missing: {msgid!r}  ({_where(messages, msgid)})")
        elif msg.fuzzy:
            bad.append(f"fuzzy: {msgid!r}  ({_where(messages, msgid)})")
    assert not bad, _report(f"[{lang}] untranslated messages", bad)


def test_placeholders_match(messages, lang_catalog):
    lang, cat = lang_catalog
    bad = []
    for msgid in messages:
        msg = cat.get(msgid)
        if msg is None or not msg.string:
            continue
        try:
            want, got = placeholders(msgid), placeholders(msg.string)
        except ValueError as exc:
            bad.append(f"{msgid!r}: unbalanced braces ({exc}) in {msg.string!r}")
            continue
        if want != got:
            bad.append(f"{msgid!r}: has {sorted(got)}, needs {sorted(want)} -> {msg.string!r}")
        if msgid.count("\n") != msg.string.count("\n"):
            bad.append(f"{msgid!r}: line breaks differ -> {msg.string!r}")
    assert not bad, _report(f"[{lang}] translations with the wrong placeholders", bad)


def _letters(text: str) -> str:
    """The text without its {placeholders}: what a reader sees."""
    return "".join(literal for literal, *_ in string.Formatter().parse(text))


def test_nothing_left_in_english(messages, vi):
    bad = []
    for msgid in messages:
        msg = vi.get(msgid)
        if msg is None or not msg.string or msgid in SAME_IN_VIETNAMESE:
            continue
        if msg.string == msgid and re.search(r"[A-Za-z]", _letters(msgid)):
            bad.append(f"{msgid!r}  ({_where(messages, msgid)})")
    assert not bad, _report("[vi] messages left in English", bad)


class _Any:
    """A dummy parameter that formats under any spec and allows attribute or item access."""

    def __format__(self, spec: str) -> str:
        return "X"

    def __getattr__(self, name):
        return self

    def __getitem__(self, key):
        return self


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translate_formats_every_message(messages, lang):
    i18n.catalog.cache_clear()
    bad = []
    for msgid in messages:
        params = {name.split(".")[0].split("[")[0]: _Any() for name in placeholders(msgid) if name}
        try:
            text = i18n.translate(lang, msgid, **params)
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            bad.append(f"{msgid!r}: {type(exc).__name__}: {exc}")
            continue
        if not text:
            bad.append(f"{msgid!r}: empty result")
    assert not bad, _report(f"[{lang}] translate() fails", bad)


def test_vietnamese_has_its_diacritics(messages, vi):
    bad = []
    for msgid in messages:
        msg = vi.get(msgid)
        if msg is None or not msg.string:
            continue
        hits = sorted({m.group(1).lower() for m in UNACCENTED_RE.finditer(_letters(msg.string))})
        if hits:
            bad.append(f"{msgid!r} -> {msg.string!r}: {', '.join(hits)}")
    assert not bad, _report("[vi] words written without diacritics", bad)


def test_language_switch_message():
    i18n.catalog.cache_clear()
    assert i18n.translate("vi", "The language has been changed.") == "Đã chuyển sang tiếng Việt."
    assert i18n.translate("en", "The language has been changed.") == "Language set to English."


def test_typed_keywords_are_understood(messages):
    """A keyword shown on text-only channels must be one the form engine accepts when typed."""
    from handlers import parsing
    from handlers.forms import engine

    i18n.catalog.cache_clear()
    bad = []
    for msgid, words in KEYWORDS.items():
        accepted = getattr(engine, words, None)
        if msgid not in messages or accepted is None:
            continue
        for lang in LANGUAGES:
            typed = i18n.translate(lang, msgid)
            if parsing.fold(typed) not in accepted:
                bad.append(f"[{lang}] {msgid!r} -> {typed!r} is not in engine.{words}")
    assert not bad, _report("keywords the engine would not understand", bad)
