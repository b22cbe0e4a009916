"""The terminal demo: its own database, one demo person for every role, each on the terminal.

`python -m bot run` with no token opens the demo as the village head; `--demo-role office` (police,
leader, admin, province) opens the same database as that role. Whatever the bot sends to the other
demo people is printed with its recipient ("[DEMO → Công an xã, Nguyễn Văn A]"), so the routing can be
seen, and the next run as that role finds it in their chat's history (their lists, their alerts).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select, update

from core.config import Config, Phones, Village, data_dir
from storage.models import Identity
from storage.people import attach_identity, create_person


@dataclass(frozen=True)
class DemoPerson:
    role: str
    chat: str  # the terminal identity's external id (the reporter's is "demo", as in earlier demos)
    name: str
    title: str  # what the person is, as the label of the messages printed for them


PEOPLE = (
    DemoPerson("reporter", "demo", "Hoàng Văn Bình", "Trưởng thôn"),
    DemoPerson("police", "police", "Nguyễn Văn A", "Công an xã"),
    DemoPerson("leader", "leader", "Trần Thị B", "Chủ tịch UBND xã"),
    DemoPerson("office", "office", "Lê Thị C", "Phòng VH-XH"),
    DemoPerson("admin", "admin", "Phạm Văn D", "Quản trị hệ thống"),
    DemoPerson("province", "province", "Đỗ Thị E", "Sở VH-TT-DL tỉnh"),
)
ROLES = tuple(p.role for p in PEOPLE)
_OLD_OFFICERS = {"1": "police", "2": "leader", "3": "office"}  # demo databases made before every role had a seat
EXAMPLE = " (ví dụ)"
EXAMPLE_PHONE = "02xx xxx xxxx (số ví dụ)"  # cannot be dialled, and says what it is


def path() -> Path:
    return data_dir() / "demo.db"


def mailbox() -> Path:
    """Where what was printed for the other demo people waits for them (one file per person)."""
    return data_dir() / "demo-messages"


def url() -> str:
    return f"sqlite+aiosqlite:///{path()}"


def person(role: str) -> DemoPerson:
    return next(p for p in PEOPLE if p.role == role)


def labels() -> dict[str, str]:
    """Terminal chat id → who that chat is, for the lines printed for the others."""
    return {p.chat: f"{p.title}, {p.name}" for p in PEOPLE}


def config_for(config: Config) -> Config:
    """The configuration the demo runs with: the demo database, its villages and numbers marked as
    examples (so nobody takes them for the commune's), the HTTP server on loopback for the links."""
    communes = tuple(
        replace(
            commune,
            villages=tuple(Village(v.id, v.name if v.name.endswith(EXAMPLE) else v.name + EXAMPLE)
                           for v in commune.villages),
            phones=Phones(police=EXAMPLE_PHONE, office_duty=EXAMPLE_PHONE),
        )
        for commune in config.communes
    )
    http = replace(config.http, host="127.0.0.1", public_url="")
    return replace(config, storage_url=url(), communes=communes, http=http)


async def seed(app) -> None:
    """Makes sure every demo person exists, once per demo database; older demo databases keep their
    people (their officers move from the printed "demo" channel to the terminal)."""
    commune = app.config.communes[0]
    now = app.clock.now()
    async with app.sessions() as session, session.begin():
        for external_id, role in _OLD_OFFICERS.items():
            await session.execute(
                update(Identity).where(Identity.channel == "demo", Identity.external_id == external_id)
                .values(channel="terminal", account="local", external_id=role, chat_id=role)
            )
        have = set(await session.scalars(select(Identity.external_id).where(Identity.channel == "terminal")))
        for demo in PEOPLE:
            if demo.chat in have:
                continue
            is_province = demo.role == "province"
            made = await create_person(
                session, now=now, name=demo.name, commune_id=None if is_province else commune.id,
                roles=[demo.role], villages=[commune.villages[0].id] if demo.role == "reporter" else [],
                org="village_head" if demo.role == "reporter" else None,
            )
            made.phone_asked = True
            await attach_identity(session, made.id, channel="terminal", account="local", external_id=demo.chat,
                                  chat_id=demo.chat, display_name=demo.name, now=now)


async def is_demo_database(app) -> bool:
    """A database the demo made: nobody in it is reachable on a real messenger (a real database is
    never opened as another role)."""
    async with app.sessions() as session:
        channels = set(await session.scalars(select(Identity.channel).distinct()))
    return channels <= {"terminal", "demo"}


def banner(config: Config, role: str) -> str:
    commune = config.communes[0]
    me = person(role)
    others = ", ".join(r for r in ROLES if r != role)
    return (
        f"Chế độ thử trên terminal — {commune.name} — dữ liệu thử trong {path()}\n"
        f"Anh/chị đang dùng với vai: {me.title}, {me.name} ({role}). "
        f"Đổi vai: python3 tasks.py run --demo-role <vai> ({others}).\n"
        f"Terminal demo (no TELEGRAM_BOT_TOKEN set): you are the demo {role}; switch with --demo-role.\n"
        "Tin nhắn bot gửi cho người khác hiện ra dạng [DEMO → người nhận]. Tên thôn và số điện thoại "
        "chỉ là ví dụ.\n"
        "Trả lời bằng số (\"2\", \"1 3\") hoặc gõ chữ, có dấu hay không dấu. Ctrl-D để thoát / to quit."
    )
