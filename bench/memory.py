"""Memory and start-up of a bot process with a province's people and open drafts.

The database holds `--people` enrolled people (10,000) and `--drafts` open outreach drafts
(1,000, each at the "how many attendances" question). A bot process (bench/botproc.py) starts on
it against the emulator; each draft's owner then answers the open question, so every draft is
loaded, advanced and saved; then the process's RSS and peak RSS are read from /proc. The
baseline is a bare python-telegram-bot echo bot process that echoes the same messages.
Start-up is App.prepare + the channel's start (getMe, setMyCommands, deleteWebhook), beside the
echo bot's Application.initialize + start_polling.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time
from datetime import timedelta

from sqlalchemy import insert

from bench.parts import Options, part
from bench.rig import (
    TOKEN,
    TZ,
    BenchClock,
    BenchEmulator,
    add_people,
    bot_config,
    fresh_key,
    keyring_of,
    province,
    scratch_database,
)
from bench.table import Figure, Table
from storage.db import make_engine, migrate, session_factory
from storage.drafts import DraftState, _encode
from storage.models import Draft
from storage.people import sync_communes
from storage.stats import campaign_on

RSS_LIMIT = 150.0  # MB
MAX_COMMUNES = 92


@part("memory", order=50)
async def memory(opts: Options, table: Table) -> None:
    async with scratch_database("sqlite") as url:
        rows = await measure(url, opts.people, opts.drafts, opts.step_timeout)
    table.add(*rows)
    table.print(rows)


async def _world(url: str, key: str, people: int, drafts: int, communes: int):
    config = bot_config(province(communes), url)
    engine = make_engine(url)
    await migrate(engine)
    async with session_factory(engine)() as session, session.begin():
        await sync_communes(session, config.communes)
    now = BenchClock().now()
    members = await add_people(engine, config, people, now=now)
    keyring = keyring_of(key)
    rows = []
    held_on = now.astimezone(TZ).date() - timedelta(days=1)
    # Held yesterday; when that is in a campaign of the plan, its yes/no was answered too (No).
    campaign = {f"in_{found[0]}": "no"} if (found := campaign_on(held_on)) is not None else {}
    for m in members[:drafts]:
        state = DraftState(form="outreach", cursor="attendees_total", answers={
            "village": m.village_id, "held_on": held_on.isoformat(), **campaign, "format": "meeting",
            "topics": ["gender_equality", "domestic_violence"]})
        rows.append(dict(person_id=m.person_id, form="outreach", state=_encode(keyring, state), sensitive=False,
                         seq=5, created_at=now, updated_at=now, expires_at=now + timedelta(days=3)))
    async with engine.begin() as conn:
        for i in range(0, len(rows), 2000):
            await conn.execute(insert(Draft.__table__), rows[i:i + 2000])
    await engine.dispose()
    return members


async def _process(mode: str, url: str, key: str, emu: BenchEmulator, communes: int):
    from core.config import ROOT

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BOT_CONFIG")}
    env.update(BENCH_MODE=mode, BENCH_DB_URL=url, BENCH_API_URL=emu.api_url, BENCH_FILE_URL=emu.file_url,
               BENCH_COMMUNES=str(communes), BOT_SECRET_KEY=key, BOT_SECRET_KEY_FILE=os.devnull,
               PYTHONUNBUFFERED="1")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.botproc", cwd=str(ROOT), env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE)


async def _line(proc, timeout: float = 120) -> dict:
    line = await asyncio.wait_for(proc.stdout.readline(), timeout)
    if not line:
        raise RuntimeError(f"the bench's bot process ended (exit code {await proc.wait()})")
    return json.loads(line)


async def _answer_all(emu: BenchEmulator, uids: list[int], text: str, echo: bool, timeout: float) -> int:
    """Every uid sends `text` at once; returns how many got their answer."""

    async def one(uid: int) -> bool:
        chat = emu._user_chat(uid)
        mark = chat.next_message_id
        wait = emu.expect(uid, (lambda m: m.message_id >= mark) if echo
                          else (lambda m: m.message_id >= mark and m.edits == 0 and bool(m.buttons)))
        await emu.send_text(uid, text)
        try:
            await asyncio.wait_for(asyncio.shield(wait.future), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            emu.done_waiting(uid)

    return sum(await asyncio.gather(*(one(u) for u in uids)))


async def _run(mode: str, url: str, key: str, uids: list[int], communes: int, timeout: float) -> dict:
    emu = BenchEmulator(token=TOKEN, bot_username="bench_bot")
    emu.enforce_rate_limits = False
    await emu.start()
    for uid in uids:
        emu.user(uid, f"Người {uid}")
    proc = await _process(mode, url, key, emu, communes)
    try:
        up = await _line(proc)
        up["rss_up"] = up.pop("rss")
        began = time.perf_counter()
        answered = await _answer_all(emu, uids, "120", mode == "echo", timeout)
        seconds = time.perf_counter() - began
        proc.stdin.write(b"measure\n")
        await proc.stdin.drain()
        mem = await _line(proc)
        proc.stdin.write(b"stop\n")
        await proc.stdin.drain()
        await _line(proc, 60)
        await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await emu.stop()
    return {**up, **mem, "answered": answered, "seconds": seconds}


async def measure(url: str, people: int, drafts: int, timeout: float = 300) -> list[Figure]:
    key = fresh_key()
    communes = min(MAX_COMMUNES, max(1, math.ceil(people / 22)))
    members = await _world(url, key, people, drafts, communes)
    uids = [m.uid for m in members[:drafts]]
    bot = await _run("bot", url, key, uids, communes, timeout)
    echo = await _run("echo", url, key, uids, communes, timeout)
    return [
        Figure("memory", f"RSS, {people:,} people and {drafts:,} drafts loaded", bot["rss"], "MB", "echo bot",
               echo["rss"], note=_note(bot, echo, people, drafts, communes)),
        Figure("memory", "peak RSS (VmHWM)", bot["peak"], "MB", "echo bot", echo["peak"],
               f"< {RSS_LIMIT:.0f} MB", bot["peak"] < RSS_LIMIT and bot["answered"] == len(uids)),
        Figure("memory", "start-up: App.prepare + channel start", bot["startup"], "s", "echo bot start",
               echo["startup"]),
        Figure("memory", "imports before start-up", bot["imports"], "s", "echo bot", echo["imports"]),
    ]


def _note(bot: dict, echo: dict, people: int, drafts: int, communes: int) -> str:
    return (f"{people:,} people in {communes} communes; {drafts:,} drafts each answered once "
            f"({bot['answered']:,} answered in {bot['seconds']:.1f} s, echo {echo['answered']:,} in "
            f"{echo['seconds']:.1f} s); RSS right after start: bot {bot['rss_up']:.0f} MB, "
            f"echo {echo['rss_up']:.0f} MB")

