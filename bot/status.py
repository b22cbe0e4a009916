"""`python -m bot status`: is the bot working? One line per thing to check (the Zalo template
message's start-up check among them); the exit status is
0 when all is well, 1 when something needs attention, 2 when there is no database to look at.

Read-only: it opens the database in a mode that cannot write and never migrates, so it can run
from cron or a monitor while the bot runs, before an upgrade's migration, or on a restored copy.
"""

from __future__ import annotations

import calendar
import json
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.version import app_version
from core.clock import Clock
from core.config import Config
from storage import operations as ops
from storage.db import head_revision, is_sqlite, schema_version, session_factory
from storage.people import users_per_account

STALE_AFTER = timedelta(minutes=5)  # a running bot confirms its channels every minute


class NoDatabase(Exception):
    pass


@dataclass
class Check:
    name: str
    text: str
    attention: bool = False
    info: bool = False  # neither good nor bad: "no digest yet"


@dataclass
class StatusReport:
    at: datetime
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, text: str, *, attention: bool = False, info: bool = False) -> None:
        self.checks.append(Check(name, text, attention, info))

    @property
    def needs_attention(self) -> bool:
        return any(c.attention for c in self.checks)

    def to_dict(self) -> dict:
        return {"at": self.at.isoformat(), "attention": self.needs_attention,
                "checks": [asdict(c) for c in self.checks]}


def sqlite_path(url: str) -> Path | None:
    if not is_sqlite(url) or ":///" not in url:
        return None
    rest = url.split(":///", 1)[1].split("?", 1)[0]
    return Path(rest) if rest and rest != ":memory:" else None


def _readonly_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # no BEGIN IMMEDIATE: reads never take the write lock
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA query_only=ON")
    cur.close()


def readonly_engine(url: str) -> AsyncEngine:
    """An engine that cannot change the database (and does not create a missing SQLite file)."""
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is None or not path.exists():
            raise NoDatabase(f"no database at {path}")
        engine = create_async_engine(url, poolclass=NullPool)
        event.listen(engine.sync_engine, "connect", _readonly_pragmas)
        return engine
    return create_async_engine(url, poolclass=NullPool,
                               connect_args={"server_settings": {"default_transaction_read_only": "on"}})


