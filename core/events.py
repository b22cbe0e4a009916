"""Channel-neutral events and replies. Handlers see only these, never a platform's objects."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime


def shallow(obj) -> dict:
    """A dataclass's fields as a dict, values as they are: what asdict gives for JSON, without its
    deep copy of every value (a few percent of a step's CPU, for replies and drafts)."""
    names = _NAMES.get(type(obj))
    if names is None:
        names = _NAMES[type(obj)] = tuple(f.name for f in fields(obj))
    return {name: getattr(obj, name) for name in names}


_NAMES: dict[type, tuple[str, ...]] = {}


@dataclass(frozen=True)
class Incoming:
    """One thing a person did in a chat: typed text, pressed a button, sent a photo or a contact."""

    channel: str  # "telegram", "terminal", "zalo_bot", "zalo_oa"
    account: str  # which bot account of that channel saw it
    user_id: str
    chat_id: str
    dedup_key: str  # unique per (channel, account): update id or message id
    text: str | None = None
    choice: str | None = None  # data of a pressed button
    photo: bytes | None = None  # the photo's bytes (JPEG or PNG), once downloaded (bot/media.py)
    photo_ref: str | None = None  # the platform's name for a photo not yet downloaded (file_id, URL)
    contact_phone: str | None = None
    location: tuple[float, float] | None = None
    kind: str = "text"  # text, choice, photo, contact, location, sticker, unsupported, group, edited
    display_name: str = ""
    lang_hint: str | None = None
    sent_at: datetime | None = None
    message_id: str | None = None  # the platform's id of the person's message, for chat hygiene

    @property
    def carries_photo(self) -> bool:
        """A photo to download or clean before the step (bot/media.py), outside its transaction."""
        return self.kind == "photo" and (self.photo is not None or self.photo_ref is not None)

    @property
    def conv_key(self) -> str:
        return f"{self.channel}:{self.account}:{self.user_id}"

    def to_json(self) -> bytes:
        data = shallow(self)
        data["photo"] = self.photo.hex() if self.photo else None
        data["sent_at"] = self.sent_at.isoformat() if self.sent_at else None
        return json.dumps(data, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Incoming:
        data = json.loads(raw)
        data["photo"] = bytes.fromhex(data["photo"]) if data.get("photo") else None
        data["sent_at"] = datetime.fromisoformat(data["sent_at"]) if data.get("sent_at") else None
        if data.get("location"):
            data["location"] = tuple(data["location"])
        return cls(**data)


@dataclass(frozen=True)
class Capabilities:
    """What a channel can show: handlers read these from their context, never a channel's name."""

    buttons: int = 0  # how many buttons one message can carry; 0: choices go out as a numbered list
    toggles: bool = False  # several-choice steps as toggle buttons (else a numbered list, typed back)
    edit: bool = False  # a sent message can be edited (a question answered in place)
    delete: bool = False  # the bot's messages and the person's can be deleted (chat hygiene)
    files: bool = False  # documents (the workbook) go into the chat; else a signed link
    file_types: tuple[str, ...] = ()  # media types it takes, "*" for any
    photos: bool = False  # the person can send photos (the outreach form's evidence)
    contact: bool = False  # a button that shares the person's phone number
    location: bool = False  # the person can share a location
    monthly_quota: int = 0  # messages the platform allows a month on this plan; 0: no quota
    max_users: int = 0  # distinct people one bot account may serve on this plan; 0: no limit

    def takes(self, media_type: str) -> bool:
        """Whether a file of this type can go into the chat (else it goes as a signed link)."""
        return self.files and ("*" in self.file_types or media_type.split(";")[0] in self.file_types)


PLAIN = Capabilities()


@dataclass(frozen=True)
class Choice:
    """A button. `data` is short ASCII (Telegram allows 64 bytes); labels never go into it."""

    label: str
    data: str
    selected: bool | None = None  # several-choice toggles: True/False; None for plain buttons
    control: bool = False  # back / skip / cancel / done: not numbered on text-only channels
    keyword: str = ""  # what to type for a control on text-only channels
    shortcut: str = ""  # a control numbered on text-only channels all the same ("0. Xong")


def is_action(choice: Choice) -> bool:
    """A control that does something ("Sửa BC-…") rather than steer a form ("quay lại", "xong")."""
    return choice.control and not choice.shortcut and (not choice.keyword or choice.keyword.startswith("/"))


@dataclass(frozen=True)
class Reply:
    text: str
    choices: tuple[Choice, ...] = ()
    columns: int = 1
    photo: bytes | None = None
    file: tuple[str, bytes] | None = None  # (filename, content)
    ask_contact: bool = False  # offer the platform's "share my phone number" button
    tag: str | None = None  # names the message so it can be edited later
    edit: bool = False  # edit the delivered message with this tag instead of sending anew
    html: bool = False  # text is HTML with user input escaped
    contact_label: str = ""  # the label of the share-phone button
    remove_keyboard: bool = False  # take away a keyboard an earlier message put up (the share-phone one)
    commands: tuple[tuple[str, str], ...] | None = None  # the chat's command menu, where supported
    # Chat hygiene: delete the bot's messages in this chat since `since` (ISO time) and the
    # person's messages listed in `ids`, where the channel can delete. Nothing is shown.
    delete: dict | None = None
    # The reply's file or photo as a signed link (handlers/office/links.py), for channels where it may
    # not get into the chat: `url` for a platform that fetches media itself (Zalo Bot's sendPhoto),
    # `instead` the words with that link a channel sends in its place when it cannot go (an upload
    # refused). Without them, a file or photo that cannot go is the reply's failure.
    url: str = ""
    instead: str = ""

    def listed(self) -> list[Choice]:
        """What a chat without buttons numbers: the options, then, outside a form's question (the
        form reads its own answers), the actions: controls with no word of their own to type ("Sửa
        BC-…", "Cập nhật hỗ trợ, tư vấn"), so "1" is never read against an older list."""
        options = [c for c in self.choices if not c.control]
        if self.tag and self.tag.startswith("q"):
            return options
        return options + [c for c in self.choices if is_action(c)]

    def to_dict(self) -> dict:
        data = shallow(self)
        data["choices"] = [shallow(c) for c in self.choices]
        data["photo"] = self.photo.hex() if self.photo else None
        data["file"] = [self.file[0], self.file[1].hex()] if self.file else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Reply:
        data = dict(data)
        data["choices"] = tuple(Choice(**c) for c in data.get("choices", ()))
        data["photo"] = bytes.fromhex(data["photo"]) if data.get("photo") else None
        data["file"] = (data["file"][0], bytes.fromhex(data["file"][1])) if data.get("file") else None
        if data.get("commands") is not None:
            data["commands"] = tuple(tuple(c) for c in data["commands"])
        return cls(**data)


@dataclass
class Delivery:
    """What a channel reports back after sending: platform message ids, or why it failed."""

    ok: bool
    platform_ids: list[str] = field(default_factory=list)
    retry_after: float | None = None
    permanent: bool = False
    error: str = ""
