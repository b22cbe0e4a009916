"""A strict, in-process emulator of the Telegram Bot API for end-to-end tests.

The emulator serves the Bot API over real HTTP on 127.0.0.1 (aiohttp), so a real
python-telegram-bot ``Bot``/``Application`` can talk to it::

    emu = TelegramEmulator(token="123456:TEST-token", bot_username="xuanduong_bot")
    await emu.start()
    bot = telegram.Bot(emu.token, base_url=emu.api_url, base_file_url=emu.file_url)

It validates requests the way Telegram does (HTML/MarkdownV2 parsing, text and caption
lengths counted in UTF-16 code units after entity parsing, callback_data byte length,
"message is not modified", 48 h delete window, 10 s callback answer window, flood
limits, webhook/getUpdates exclusivity, ...) and answers with Telegram's error
descriptions, because a lenient mock hides bugs.

Simulated users live in private chats (chat id == user id). Test code drives them with
``send_text``/``press``/``send_photo``/... and inspects what the bot sent with
``messages``/``last``/``wait_for``. Misuse of those helpers (pressing a button that does
not exist, ...) raises AssertionError: a real client could not do it.

The clock (``emu.now``, default ``time.time``) drives message dates, the 48 h delete
window, the callback answer window, getFile link expiry and the rate limiter; replace it
with a callable to control time.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import mimetypes
import re
import secrets
import struct
import time
import traceback
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp import web

__all__ = [
    "ApiError",
    "EntityParseError",
    "SentMessage",
    "SimUser",
    "TelegramEmulator",
    "Upload",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "utf16_len",
]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes, UTF-8
MAX_INLINE_BUTTONS = 100
MAX_UPLOAD = 50 * 1024 * 1024
MAX_PHOTO_UPLOAD = 10 * 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024
CALLBACK_ANSWER_WINDOW = 10.0
DELETE_WINDOW = 48 * 3600
FILE_LINK_TTL = 3600
GLOBAL_RATE_LIMIT = 30  # sends per any 1-second window, all chats together
RATE_LIMITED_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument", "editmessagetext"})
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CONFLICT_POLL = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
CALLBACK_EXPIRED = "query is too old and response timeout expired or query ID is invalid"
_DEFAULT_SKIPPED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_UNSET: Any = object()


class ApiError(Exception):
    """A Bot API failure: becomes {"ok": false, "error_code", "description"} on the wire."""

    def __init__(self, code: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


def _bad(description: str) -> ApiError:
    return ApiError(400, "Bad Request: " + description)


class EntityParseError(ValueError):
    """Raised by the markup parsers with Telegram's wording (after "can't parse entities: ")."""


# --------------------------------------------------------------------------- text helpers


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts lengths and offsets in."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _u16(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _check_url(url: str) -> str | None:
    """Rough equivalent of tdlib's check_url: None if Telegram would drop/refuse the URL."""
    url = url.strip()
    if not url or any(c.isspace() for c in url):
        return None
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url):
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "tg":
        return url if parts.netloc else None
    if scheme not in ("http", "https", "ton"):
        return None
    host = parts.hostname or ""
    if "." not in host or host.startswith(".") or host.endswith("."):
        return None
    return url


def _trim(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Telegram strips leading/trailing whitespace; entities are shifted and clipped."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    out = []
    for ent in entities:
        start = max(ent["offset"] - shift, 0)
        end = min(ent["offset"] + ent["length"] - shift, total)
        if end > start:
            out.append({**ent, "offset": start, "length": end - start})
    return stripped, out


def _sorted_entities(entities: list[dict]) -> list[dict]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


# --------------------------------------------------------------------------- HTML parse mode

_HTML_TAGS = frozenset("a b strong i em s strike del u ins pre code span tg-spoiler blockquote tg-emoji".split())
_HTML_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ENTITY_RE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#x[0-9A-Fa-f]+);")


def _decode_html_entity(text: str, i: int) -> tuple[str, int] | None:
    """tdlib's decode_html_entity: the decoded character and the index after it, or None."""
    n, j = len(text), i + 1
    if j < n and text[j] == "#":
        j += 1
        value = 0
        if j < n and text[j] == "x":
            j += 1
            while j < n and text[j] in "0123456789abcdefABCDEF":
                value = value * 16 + int(text[j], 16)
                j += 1
        else:
            while j < n and "0" <= text[j] <= "9":
                value = value * 10 + int(text[j])
                j += 1
        if value == 0 or value >= 0x10FFFF or j - i >= 10:
            return None
        ch = chr(value)
    else:
        while j < n and text[j].isascii() and text[j].isalpha():
            j += 1
        ch = _HTML_NAMED.get(text[i + 1 : j])
        if ch is None:
            return None
    if j < n and text[j] == ";":
        j += 1
    return ch, j


def parse_html(text: str, *, strict_entities: bool = True) -> tuple[str, list[dict]]:
    """Parse Telegram HTML the way the Bot API does; returns (plain text, entities).

    Follows tdlib's parser (same error wording and byte offsets). With strict_entities an
    unknown named/numeric reference such as "&nbsp;" is refused; Telegram itself would
    show it verbatim, which is a display bug anyway.
    """
    out: list[str] = []
    entities: list[dict] = []
    stack: list[tuple[str, str, int, int, int]] = []  # tag, argument, utf16 start, out index, byte
    u16, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is not None:
                out.append(decoded[0])
                u16 += _u16(decoded[0])
                i = decoded[1]
                continue
            bad = _HTML_ENTITY_RE.match(text, i)
            if strict_entities and bad:
                raise EntityParseError(
                    f'Unsupported HTML entity "{bad.group(0)}" at byte offset {_byte_offset(text, i)}'
                )
        if c != "<":
            out.append(c)
            u16 += _u16(c)
            i += 1
            continue
        begin = _byte_offset(text, i)
        i += 1
        if i < n and text[i] == "/":  # end tag
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
            i += 1
            j = i
            while j < n and not text[j].isspace() and text[j] != ">":
                j += 1
            name = text[i:j].lower()
            while j < n and text[j].isspace():
                j += 1
            if j >= n or text[j] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
            tag, arg, start, out_index, _ = stack.pop()
            if name and name != tag:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", found "</{name}>"'
                )
            if u16 > start:
                _close_html_entity(entities, tag, arg, start, u16 - start, "".join(out[out_index:]))
            i = j + 1
            continue
        j = i  # start tag
        while j < n and not text[j].isspace() and text[j] != ">":
            j += 1
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        tag = text[i:j].lower()
        if tag not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        arg, j = _parse_html_attributes(text, j, tag, begin)
        stack.append((tag, arg, u16, len(out), begin))
        i = j + 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    result = "".join(out)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in result):
        raise EntityParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, check for "
            "unmatched surrogate code units"
        )
    for ent in entities:
        if ent["type"] == "code":
            ent.pop("language", None)
    return result, _sorted_entities(entities)