def _when(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%H:%M %d/%m/%Y") if value else "—"


def _ago(now: datetime, then: datetime) -> str:
    minutes = int((now - then).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // 1440} days"


def _size(n: int | None) -> str:
    if n is None:
        return "size unknown"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


async def collect(config: Config, engine: AsyncEngine, *, now: datetime, disk_usage=None) -> StatusReport:
    from handlers.admin_notices import DISK_USAGE, data_path, month_start

    tz = config.communes[0].tz
    o = config.operations
    report = StatusReport(now)
    report.add("version", f"commune-field-bot {app_version()}", info=True)
    sessions = session_factory(engine)

    url = engine.url.render_as_string(hide_password=True)
    try:
        current = await schema_version(engine)
    except Exception as exc:  # noqa: BLE001
        report.add("database", f"cannot be read: {type(exc).__name__}", attention=True)
        return report
    head = head_revision()
    async with sessions() as session:
        size = await ops.database_size(session)
    if current == head:
        report.add("database", f"{url}, {_size(size)}, schema {current} (up to date)")
    else:
        hint = ("the bot upgrades it when it starts, or run `python -m bot migrate`" if current is None
                or current < head else "the database is newer than this code: restore the backup or upgrade")
        report.add("database", f"{url}, {_size(size)}, schema {current or 'none'}, this code expects {head}: {hint}",
                   attention=True)

    for commune in config.communes:  # shown to a reporter in an emergency: the commune's own, or none
        missing = [what for what, value in (("police", commune.phones.police),
                                            ("office_duty", commune.phones.office_duty)) if not value.strip()]
        if missing:
            report.add(f"phones {commune.id}", f"[communes.phones] {', '.join(missing)} not set in config.toml: "
                       "a reporter in danger is shown only 113 and 111, and the printed guide has blank lines",
                       attention=True)

    async def section(name: str, body) -> None:
        try:
            async with sessions() as session:
                await body(session)
        except Exception as exc:  # noqa: BLE001 - an old schema: the rest is still worth showing
            report.add(name, f"unknown ({type(exc).__name__}; schema {current})", attention=True)

    async def channels(session) -> None:
        rows = await ops.channel_states(session)
        if not rows:
            report.add("channels", "no channel has reported yet: has the bot run?", attention=True)
        for row in rows:
            name = f"channel {row.channel}"
            if not row.connected:
                what = "stopped" if row.detail == "stopped" else "disconnected"
                report.add(name, f"{what} since {_when(row.since, tz)} ({_ago(now, row.since)})", attention=True)
            elif now - row.seen_at > STALE_AFTER:
                report.add(name, f"connected since {_when(row.since, tz)}, but not confirmed since "
                                 f"{_when(row.seen_at, tz)}: is the bot running?", attention=True)
            else:
                report.add(name, f"connected since {_when(row.since, tz)}")

    async def outbox(session) -> None:
        b = await ops.outbox_backlog(session)
        failed = f"; {b.failed} given up on in all" if b.failed else ""
        if not b.waiting:
            report.add("outbox", "nothing waiting" + failed)
            return
        stuck = now - b.oldest >= timedelta(minutes=o.outbox_stuck_minutes)
        per = ", ".join(f"{k} {v}" for k, v in sorted(b.by_channel.items()))
        report.add("outbox", f"{b.waiting} waiting ({per}), oldest since {_when(b.oldest, tz)} "
                             f"({_ago(now, b.oldest)}){failed}", attention=stuck)

    async def alerts(session) -> None:
        a = await ops.open_alerts(session)
        if a.alerts:
            report.add("alerts", f"{a.cases} urgent case(s) not acknowledged by anyone ({a.alerts} alerts sent), "
                                 f"oldest since {_when(a.oldest, tz)} ({_ago(now, a.oldest)})", attention=True)
        else:
            report.add("alerts", "no unacknowledged urgent alert")

    async def digests(session) -> None:
        found = {d.commune_id: d for d in await ops.last_digests(session)}
        for commune in config.communes:
            d = found.get(commune.id)
            name = f"digest {commune.id}"
            if d is None:
                report.add(name, "no digest yet", info=True)
                continue
            label = f" ({d.label})" if d.label else ""
            if d.failed:
                report.add(name, f"last digest{label} FAILED at {_when(d.at, tz)}", attention=True)
            elif d.recipients is None:
                report.add(name, f"last digest{label} at {_when(d.at, tz)}")
            else:
                late = d.at is not None and now - d.at >= timedelta(minutes=o.outbox_stuck_minutes)
                everyone = d.delivered == d.recipients
                report.add(name, f"last digest{label} at {_when(d.at, tz)}, delivered to {d.delivered} of "
                                 f"{d.recipients} chat(s)", attention=late and not everyone)

    async def quota(session) -> None:
        served = await users_per_account(session, "zalo_bot")
        for account, people in sorted(served.items()):
            name = f"zalo users {account}" if len(served) > 1 else "zalo users"
            report.add(name, f"{people} of {o.zalo_bot_user_limit} people this bot may serve",
                       attention=people >= o.zalo_users_warn)
        used, in_use = await ops.zalo_messages_since(session, month_start(now, tz))
        if not in_use:
            report.add("zalo quota", "Zalo Bot not in use", info=True)
            return
        start = month_start(now, tz)
        local = now.astimezone(tz)
        days = calendar.monthrange(local.year, local.month)[1]
        elapsed = max((now - start).total_seconds() / 86400, 1 / 24)  # at least an hour: no wild first-hour rate
        for account, count in sorted(used.items()) or [("", 0)]:
            percent = count * 100 // o.zalo_monthly_quota
            projected = round(count * days / elapsed) if count else 0
            name = f"zalo quota {account}" if len(used) > 1 else "zalo quota"
            report.add(name, f"{count} of {o.zalo_monthly_quota} messages this month ({percent}%); at this rate "
                       f"{projected} by the month's end", attention=percent >= o.zalo_quota_warn_percent
                       or projected > o.zalo_monthly_quota)

    async def notices(session) -> None:
        rows = await ops.open_notices(session)
        if rows:
            report.add("notices", "open: " + ", ".join(f"{n.key} (since {_when(n.raised_at, tz)})" for n in rows),
                       attention=True)

    async def disk(session) -> None:
        where = data_path(session)
        usage = (disk_usage or DISK_USAGE)(where)
        free = usage.free * 100 / usage.total if usage.total else 100
        report.add("disk", f"{free:.0f}% free on the disk holding {where} ({_size(usage.free)} free)",
                   attention=free < o.disk_free_min_percent)

    async def unreachable(session) -> None:
        gone, stranded = await ops.unreachable_people(session)
        if gone:
            report.add("unreachable", f"{gone} person(s) left the Zalo official account; {stranded} of them can "
                       "be reached on no channel now", attention=stranded > 0, info=not stranded)

    async def template(session) -> None:
        tpl = config.zalo_template
        if not tpl.enabled:
            report.add("zalo template", "not configured: an urgent alert to someone whose Zalo OA window is closed "
                       "waits until they write (README, Zalo template messages)", info=True)
            return
        wrong = await ops.open_notices(session, "zalo_template:")
        for notice in wrong:
            report.add("zalo template", f"template {tpl.template_id} cannot be used as configured: "
                       f"{(notice.params or {}).get('problem', '?')} (since {_when(notice.raised_at, tz)})",
                       attention=True)
        if not wrong:
            report.add("zalo template", f"template {tpl.template_id}: no problem reported by the start-up check (it "
                       "runs when the bot starts with the official account's credentials)")

    for name, body in (("channels", channels), ("outbox", outbox), ("alerts", alerts), ("digest", digests),
                       ("zalo quota", quota), ("zalo template", template), ("notices", notices),
                       ("unreachable", unreachable), ("disk", disk)):
        await section(name, body)
    return report


def render(report: StatusReport, tz: ZoneInfo) -> str:
    lines = [f"Status at {_when(report.at, tz)} ({tz.key})"]
    width = max(len(c.name) for c in report.checks)
    for c in report.checks:
        mark = "!!" if c.attention else ("--" if c.info else "ok")
        lines.append(f"  {mark}  {c.name.ljust(width)}  {c.text}")
    problems = sum(c.attention for c in report.checks)
    lines.append(f"NEEDS ATTENTION: {problems} problem(s)" if problems else "All is well.")
    return "\n".join(lines)


async def status_command(config: Config, *, url: str | None = None, now: datetime | None = None,
                         as_json: bool = False, out=None, disk_usage=None) -> int:
    out = out or sys.stdout
    now = now or Clock().now()
    try:
        engine = readonly_engine(url or config.storage_url)
    except NoDatabase as exc:
        print(f"{exc}: the bot has not run here yet, or the storage url is wrong", file=out)
        return 2
    try:
        report = await collect(config, engine, now=now, disk_usage=disk_usage)
    finally:
        await engine.dispose()
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), file=out)
    else:
        print(render(report, config.communes[0].tz), file=out)
    return 1 if report.needs_attention else 0
