"""The terminal demo: its own database, a demo reporter, and demo officers whose messages are printed."""

from __future__ import annotations

from sqlalchemy import select

from core.config import Config
from storage.models import Identity
from storage.people import attach_identity, create_person

DEMO_PEOPLE = (
    ("Cán bộ Công an xã (thử)", ["police"]),
    ("Chủ tịch UBND xã (thử)", ["leader"]),
    ("Cán bộ Phòng VH-XH (thử)", ["office"]),
)


async def seed(app) -> None:
    """Once per demo database: the demo reporter of the first village, and the officers."""
    commune = app.config.communes[0]
    now = app.clock.now()
    async with app.sessions() as session, session.begin():
        if await session.scalar(select(Identity).where(Identity.channel == "terminal")) is not None:
            return
        reporter = await create_person(
            session, now=now, name="Người dùng thử", commune_id=commune.id, roles=["reporter"],
            villages=[commune.villages[0].id], org="village_head",
        )
        reporter.phone_asked = True
        await attach_identity(session, reporter.id, channel="terminal", account="local", external_id="demo",
                              chat_id="demo", display_name="Demo", now=now)
        for n, (name, roles) in enumerate(DEMO_PEOPLE, 1):
            person = await create_person(session, now=now, name=name, commune_id=commune.id, roles=roles,
                                         villages=[], org=None)
            person.phone_asked = True
            await attach_identity(session, person.id, channel="demo", account="demo", external_id=str(n),
                                  chat_id=str(n), display_name=name, now=now)


def banner(config: Config) -> str:
    commune = config.communes[0]
    return (
        f"Chế độ thử trên terminal — {commune.name} — dữ liệu thử trong data/demo.db\n"
        "Terminal demo: no TELEGRAM_BOT_TOKEN is set, so you are chatting as a demo village head.\n"
        "Trả lời bằng số (\"2\", \"1 3\") hoặc gõ chữ, có dấu hay không dấu. Ctrl-D để thoát / to quit."
    )