def _parse_html_attributes(text: str, j: int, tag: str, begin: int) -> tuple[str, int]:
    """Parse the attributes of a start tag; returns (entity argument, index of '>')."""
    n, arg, expandable = len(text), "", False
    while True:
        while j < n and text[j].isspace():
            j += 1
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        if text[j] == ">":
            break
        name_start = j
        while j < n and not text[j].isspace() and text[j] not in "=>":
            j += 1
        name = text[name_start:j].lower()
        if not name:
            raise EntityParseError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        while j < n and text[j].isspace():
            j += 1
        if j >= n:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        if text[j] != "=":
            if tag == "blockquote" and name == "expandable":
                expandable = True
                continue
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" at byte offset {begin}'
            )
        j += 1
        while j < n and text[j].isspace():
            j += 1
        if j >= n:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        if text[j] not in "'\"":  # a name token
            token_start = j
            while j < n and ((text[j].isascii() and text[j].isalnum()) or text[j] in ".-"):
                j += 1
            value = text[token_start:j].lower()
            if j < n and not text[j].isspace() and text[j] != ">":
                raise EntityParseError(f"Unexpected end of name token at byte offset {_byte_offset(text, token_start)}")
        else:  # a quoted string with character references decoded
            quote, buf = text[j], []
            j += 1
            while j < n and text[j] != quote:
                decoded = _decode_html_entity(text, j) if text[j] == "&" else None
                if decoded is not None:
                    buf.append(decoded[0])
                    j = decoded[1]
                    continue
                buf.append(text[j])
                j += 1
            if j < n:
                j += 1
            value = "".join(buf)
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        if tag == "a" and name == "href":
            arg = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            arg = value[9:]
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            arg = value[3:]
        elif tag == "tg-emoji" and name == "emoji-id":
            arg = value
        elif tag == "blockquote" and name == "expandable":
            expandable = True
    if tag == "span" and arg != "spoiler":
        raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
    if tag == "blockquote":
        arg = "expandable" if expandable else ""
    return arg, j


def _close_html_entity(entities: list[dict], tag: str, arg: str, offset: int, length: int, inner: str) -> None:
    last = entities[-1] if entities else None
    same_range = last is not None and last["offset"] == offset and last["length"] == length
    if tag in _HTML_SIMPLE:
        entities.append({"type": _HTML_SIMPLE[tag], "offset": offset, "length": length})
    elif tag == "a":
        url = _check_url(arg or inner)
        if url:  # Telegram silently drops links with an invalid URL
            entities.append({"type": "text_link", "offset": offset, "length": length, "url": url})
    elif tag == "pre":
        if same_range and last["type"] == "code" and last.get("language"):
            last["type"] = "pre"
        else:
            entities.append({"type": "pre", "offset": offset, "length": length})
    elif tag == "code":
        if same_range and last["type"] == "pre" and arg:
            last["language"] = arg
        else:
            ent = {"type": "code", "offset": offset, "length": length}
            if arg:
                ent["language"] = arg  # kept until a surrounding <pre> closes
            entities.append(ent)
    elif tag == "blockquote":
        kind = "expandable_blockquote" if arg else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})
    elif tag == "tg-emoji":
        if not arg.isdigit() or int(arg) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entities.append({"type": "custom_emoji", "offset": offset, "length": length, "custom_emoji_id": arg})


# --------------------------------------------------------------------------- Markdown modes

_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _mdv2_escape_at(text: str, i: int) -> bool:
    return text[i] == "\\" and i + 1 < len(text) and 0 < ord(text[i + 1]) <= 126


