"""Where the bench's data lives, and the configuration that matches what was generated."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select

from core.config import ROOT, Config, parse_config, resolve_sqlite_path
from storage.crypto import Keyring
from storage.models import Commune, Village

DEFAULT_DB = ROOT / "data" / "bench.db"


def db_url(db: str | None) -> str:
    """--db takes a database URL or a SQLite file path (default data/bench.db)."""
    if not db:
        db = str(DEFAULT_DB)
    if "://" in db:
        return resolve_sqlite_path(db, Path.cwd())
    return f"sqlite+aiosqlite:///{Path(db).resolve()}"


def keyring(url: str) -> Keyring:
    """A key kept beside the bench database, so one run can read what the previous one stored."""
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1] + ".key")
    else:
        path = DEFAULT_DB.with_suffix(".key")
    path.parent.mkdir(parents=True, exist_ok=True)
    env = {"BOT_SECRET_KEY_FILE": str(path)}
    if os.environ.get("BOT_SECRET_KEY"):
        env["BOT_SECRET_KEY"] = os.environ["BOT_SECRET_KEY"]
    return Keyring(env, allow_generate=True)


def config_for(communes: list[tuple[str, str, list[tuple[str, str]]]], url: str) -> Config:
    raw = {
        "communes": [
            {"id": cid, "name": name, "province": "Thái Nguyên", "timezone": "Asia/Ho_Chi_Minh",
             "villages": [{"id": vid, "name": vname} for vid, vname in villages]}
            for cid, name, villages in communes
        ],
        "storage": {"url": url},
        "http": {"port": 0},
    }
    return parse_config(raw, env={})


async def config_from_db(sessions, url: str) -> Config:
    """The communes and villages the generator wrote, as a Config."""
    async with sessions() as session:
        communes = (await session.scalars(select(Commune).order_by(Commune.id))).all()
        out = []
        for c in communes:
            villages = (await session.scalars(
                select(Village).where(Village.commune_id == c.id, Village.active.is_(True)).order_by(Village.id)
            )).all()
            out.append((c.id, c.name, [(v.id, v.name) for v in villages]))
    if not out:
        raise SystemExit("the bench database is empty: run `python -m bench generate` first")
    return config_for(out, url)