def parse_markdown_v2(text: str) -> tuple[str, list[dict]]:
    """Parse MarkdownV2 like tdlib: every reserved character must be escaped."""
    out: list[str] = []
    entities: list[dict] = []
    stack: list[dict] = []
    u16, i, n = 0, 0, len(text)
    quote_start: int | None = None

    def at(k: int) -> str:
        return text[k] if k < n else ""

    while i < n:
        c = text[i]
        if _mdv2_escape_at(text, i):
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        top = stack[-1]["type"] if stack else None
        verbatim = top in ("code", "pre")
        if c == ">" and not verbatim and (i == 0 or text[i - 1] == "\n"):
            if quote_start is None:
                quote_start = u16
            i += 1
            continue
        if c not in ("`" if verbatim else _MDV2_RESERVED):
            out.append(c)
            u16 += _u16(c)
            if c == "\n" and quote_start is not None and at(i + 1) != ">":
                if u16 - 1 > quote_start:
                    entities.append({"type": "blockquote", "offset": quote_start, "length": u16 - 1 - quote_start})
                quote_start = None
            i += 1
            continue
        is_end = (
            top is not None
            and {
                "bold": c == "*",
                "italic": c == "_" and at(i + 1) != "_",
                "code": c == "`",
                "pre": text.startswith("```", i),
                "text_link": c == "]",
                "custom_emoji": c == "]",
                "underline": text.startswith("__", i),
                "strikethrough": c == "~",
                "spoiler": text.startswith("||", i),
            }[top]
        )
        if not is_end:
            start, arg = i, ""
            if c == "_":
                kind = "underline" if at(i + 1) == "_" else "italic"
                i += kind == "underline"
            elif c in "*~[":
                kind = {"*": "bold", "~": "strikethrough", "[": "text_link"}[c]
            elif c == "|" and at(i + 1) == "|":
                kind = "spoiler"
                i += 1
            elif c == "!" and at(i + 1) == "[":
                kind = "custom_emoji"
                i += 1
            elif c == "`" and text.startswith("```", i):
                kind = "pre"
                i += 3
                lang_end = i
                while lang_end < n and not text[lang_end].isspace() and text[lang_end] != "`":
                    lang_end += 1
                if i != lang_end and lang_end < n and text[lang_end] != "`":
                    arg, i = text[i:lang_end], lang_end
                if at(i) in ("\n", "\r") and at(i):
                    i += 2 if at(i + 1) in ("\n", "\r") and at(i + 1) and at(i) != at(i + 1) else 1
                i -= 1
            elif c == "`":
                kind = "code"
            else:
                raise EntityParseError(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
            stack.append({"type": kind, "arg": arg, "offset": u16, "byte": _byte_offset(text, start), "out": len(out)})
            i += 1
            continue
        ent = stack.pop()
        kind, url = ent["type"], None
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind == "pre":
            i += 2
        elif kind in ("text_link", "custom_emoji"):
            if at(i + 1) != "(":
                url = "".join(out[ent["out"] :])
            else:
                i += 2
                url_start, buf = i, []
                while i < n and text[i] != ")":
                    if _mdv2_escape_at(text, i):
                        buf.append(text[i + 1])
                        i += 2
                        continue
                    buf.append(text[i])
                    i += 1
                if i >= n:
                    raise EntityParseError(f"Can't find end of a URL at byte offset {_byte_offset(text, url_start)}")
                url = "".join(buf)
        if u16 > ent["offset"]:
            new = {"type": kind, "offset": ent["offset"], "length": u16 - ent["offset"]}
            if kind == "pre" and ent["arg"]:
                new["language"] = ent["arg"]
            if kind == "custom_emoji":
                emoji_id = (url or "").removeprefix("tg://emoji?id=")
                if not emoji_id.isdigit():
                    raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
                new["custom_emoji_id"] = emoji_id
            if kind == "text_link":
                checked = _check_url(url or "")
                new = {**new, "url": checked} if checked else None
            if new:
                entities.append(new)
        i += 1
    if stack:
        ent = stack[-1]
        raise EntityParseError(f"Can't find end of {_MDV2_NAMES[ent['type']]} entity at byte offset {ent['byte']}")
    if quote_start is not None and u16 > quote_start:
        entities.append({"type": "blockquote", "offset": quote_start, "length": u16 - quote_start})
    return "".join(out), _sorted_entities(entities)


def parse_markdown(text: str) -> tuple[str, list[dict]]:
    """Parse legacy Markdown (parse_mode "Markdown") like tdlib's parse_markdown."""
    out: list[str] = []
    entities: list[dict] = []
    u16, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            u16 += _u16(c)
            i += 1
            continue
        begin, end_char, is_pre, lang = i, "]" if c == "[" else c, False, ""
        i += 1
        if c == "`" and text.startswith("``", i):
            i += 2
            is_pre = True
            lang_end = i
            while lang_end < n and not text[lang_end].isspace() and text[lang_end] != "`":
                lang_end += 1
            if i != lang_end and lang_end < n and text[lang_end] != "`":
                lang, i = text[i:lang_end], lang_end
            if i < n and text[i] in "\r\n":
                i += 1
        offset, out_start = u16, len(out)
        while i < n and (text[i] != end_char or (is_pre and not text.startswith("```", i))):
            out.append(text[i])
            u16 += _u16(text[i])
            i += 1
        if i >= n:
            raise EntityParseError(f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}")
        if u16 > offset:
            ent: dict | None = {"offset": offset, "length": u16 - offset}
            if c == "[":
                url = "".join(out[out_start:])
                if i + 1 < n and text[i + 1] == "(":
                    i += 2
                    buf = []
                    while i < n and text[i] != ")":
                        buf.append(text[i])
                        i += 1
                    url = "".join(buf)
                checked = _check_url(url)
                ent = {**ent, "type": "text_link", "url": checked} if checked else None
            elif c == "`":
                ent["type"] = "pre" if is_pre else "code"
                if lang:
                    ent["language"] = lang
            else:
                ent["type"] = "italic" if c == "_" else "bold"
            if ent:
                entities.append(ent)
        if is_pre:
            i += 2
        i += 1
    return "".join(out), _sorted_entities(entities)


# --------------------------------------------------------------------------- images


def _image_info(data: bytes) -> tuple[str, int | None, int | None] | None:
    """(format, width, height) from the header bytes, or None if not an image."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return ("png", *struct.unpack(">II", data[16:24]))
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return ("gif", *struct.unpack("<HH", data[6:10]))
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return "bmp", abs(w), abs(h)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", None, None
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 <= len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                i += 1 if marker == 0xFF else 2
                continue
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return "jpeg", w, h
            i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
        return "jpeg", None, None
    return None


# --------------------------------------------------------------------------- data model


@dataclass
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    data: bytes = field(repr=False)
    content_type: str | None = None


@dataclass
class SentMessage:
    """A message the bot sent, in its current state (after edits; ``deleted`` once deleted)."""

    message_id: int
    chat_id: int
    text: str  # plain text (tags stripped, entities decoded), or the caption for media
    parse_mode: str | None
    reply_keyboard: list[list[dict]] | None = None  # rows of KeyboardButton dicts, flags kept
    photo: bytes | None = field(default=None, repr=False)
    document: tuple[str, bytes] | None = field(default=None, repr=False)
    deleted: bool = False
    edits: int = 0
    kind: str = "text"  # "text", "photo" or "document"
    raw_text: str = ""  # text/caption exactly as the bot sent it (markup included)
    entities: list[dict] = field(default_factory=list)
    reply_markup: dict | None = None  # current inline keyboard ({"inline_keyboard": ...})
    markup_kind: str | None = None  # inline / keyboard / remove / force_reply
    reply_to: int | None = None
    date: int = 0
    edit_date: int | None = None
    history: list[str] = field(default_factory=list, repr=False)  # texts before each edit
    media: Any = field(default=None, repr=False)  # PhotoSize list or Document dict
    seq: int = field(default=0, repr=False)  # change counter, see TelegramEmulator.mark

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Current inline keyboard as rows of (text, callback_data); None for URL buttons etc."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[(b["text"], b.get("callback_data")) for b in row] for row in rows]

    @property
    def button_texts(self) -> list[str]:
        return [text for row in self.buttons for text, _ in row]

    def describe(self) -> str:
        flags = " [deleted]" if self.deleted else ""
        flags += f" [edits={self.edits}]" if self.edits else ""
        text = self.text if len(self.text) <= 300 else self.text[:300] + "..."
        line = f"#{self.message_id} {self.kind}{flags}: {text!r}"
        if self.buttons:
            line += f"\n    buttons: {self.buttons}"
        if self.reply_keyboard:
            line += f"\n    reply keyboard: {self.reply_keyboard}"
        return line


@dataclass
class _UserMessage:
    message_id: int
    date: int
    data: dict
    deleted: bool = False


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    data: bytes = field(repr=False)
    kind: str  # photo / document / sticker
    file_name: str | None = None
    mime_type: str | None = None
    path: str | None = None


@dataclass
class _Callback:
    chat_id: int
    message_id: int
    data: str
    created: float
    answered: bool = False


class _Poll:
    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self.terminated = False


class _Chat:
    def __init__(self, user: dict, started: bool, bot_id: int):
        self.id: int = user["id"]
        self.user = user
        self.started = started
        self.blocked = False
        self.next_message_id = 1
        self.messages: dict[int, SentMessage | _UserMessage] = {}
        self.keyboard: list[list[dict]] | None = None
        self.last_user_seq = 0
        self.chat_instance = str(-((self.id * 2654435761 + bot_id) % 10**19))

    def chat_json(self) -> dict:
        chat = {"id": self.id, "type": "private", "first_name": self.user["first_name"]}
        for key in ("last_name", "username"):
            if self.user.get(key):
                chat[key] = self.user[key]
        return chat

    def alloc_id(self) -> int:
        mid = self.next_message_id
        self.next_message_id += 1
        return mid

    def bot_messages(self) -> list[SentMessage]:
        return [m for m in self.messages.values() if isinstance(m, SentMessage)]


class SimUser:
    """Handle on a simulated user; the methods forward to the emulator with this user's id."""

    def __init__(self, emu: TelegramEmulator, user_id: int):
        self.emu = emu
        self.id = user_id

    def __getattr__(self, name: str) -> Any:
        if name in (
            "send_text",
            "press",
            "press_label",
            "send_photo",
            "send_contact",
            "send_sticker",
            "messages",
            "last",
            "wait_for",
            "mark",
            "reply_keyboard",
        ):
            method = getattr(self.emu, name)
            return lambda *args, **kwargs: method(self.id, *args, **kwargs)
        raise AttributeError(name)


# --------------------------------------------------------------------------- the emulator


class TelegramEmulator:
    def __init__(
        self,
        token: str = "123456:TEST-token",
        bot_username: str = "xuanduong_bot",
        *,
        bot_name: str = "Xuân Dương",
        now: Callable[[], float] | None = None,
    ):
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
            raise ValueError("a bot token looks like '123456:ABC-def'")
        self.token = token
        self.bot_id = int(token.split(":")[0])
        self.bot_username = bot_username
        self.bot_user = {"id": self.bot_id, "is_bot": True, "first_name": bot_name, "username": bot_username}
        self.now: Callable[[], float] = now or time.time
        self.enforce_rate_limits = True
        self.global_rate_limit = GLOBAL_RATE_LIMIT
        self.per_chat_limit: int | None = None
        self.strict_html_entities = True
        self.webhook_timeout = 10.0
        # Two overlapping getUpdates: Telegram answers the OLDER one with 409 and serves the
        # newer one. Set True to refuse the newer one instead.
        self.reject_concurrent_polls = False
        self.url = ""
        # inspection
        self.calls: list[tuple[str, dict]] = []
        self.answered_callbacks: dict[str, dict] = {}
        self.commands: dict[str, dict] = {}
        self.updates: list[dict] = []  # every update produced, in order
        self.webhook_attempts: list[tuple[int | None, int]] = []  # (update_id, HTTP status or 0)
        self.internal_errors: list[str] = []  # emulator crashes (should stay empty)
        self.menu_buttons: dict[int | None, dict] = {}
        self.file_downloads = 0  # file downloads asked for (the /file/ URL), held or not
        # Set to an Event: every file download waits until it is set (a slow download).
        self.files_held: asyncio.Event | None = None
        # state
        self._chats: dict[int, _Chat] = {}
        self._queue: collections.deque[dict] = collections.deque()
        self._next_update_id = 1000
        self._allowed_updates: list[str] = []
        self._active_poll: _Poll | None = None
        self._polls: set[_Poll] = set()
        self._webhook: dict | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._deliver_lock = asyncio.Lock()
        self._callbacks: dict[str, _Callback] = {}
        self._files: dict[str, _File] = {}
        self._file_links: dict[str, tuple[_File, float]] = {}
        self._file_counter = itertools.count()
        self._commands: dict[str, list[dict]] = {}
        self._faults: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._sends: collections.deque[tuple[float, int | None]] = collections.deque()
        self._seq = 0
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._methods = {
            name[3:].lower(): (name[3:], getattr(self, name)) for name in dir(self) if name.startswith("_m_")
        }

    # ------------------------------------------------------------------ lifecycle

    @property
    def api_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def file_url(self) -> str:
        return f"{self.url}/file/bot"

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        # asyncio primitives bind to the running loop: recreate them for this one
        self._deliver_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._session = aiohttp.ClientSession()
        self._closing = False

    async def stop(self) -> None:
        self._closing = True
        for poll in list(self._polls):
            poll.wake.set()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TelegramEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ simulated users

    def user(
        self,
        user_id: int,
        first_name: str = "",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "vi",
        started: bool = True,
    ) -> SimUser:
        """Register (or update) a user and its private chat.

        started=False models a user who never opened the bot: sending to them fails with
        403 "bot can't initiate conversation with a user" until they send something.
        """
        data = {"id": user_id, "is_bot": False, "first_name": first_name or f"User{user_id}"}
        if last_name:
            data["last_name"] = last_name
        if username:
            data["username"] = username
        if language_code:
            data["language_code"] = language_code
        chat = self._chats.get(user_id)
        if chat is None:
            self._chats[user_id] = _Chat(data, started, self.bot_id)
        else:
            chat.user = data
        return SimUser(self, user_id)

    def _user_chat(self, user_id: int) -> _Chat:
        if user_id not in self._chats:
            self.user(user_id)
        return self._chats[user_id]

    def _user_message(self, chat: _Chat, content: dict, reply_to: int | None = None) -> dict:
        if chat.blocked:  # writing to the bot again requires unblocking it
            self._set_blocked(chat, False)
        chat.started = True
        mid = chat.alloc_id()
        message = {
            "message_id": mid,
            "from": dict(chat.user),
            "chat": chat.chat_json(),
            "date": int(self.now()),
            **content,
        }
        if reply_to is not None:
            target = chat.messages.get(reply_to)
            assert target is not None, f"no message {reply_to} to reply to in chat {chat.id}"
            message["reply_to_message"] = self._any_message_dict(target)
        chat.messages[mid] = _UserMessage(mid, message["date"], message)
        chat.last_user_seq = self._seq
        return message

    async def send_text(self, user_id: int, text: str, *, reply_to: int | None = None) -> int:
        """The user sends a text message; returns the update_id."""
        assert text, "Telegram clients cannot send an empty message"
        chat = self._user_chat(user_id)
        content: dict = {"text": text}
        entities = _detect_entities(text)
        if entities:
            content["entities"] = entities
        return await self._push_update({"message": self._user_message(chat, content, reply_to)})

    async def send_photo(self, user_id: int, data: bytes, caption: str | None = None) -> int:
        chat = self._user_chat(user_id)
        content: dict = {"photo": self._photo_sizes(data)}
        if caption:
            content["caption"] = caption
        return await self._push_update({"message": self._user_message(chat, content)})

    async def send_contact(
        self, user_id: int, phone_number: str, *, contact_user_id: Any = _UNSET, first_name: str | None = None
    ) -> int:
        """A contact message; by default the user's own contact (request_contact button)."""
        chat = self._user_chat(user_id)
        contact = {"phone_number": phone_number, "first_name": first_name or chat.user["first_name"]}
        if chat.user.get("last_name") and first_name is None:
            contact["last_name"] = chat.user["last_name"]
        owner = user_id if contact_user_id is _UNSET else contact_user_id
        if owner is not None:
            contact["user_id"] = owner
        return await self._push_update({"message": self._user_message(chat, {"contact": contact})})

    async def send_sticker(self, user_id: int, emoji: str = "👍") -> int:
        chat = self._user_chat(user_id)
        f = self._store_file(b"RIFF\x00\x00\x00\x00WEBPVP8 sticker", "sticker", mime_type="image/webp")
        sticker = {
            "file_id": f.file_id,
            "file_unique_id": f.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "emulator_stickers",
            "file_size": len(f.data),
        }
        return await self._push_update({"message": self._user_message(chat, {"sticker": sticker})})

    async def send_raw_update(self, update: dict) -> int:
        return await self._push_update(dict(update))

    async def press(self, user_id: int, message_id: int, data: str) -> str:
        """The user presses an inline button; returns the callback_query id."""
        chat = self._chats.get(user_id)
        assert chat is not None, f"unknown chat {user_id}"
        message = chat.messages.get(message_id)
        assert isinstance(message, SentMessage), f"no bot message {message_id} in chat {user_id}\n{self.dump(user_id)}"
        assert not message.deleted, f"message {message_id} was deleted\n{self.dump(user_id)}"
        datas = [cb for row in message.buttons for _, cb in row if cb is not None]
        assert data in datas, (
            f"message {message_id} has no button with callback_data {data!r}; current buttons: {message.buttons}"
        )
        if chat.blocked:
            self._set_blocked(chat, False)
        query_id = str(secrets.randbits(62) + 10**18)
        self._callbacks[query_id] = _Callback(user_id, message_id, data, self.now())
        chat.last_user_seq = self._seq
        await self._push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": dict(chat.user),
                    "message": self._message_dict(message),
                    "chat_instance": chat.chat_instance,
                    "data": data,
                }
            }
        )
        return query_id

    async def press_label(self, user_id: int, label: str) -> str:
        """Press the button with that text on the newest bot message that shows one."""
        chat = self._chats.get(user_id)
        assert chat is not None, f"unknown chat {user_id}"
        for message in sorted(chat.bot_messages(), key=lambda m: -m.message_id):
            if message.deleted:
                continue
            for row in message.buttons:
                for text, data in row:
                    if text == label and data is not None:
                        return await self.press(user_id, message.message_id, data)
        raise AssertionError(f"no inline button {label!r} in chat {user_id}\n{self.dump(user_id)}")

    def delete_chat(self, user_id: int) -> None:
        """The user blocks the bot (deletes the chat): sends then fail with 403."""
        self._set_blocked(self._user_chat(user_id), True)

    def unblock_chat(self, user_id: int) -> None:
        self._set_blocked(self._user_chat(user_id), False)

    def _set_blocked(self, chat: _Chat, blocked: bool) -> None:
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        member = {"user": self.bot_user, "status": new}
        if blocked:
            member["until_date"] = 0
        self._enqueue(
            {
                "my_chat_member": {
                    "chat": chat.chat_json(),
                    "from": dict(chat.user),
                    "date": int(self.now()),
                    "old_chat_member": {"user": self.bot_user, "status": old},
                    "new_chat_member": member,
                }
            }
        )
        if self._webhook:
            self._spawn(self._deliver_pending())

    # ------------------------------------------------------------------ inspection

    def messages(self, chat_id: int) -> list[SentMessage]:
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return sorted((m for m in chat.bot_messages() if not m.deleted), key=lambda m: m.message_id)

    def last(self, chat_id: int) -> SentMessage:
        messages = self.messages(chat_id)
        assert messages, f"the bot sent nothing (left) in chat {chat_id}"
        return messages[-1]

    def reply_keyboard(self, chat_id: int) -> list[list[dict]] | None:
        """The reply keyboard the user currently sees (set by the last keyboard/remove)."""
        chat = self._chats.get(chat_id)
        return chat.keyboard if chat else None

    def mark(self, chat_id: int | None = None) -> int:
        """Current change counter, to pass as wait_for(since=...)."""
        return self._seq

    def dump(self, chat_id: int) -> str:
        chat = self._chats.get(chat_id)
        if chat is None:
            return f"chat {chat_id}: unknown"
        lines = [f"chat {chat_id} ({chat.user['first_name']}), bot messages:"]
        lines += ["  " + m.describe() for m in sorted(chat.bot_messages(), key=lambda m: m.message_id)]
        return "\n".join(lines if len(lines) > 1 else lines + ["  (none)"])

    async def wait_for(
        self,
        chat_id: int,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 5.0,
        *,
        since: int | None = None,
    ) -> SentMessage:
        """Wait for a bot message, new or edited, matching predicate.

        Only messages created or edited after `since` count; by default that is the user's
        last action in this chat (send_text, press, ...), so a reply that arrived before
        wait_for was called is found, and older messages are not.
        """
        chat = self._user_chat(chat_id)
        floor = chat.last_user_seq if since is None else since
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            changed = self._changed
            candidates = sorted(
                (m for m in chat.bot_messages() if m.seq > floor and not m.deleted), key=lambda m: m.seq
            )
            for message in candidates:
                if predicate is None or predicate(message):
                    return message
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"no matching bot message within {timeout}s\n{self.dump(chat_id)}")
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                pass

    def _touch(self, message: SentMessage) -> None:
        self._seq += 1
        message.seq = self._seq
        self._changed.set()
        self._changed = asyncio.Event()

    @property
    def pending_updates(self) -> list[dict]:
        return list(self._queue)

    # ------------------------------------------------------------------ faults and limits

    def fail_next(
        self,
        method: str,
        status: int = 500,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` fail with that HTTP status."""
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            elif status == 403:
                description = "Forbidden: bot was blocked by the user"
            elif status == 400:
                description = "Bad Request"
            else:
                description = _phrase(status)
        for _ in range(times):
            self._faults[method.lower()].append(ApiError(status, description, retry_after))

    def reset_rate_limits(self) -> None:
        self._sends.clear()

    def _rate_check(self, chat_id: int | None) -> None:
        if not self.enforce_rate_limits:
            return
        now = self.now()
        while self._sends and self._sends[0][0] <= now - 1.0:
            self._sends.popleft()
        if len(self._sends) >= self.global_rate_limit:
            raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)
        if self.per_chat_limit is not None:
            if sum(1 for _, c in self._sends if c == chat_id) >= self.per_chat_limit:
                raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1)

    # ------------------------------------------------------------------ updates

    def _enqueue(self, update: dict) -> int:
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
        self.updates.append(update)
        kind = next((k for k in update if k != "update_id"), "")
        allowed = self._allowed_updates
        if (kind in allowed) if allowed else (kind not in _DEFAULT_SKIPPED_UPDATES):
            self._queue.append(update)
            for poll in list(self._polls):
                poll.wake.set()
        return update["update_id"]

    async def _push_update(self, update: dict) -> int:
        update_id = self._enqueue(update)
        if self._webhook:
            await self._deliver_pending()
        return update_id

    async def redeliver_pending(self) -> int:
        """Retry webhook delivery of the queued updates; returns how many remain queued."""
        await self._deliver_pending()
        return len(self._queue)

    async def _deliver_pending(self) -> None:
        async with self._deliver_lock:
            while self._webhook and self._queue and not self._closing:
                webhook = self._webhook
                update = self._queue[0]
                status = await self._post_webhook(webhook["url"], update, webhook["secret"])
                if not 200 <= status < 300:
                    break
                if self._queue and self._queue[0] is update:
                    self._queue.popleft()

    async def deliver_webhook(self, update: dict, secret: Any = _UNSET, *, url: str | None = None) -> int:
        """POST one update to the webhook now (queue untouched); returns the HTTP status."""
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
            self._next_update_id += 1
        target = url or (self._webhook or {}).get("url")
        assert target, "no webhook URL set"
        if secret is _UNSET:
            secret = (self._webhook or {}).get("secret")
        return await self._post_webhook(target, update, secret)

    async def _post_webhook(self, url: str, update: dict, secret: str | None) -> int:
        assert self._session is not None, "emulator not started"
        headers = {"Content-Type": "application/json"}
        if secret:
            headers[SECRET_HEADER] = secret
        body = json.dumps(update, ensure_ascii=False).encode()
        reply = b""
        try:
            async with self._session.post(
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as resp:
                status, reply, ctype = resp.status, await resp.read(), resp.content_type
        except TimeoutError:
            status, error = 0, "Read timeout expired"
        except aiohttp.ClientError as exc:
            status, error = 0, f"Connection failed: {exc.__class__.__name__}"
        else:
            error = f"Wrong response from the webhook: {status} {_phrase(status)}"
        self.webhook_attempts.append((update.get("update_id"), status))
        if not 200 <= status < 300:
            self._webhook_error = (int(self.now()), error)
        elif ctype == "application/json" and reply.strip():
            await self._webhook_reply_call(reply)
        return status

    async def _webhook_reply_call(self, reply: bytes) -> None:
        """Telegram executes a method call given in the webhook's response body."""
        try:
            params = json.loads(reply)
        except ValueError:
            return
        if not isinstance(params, dict) or not isinstance(params.get("method"), str):
            return
        entry = self._methods.get(params.pop("method").lower())
        if entry is None:
            return
        self.calls.append((entry[0], params))
        try:
            await entry[1](params)
        except ApiError:
            pass  # Telegram cannot report it anywhere

    # ------------------------------------------------------------------ HTTP plumbing

    @staticmethod
    def _reply(status: int, body: dict) -> web.Response:
        return web.json_response(body, status=status, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))

    def _error(self, err: ApiError) -> web.Response:
        body: dict = {"ok": False, "error_code": err.code, "description": err.description}
        if err.retry_after is not None:
            body["parameters"] = {"retry_after": err.retry_after}
        return self._reply(err.code, body)

    async def _read_params(self, request: web.Request) -> dict:
        params: dict[str, Any] = dict(request.query)
        if not request.body_exists:
            return params
        try:
            if request.content_type == "application/json":
                raw = await request.read()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise _bad("can't parse JSON encoded request") from None
                    if not isinstance(body, dict):
                        raise _bad("JSON object expected as request body")
                    params.update(body)
            elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        params[key] = Upload(value.filename, value.file.read(), value.content_type)
                    elif isinstance(value, (bytes, bytearray)):
                        params[key] = bytes(value).decode("utf-8", "replace")
                    else:
                        params[key] = value
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(413, "Request Entity Too Large") from None
        return params

    async def _handle_api(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        entry = self._methods.get(method.lower())
        name = entry[0] if entry else method
        try:
            params = await self._read_params(request)
        except ApiError as err:
            self.calls.append((name, {}))
            return self._error(err)
        self.calls.append((name, params))
        if token != self.token:
            if re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
                return self._error(ApiError(401, "Unauthorized"))
            return self._error(ApiError(404, "Not Found"))
        if entry is None:
            return self._error(ApiError(404, "Not Found"))
        faults = self._faults.get(name.lower())
        if faults:
            return self._error(faults.popleft())
        limited = name.lower() in RATE_LIMITED_METHODS
        try:
            chat_key = _int_or_none(params.get("chat_id"))
            if limited:
                self._rate_check(chat_key)
            result = await entry[1](params)
            if limited:
                self._sends.append((self.now(), chat_key))
        except ApiError as err:
            return self._error(err)
        except Exception:  # an emulator bug: make it visible to the test
            self.internal_errors.append(traceback.format_exc())
            return self._error(ApiError(500, "Internal Server Error"))
        return self._reply(200, {"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(ApiError(401, "Unauthorized"))
        link = self._file_links.get(request.match_info["path"])
        if link is None or self.now() - link[1] > FILE_LINK_TTL:
            return self._error(ApiError(404, "Not Found"))
        f = link[0]
        self.file_downloads += 1
        if self.files_held is not None:
            await self.files_held.wait()
        return web.Response(body=f.data, content_type=f.mime_type or "application/octet-stream")

    # ------------------------------------------------------------------ parameter helpers

    def _chat(self, params: dict, *, sending: bool = True) -> _Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        chat = self._chats.get(_int_or_none(raw))  # type: ignore[arg-type]
        if chat is None:
            raise _bad("chat not found")
        if sending and chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if sending and not chat.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    @staticmethod
    def _message_id(params: dict) -> int:
        raw = params.get("message_id")
        if raw is None or raw == "":
            raise _bad("message identifier is not specified")
        value = _int_or_none(raw)
        if value is None:
            raise _bad("invalid message identifier specified")  # close to Telegram's wording
        return value

    def _formatted(
        self, params: dict, key: str, *, limit: int, too_long: str, optional: bool = False
    ) -> tuple[str, list[dict], str | None, str]:
        raw = params.get(key)
        if raw is None or raw == "":
            if optional:
                return "", [], None, ""
            raise _bad("message text is empty")
        raw = raw if isinstance(raw, str) else json.dumps(raw)
        mode = params.get("parse_mode") or None
        explicit = params.get("entities" if key == "text" else "caption_entities")
        if explicit:
            entities = _json_param(explicit, f"can't parse {key} entities JSON object")
            if not isinstance(entities, list):
                raise _bad(f"can't parse {key} entities JSON object")
            text = raw
        else:
            try:
                if mode is None:
                    text, entities = raw, []
                elif mode.lower() == "html":
                    text, entities = parse_html(raw, strict_entities=self.strict_html_entities)
                elif mode.lower() == "markdownv2":
                    text, entities = parse_markdown_v2(raw)
                elif mode.lower() == "markdown":
                    text, entities = parse_markdown(raw)
                else:
                    raise _bad("unsupported parse_mode")
            except EntityParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
        text, entities = _trim(text, entities)
        if not text and not optional:
            raise _bad("message must be non-empty")
        if utf16_len(text) > limit:
            raise _bad(too_long)
        return text, entities, mode, raw

    def _markup(self, params: dict, *, inline_only: bool = False) -> tuple[str | None, Any]:
        raw = params.get("reply_markup")
        if raw is None or raw == "":
            return None, None
        markup = _json_param(raw, "can't parse reply keyboard markup JSON object")
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            return "inline", _inline_keyboard(markup["inline_keyboard"])
        if inline_only:
            raise _bad("inline keyboard expected")
        if "keyboard" in markup:
            return "keyboard", _reply_keyboard(markup["keyboard"])
        if markup.get("remove_keyboard") is True:
            return "remove", markup
        if markup.get("force_reply") is True:
            return "force_reply", markup
        raise _bad("can't parse reply keyboard markup JSON object")

    def _reply_to(self, chat: _Chat, params: dict) -> int | None:
        reply = params.get("reply_parameters")
        allow = _bool(params.get("allow_sending_without_reply"))
        if reply not in (None, ""):
            reply = _json_param(reply, "can't parse reply parameters JSON object")
            if not isinstance(reply, dict):
                raise _bad("can't parse reply parameters JSON object")
            target, allow = _int_or_none(reply.get("message_id")), _bool(reply.get("allow_sending_without_reply"))
        else:
            target = _int_or_none(params.get("reply_to_message_id"))
        if not target:
            return None
        found = chat.messages.get(target)
        if found is None or found.deleted:
            if allow:
                return None
            raise _bad("message to be replied not found")
        return target

    def _input_file(self, params: dict, key: str, kind: str) -> tuple[bytes, str | None, str | None]:
        value = params.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value[len("attach://") :])
        if value is None or value == "":
            raise _bad(f"there is no {key} in the request")
        if isinstance(value, Upload):
            if not value.data:
                raise _bad("file must be non-empty")
            if len(value.data) > MAX_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
            return value.data, value.filename, value.content_type
        value = str(value)
        if value.startswith(("http://", "https://")):
            raise _bad("failed to get HTTP URL content")  # the emulator fetches nothing
        f = self._files.get(value)
        if f is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if f.kind != kind:
            raise _bad(f"can't use file of type {f.kind.capitalize()} as {kind.capitalize()}")
        return f.data, f.file_name, f.mime_type

    def _store_file(
        self, data: bytes, kind: str, *, file_name: str | None = None, mime_type: str | None = None
    ) -> _File:
        prefix = {"photo": "AgACAgIAAxkBAAI", "document": "BQACAgIAAxkBAAI", "sticker": "CAACAgIAAxkBAAI"}[kind]
        f = _File(
            prefix + secrets.token_urlsafe(48), "AQAD" + secrets.token_urlsafe(9), data, kind, file_name, mime_type
        )
        self._files[f.file_id] = f
        return f

    def _photo_sizes(self, data: bytes) -> list[dict]:
        """Two PhotoSizes (thumbnail, full) like Telegram; both serve the original bytes."""
        info = _image_info(data)
        width, height = (info[1], info[2]) if info and info[1] else (1280, 960)
        sizes = []
        for side in (90, 1280):
            scale = min(1.0, side / max(width, height, 1))
            f = self._store_file(data, "photo", mime_type="image/jpeg")
            sizes.append(
                {
                    "file_id": f.file_id,
                    "file_unique_id": f.file_unique_id,
                    "file_size": len(data),
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                }
            )
        return sizes

    # ------------------------------------------------------------------ message building

    def _any_message_dict(self, message: SentMessage | _UserMessage) -> dict:
        if isinstance(message, _UserMessage):
            return {k: v for k, v in message.data.items() if k != "reply_to_message"}
        return self._message_dict(message, with_reply=False)

    def _message_dict(self, m: SentMessage, *, with_reply: bool = True) -> dict:
        chat = self._chats[m.chat_id]
        d: dict = {"message_id": m.message_id, "from": dict(self.bot_user), "chat": chat.chat_json(), "date": m.date}
        if m.edit_date:
            d["edit_date"] = m.edit_date
        if with_reply and m.reply_to is not None and m.reply_to in chat.messages:
            d["reply_to_message"] = self._any_message_dict(chat.messages[m.reply_to])
        if m.kind == "text":
            d["text"] = m.text
            if m.entities:
                d["entities"] = m.entities
        else:
            d[m.kind] = m.media
            if m.text:
                d["caption"] = m.text
                if m.entities:
                    d["caption_entities"] = m.entities
        if m.reply_markup and any(m.reply_markup["inline_keyboard"]):
            d["reply_markup"] = m.reply_markup
        return d

    def _new_bot_message(
        self,
        chat: _Chat,
        params: dict,
        *,
        kind: str,
        text: str,
        entities: list[dict],
        mode: str | None,
        raw: str,
        **extra: Any,
    ) -> dict:
        markup_kind, markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        m = SentMessage(
            message_id=chat.alloc_id(),
            chat_id=chat.id,
            text=text,
            parse_mode=mode,
            kind=kind,
            raw_text=raw,
            entities=entities,
            markup_kind=markup_kind,
            reply_markup=markup if markup_kind == "inline" else None,
            reply_keyboard=markup if markup_kind == "keyboard" else None,
            reply_to=reply_to,
            date=int(self.now()),
            **extra,
        )
        if markup_kind == "keyboard":
            chat.keyboard = markup
        elif markup_kind == "remove":
            chat.keyboard = None
        chat.messages[m.message_id] = m
        self._touch(m)
        return self._message_dict(m)

    def _editable(self, chat: _Chat, params: dict) -> SentMessage:
        if params.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")  # no inline messages exist in the emulator
        message = chat.messages.get(self._message_id(params))
        if message is None or message.deleted:
            raise _bad("message to edit not found")
        if not isinstance(message, SentMessage):
            raise _bad("message can't be edited")
        return message

    def _apply_edit(
        self, m: SentMessage, text: str, entities: list[dict], mode: str | None, raw: str, markup: dict | None
    ) -> dict:
        if text == m.text and entities == m.entities and markup == m.reply_markup:
            raise _bad(NOT_MODIFIED)
        m.history.append(m.text)
        m.text, m.entities, m.parse_mode, m.raw_text = text, entities, mode, raw
        m.reply_markup = markup
        m.markup_kind = "inline" if markup else None
        m.edits += 1
        m.edit_date = int(self.now())
        self._touch(m)
        return self._message_dict(m)

    # ------------------------------------------------------------------ Bot API methods

    async def _m_getMe(self, p: dict) -> dict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_getUpdates(self, p: dict) -> list[dict]:
        if self._webhook:
            raise ApiError(409, CONFLICT_WEBHOOK)
        offset = _int_or_none(p.get("offset")) or 0
        limit = _int_or_none(p.get("limit")) or 100
        limit = limit if 1 <= limit <= 100 else 100
        timeout = max(0.0, min(float(_int_or_none(p.get("timeout")) or 0), 50.0))
        allowed = p.get("allowed_updates")
        if allowed not in (None, ""):
            allowed = _json_param(allowed, "can't parse allowed updates JSON object")
            self._allowed_updates = [str(x) for x in allowed] if isinstance(allowed, list) else []
        if offset < 0:
            keep = -offset
            while len(self._queue) > keep:
                self._queue.popleft()
        elif offset:
            while self._queue and self._queue[0]["update_id"] < offset:
                self._queue.popleft()
        if self._active_poll is not None:
            if self.reject_concurrent_polls:
                raise ApiError(409, CONFLICT_POLL)
            # What Telegram does: the older request is terminated, the new one proceeds.
            self._active_poll.terminated = True
            self._active_poll.wake.set()
        poll = self._active_poll = _Poll()
        self._polls.add(poll)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if poll.terminated:
                    raise ApiError(409, CONFLICT_POLL)
                if self._webhook:
                    raise ApiError(409, CONFLICT_WEBHOOK)
                batch = list(itertools.islice(self._queue, limit))
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0 or self._closing:
                    return batch
                poll.wake.clear()
                try:
                    await asyncio.wait_for(poll.wake.wait(), remaining)
                except TimeoutError:
                    pass
        finally:
            self._polls.discard(poll)
            if self._active_poll is poll:
                self._active_poll = None

    async def set_webhook_target(self, url: str, secret: str | None = None, **options: Any) -> None:
        """What setWebhook does (raises ApiError on invalid input)."""
        params = {"url": url, **options}
        if secret:
            params["secret_token"] = secret
        await self._m_setWebhook(params)

    async def _m_setWebhook(self, p: dict) -> bool:
        url = str(p.get("url") or "")
        if not url:
            return await self._m_deleteWebhook(p)
        parts = urllib.parse.urlsplit(url)
        loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
        if parts.scheme != "https" and not loopback:  # plain HTTP allowed on loopback only
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if parts.scheme == "https" and (parts.port or 443) not in (80, 88, 443, 8443):
            raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = p.get("secret_token") or None
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _bad("secret token contains unallowed characters")
        max_connections = _int_or_none(p.get("max_connections")) or 40
        if not 1 <= max_connections <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")  # approximate
        allowed = p.get("allowed_updates")
        if allowed not in (None, ""):
            allowed = _json_param(allowed, "can't parse allowed updates JSON object")
            self._allowed_updates = [str(x) for x in allowed] if isinstance(allowed, list) else []
        if _bool(p.get("drop_pending_updates")):
            self._queue.clear()
        self._webhook = {"url": url, "secret": secret, "max_connections": max_connections}
        self._webhook_error = None
        if self._active_poll is not None:
            self._active_poll.wake.set()
        self._spawn(self._deliver_pending())
        return True

    async def _m_deleteWebhook(self, p: dict) -> bool:
        self._webhook = None
        if _bool(p.get("drop_pending_updates")):
            self._queue.clear()
        return True

    async def _m_getWebhookInfo(self, p: dict) -> dict:
        info: dict = {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._queue)}
        if self._webhook:
            info.update(
                url=self._webhook["url"], max_connections=self._webhook["max_connections"], ip_address="127.0.0.1"
            )
            if self._allowed_updates:
                info["allowed_updates"] = self._allowed_updates
            if self._webhook_error:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    async def _m_sendMessage(self, p: dict) -> dict:
        if p.get("text") in (None, ""):
            raise _bad("message text is empty")
        chat = self._chat(p)
        text, entities, mode, raw = self._formatted(p, "text", limit=MAX_TEXT, too_long="message is too long")
        return self._new_bot_message(chat, p, kind="text", text=text, entities=entities, mode=mode, raw=raw)

    async def _m_sendPhoto(self, p: dict) -> dict:
        chat = self._chat(p)
        data, _, _ = self._input_file(p, "photo", "photo")
        if len(data) > MAX_PHOTO_UPLOAD:
            raise _bad("file is too big")
        info = _image_info(data)
        if info is None:
            raise _bad("IMAGE_PROCESS_FAILED")
        if (
            info[1]
            and info[2]
            and (info[1] + info[2] > 10000 or max(info[1], info[2]) > 20 * max(min(info[1], info[2]), 1))
        ):
            raise _bad("PHOTO_INVALID_DIMENSIONS")
        text, entities, mode, raw = self._formatted(
            p, "caption", limit=MAX_CAPTION, optional=True, too_long="message caption is too long"
        )
        return self._new_bot_message(
            chat,
            p,
            kind="photo",
            text=text,
            entities=entities,
            mode=mode,
            raw=raw,
            photo=data,
            media=self._photo_sizes(data),
        )

    async def _m_sendDocument(self, p: dict) -> dict:
        chat = self._chat(p)
        data, filename, ctype = self._input_file(p, "document", "document")
        filename = filename or "file"
        mime = ctype if ctype and ctype != "application/octet-stream" else None
        mime = mime or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        text, entities, mode, raw = self._formatted(
            p, "caption", limit=MAX_CAPTION, optional=True, too_long="message caption is too long"
        )
        f = self._store_file(data, "document", file_name=filename, mime_type=mime)
        media = {
            "file_id": f.file_id,
            "file_unique_id": f.file_unique_id,
            "file_name": filename,
            "mime_type": mime,
            "file_size": len(data),
        }
        return self._new_bot_message(
            chat,
            p,
            kind="document",
            text=text,
            entities=entities,
            mode=mode,
            raw=raw,
            document=(filename, data),
            media=media,
        )

    async def _m_editMessageText(self, p: dict) -> dict:
        chat = self._chat(p)
        m = self._editable(chat, p)
        if m.kind != "text":
            raise _bad("there is no text in the message to edit")
        text, entities, mode, raw = self._formatted(p, "text", limit=MAX_TEXT, too_long="message is too long")
        _, markup = self._markup(p, inline_only=True)  # no reply_markup removes the keyboard
        return self._apply_edit(m, text, entities, mode, raw, markup)

    async def _m_editMessageCaption(self, p: dict) -> dict:
        chat = self._chat(p)
        m = self._editable(chat, p)
        if m.kind == "text":
            raise _bad("there is no caption in the message to edit")
        text, entities, mode, raw = self._formatted(
            p, "caption", limit=MAX_CAPTION, optional=True, too_long="message caption is too long"
        )
        _, markup = self._markup(p, inline_only=True)
        return self._apply_edit(m, text, entities, mode, raw, markup)

    async def _m_editMessageReplyMarkup(self, p: dict) -> dict:
        chat = self._chat(p)
        m = self._editable(chat, p)
        _, markup = self._markup(p, inline_only=True)
        return self._apply_edit(m, m.text, m.entities, m.parse_mode, m.raw_text, markup)

    async def _m_deleteMessage(self, p: dict) -> bool:
        chat = self._chat(p, sending=False)
        message = chat.messages.get(self._message_id(p))
        if message is None or message.deleted:
            raise _bad("message to delete not found")
        if self.now() - message.date > DELETE_WINDOW:
            raise _bad("message can't be deleted for everyone")
        message.deleted = True
        if isinstance(message, SentMessage):
            self._touch(message)
        return True

    async def _m_answerCallbackQuery(self, p: dict) -> bool:
        query_id = str(p.get("callback_query_id") or "")
        query = self._callbacks.get(query_id)
        if query is None or query.answered or self.now() - query.created > CALLBACK_ANSWER_WINDOW:
            raise _bad(CALLBACK_EXPIRED)
        if utf16_len(str(p.get("text") or "")) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        query.answered = True
        self.answered_callbacks[query_id] = dict(p)
        return True

    async def _m_getFile(self, p: dict) -> dict:
        f = self._files.get(str(p.get("file_id") or ""))
        if f is None:
            raise _bad("invalid file_id")
        if len(f.data) > MAX_DOWNLOAD:
            raise _bad("file is too big")
        if f.path is None:
            ext = {"photo": ".jpg", "sticker": ".webp"}.get(f.kind) or (
                "." + f.file_name.rsplit(".", 1)[1] if f.file_name and "." in f.file_name else ""
            )
            f.path = f"{f.kind}s/file_{next(self._file_counter)}{ext}"
        self._file_links[f.path] = (f, self.now())
        return {"file_id": f.file_id, "file_unique_id": f.file_unique_id, "file_size": len(f.data), "file_path": f.path}

    def _command_scope_key(self, p: dict) -> str:
        scope = p.get("scope")
        scope = _json_param(scope, "can't parse BotCommandScope JSON object") if scope else {}
        if not isinstance(scope, dict):
            raise _bad("can't parse BotCommandScope JSON object")
        kind = scope.get("type", "default")
        if kind not in (
            "default",
            "all_private_chats",
            "all_group_chats",
            "all_chat_administrators",
            "chat",
            "chat_administrators",
            "chat_member",
        ):
            raise _bad("unsupported bot command scope type")  # approximate wording
        key = kind
        if kind in ("chat", "chat_administrators", "chat_member"):
            if _int_or_none(scope.get("chat_id")) not in self._chats:
                raise _bad("chat not found")
            key += f":{_int_or_none(scope.get('chat_id'))}"
        if kind == "chat_member":
            key += f":{scope.get('user_id')}"
        lang = str(p.get("language_code") or "")
        if lang and not re.fullmatch(r"[a-z]{2}", lang):
            raise _bad("invalid language code specified")  # approximate wording
        return f"{key}/{lang}" if lang else key

    async def _m_setMyCommands(self, p: dict) -> bool:
        """emu.commands key: scope type ("default", "all_private_chats", "chat:1001", ...)
        plus "/<language_code>" when one is given; value: the raw request params."""
        commands = _json_param(p.get("commands") or "[]", "can't parse commands JSON object")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("too many commands")  # approximate wording
        for command in commands:
            if (
                not isinstance(command, dict)
                or not isinstance(command.get("command"), str)
                or not isinstance(command.get("description"), str)
            ):
                raise _bad('can\'t parse BotCommand: Field "command" must be of type String')
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"].strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._command_scope_key(p)
        self.commands[key] = dict(p)
        self._commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        return True

    async def _m_getMyCommands(self, p: dict) -> list[dict]:
        return self._commands.get(self._command_scope_key(p), [])

    async def _m_deleteMyCommands(self, p: dict) -> bool:
        key = self._command_scope_key(p)
        self.commands.pop(key, None)
        self._commands.pop(key, None)
        return True

    async def _m_sendChatAction(self, p: dict) -> bool:
        self._chat(p)
        if p.get("action") not in (
            "typing",
            "upload_photo",
            "record_video",
            "upload_video",
            "record_voice",
            "upload_voice",
            "upload_document",
            "choose_sticker",
            "find_location",
            "record_video_note",
            "upload_video_note",
        ):
            raise _bad("wrong parameter action in request")
        return True

    async def _m_setChatMenuButton(self, p: dict) -> bool:
        chat_id = _int_or_none(p.get("chat_id"))
        if chat_id is not None and chat_id not in self._chats:
            raise _bad("chat not found")
        button = p.get("menu_button")
        button = _json_param(button, "can't parse menu button JSON object") if button else None
        self.menu_buttons[chat_id] = button or {"type": "default"}
        return True

    async def _m_getChatMenuButton(self, p: dict) -> dict:
        chat_id = _int_or_none(p.get("chat_id"))
        return self.menu_buttons.get(chat_id) or self.menu_buttons.get(None) or {"type": "commands"}


# --------------------------------------------------------------------------- module helpers


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _json_param(value: Any, error: str) -> Any:
    """Nested values arrive as JSON strings in form bodies and as JSON values in JSON bodies."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(error) from None
    return value


_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "web_app",
    "copy_text",
)


def _inline_keyboard(rows: Any) -> dict:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
    if sum(len(row) for row in rows) > MAX_INLINE_BUTTONS:
        raise _bad("reply markup is too long")
    result = []
    for row in rows:
        out_row = []
        for button in row:
            prefix = "can't parse inline keyboard button: "
            if not isinstance(button, dict):
                raise _bad(prefix + "InlineKeyboardButton must be an Object")
            if not isinstance(button.get("text"), str):
                raise _bad(prefix + 'Field "text" must be of type String')
            if not button["text"].strip():
                raise _bad("BUTTON_TEXT_INVALID")
            for key in ("callback_data", "url", "switch_inline_query", "switch_inline_query_current_chat"):
                if key in button and not isinstance(button[key], str):
                    raise _bad(prefix + f'Field "{key}" must be of type String')
            actions = [
                k
                for k in _INLINE_ACTIONS
                if k in button and button[k] is not None and (button[k] != "" or k.startswith("switch"))
            ]
            if not actions:
                raise _bad(prefix + "Text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data and len(data.encode("utf-8")) > MAX_CALLBACK_DATA:
                raise _bad("BUTTON_DATA_INVALID")
            if "url" in actions and _check_url(button["url"]) is None:
                raise _bad(f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL")
            out_row.append({k: v for k, v in button.items() if v is not None})
        result.append(out_row)
    return {"inline_keyboard": result}


def _reply_keyboard(rows: Any) -> list[list[dict]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad('field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays')
    result = []
    for row in rows:
        out_row = []
        for button in row:
            button = {"text": button} if isinstance(button, str) else button
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise _bad('can\'t parse keyboard button: Field "text" must be of type String')
            if not button["text"].strip():
                raise _bad("BUTTON_TEXT_INVALID")
            out_row.append({k: v for k, v in button.items() if v is not None})
        result.append(out_row)
    return result


_AUTO_ENTITY_RE = re.compile(
    r"(?P<bot_command>(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/]))"
    r"|(?P<url>\bhttps?://[^\s<>\"]+)"
    r"|(?P<email>\b[\w.+-]+@[\w-]+\.[\w.-]+\b)"
    r"|(?P<mention>(?<!\w)@[A-Za-z0-9_]{5,32}\b)"
)


def _detect_entities(text: str) -> list[dict]:
    """Entities Telegram adds to user messages (bot_command is what CommandHandler needs)."""
    return [
        {"type": m.lastgroup, "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))}
        for m in _AUTO_ENTITY_RE.finditer(text)
    ]
