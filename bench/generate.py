"""Years of outreach reports and cases for one commune or a whole province, written in bulk.

Rows are built in Python and written with SQLAlchemy Core `executemany` in batches (`--batch`),
one transaction per commune. The table it prints compares each table's insert rate with the
floor: the same report rows inserted into a bare temporary table (no index, no constraint).
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Column, MetaData, Table, delete, func, select, text

from bench.table import Figure
from bench.table import Table as Output
from bench.world import config_for
from core.clock import Clock
from storage.db import make_engine, migrate, session_factory
from storage.models import (
    Case,
    CaseCode,
    CasePerson,
    Identity,
    Person,
    PersonRole,
    PersonVillage,
    Report,
    ReportTopic,
)
from storage.people import sync_communes

FORMATS = ("meeting", "branch", "household", "loudspeaker", "contest", "dialogue", "launch", "training", "online")
TOPICS = ("gender_equality", "domestic_violence", "trafficking", "reproductive_health", "sex_ratio",
          "child_marriage", "child_abuse", "online_safety")
CAMPAIGNS = (None, None, None, None, "gender_month", "dv_month")
STATUSES = ("new", "verifying", "confirmed_dv", "handling", "handled", "monitoring", "closed", "closed", "closed")
BATCH = 5000
FLOOR_SAMPLE = 20_000  # report rows inserted into the bare table for the floor
GENERATED_NAME = "Trưởng Thôn %"


def layout(communes: int, villages: int) -> list[tuple[str, str, list[tuple[str, str]]]]:
    if communes == 1:
        return [("xuanduong", "UBND xã Xuân Dương", [(f"t{v:02d}", f"Thôn {v}") for v in range(1, villages + 1)])]
    return [(f"xa{c:03d}", f"UBND xã Số {c}", [(f"t{v:02d}", f"Thôn {v}") for v in range(1, villages + 1)])
            for c in range(1, communes + 1)]


class Writer:
    """Core executemany in batches, timing each table."""

    def __init__(self, batch: int = BATCH) -> None:
        self.batch = max(1, batch)
        self.seconds: dict[str, float] = defaultdict(float)
        self.rows: dict[str, int] = defaultdict(int)

    async def write(self, conn, table, rows: list[dict]) -> None:
        started = time.perf_counter()
        for i in range(0, len(rows), self.batch):
            await conn.execute(table.insert(), rows[i:i + self.batch])
        self.seconds[table.name] += time.perf_counter() - started
        self.rows[table.name] += len(rows)


async def _clear(session, ids: list[str]) -> None:
    """What an earlier run generated for these communes."""
    old_reports = select(Report.id).where(Report.commune_id.in_(ids))
    await session.execute(delete(ReportTopic).where(ReportTopic.report_id.in_(old_reports)))
    old_cases = select(Case.id).where(Case.commune_id.in_(ids))
    await session.execute(delete(CaseCode).where(CaseCode.case_id.in_(old_cases)))
    await session.execute(delete(CasePerson).where(CasePerson.case_id.in_(old_cases)))
    await session.execute(delete(Case).where(Case.commune_id.in_(ids)))
    await session.execute(delete(Report).where(Report.commune_id.in_(ids)))
    generated = select(Person.id).where(
        Person.commune_id.in_(ids), Person.name.like(GENERATED_NAME), Person.org == "village_head",
        Person.id.not_in(select(Identity.person_id)),
    )
    ids_ = list((await session.scalars(generated)).all())
    for i in range(0, len(ids_), 500):
        chunk = ids_[i:i + 500]
        await session.execute(delete(PersonVillage).where(PersonVillage.person_id.in_(chunk)))
        await session.execute(delete(PersonRole).where(PersonRole.person_id.in_(chunk)))
        await session.execute(delete(Person).where(Person.id.in_(chunk)))


async def _next_ids(session) -> dict[str, int]:
    out = {}
    for model in (Person, Report, Case, CasePerson):
        out[model.__tablename__] = (await session.scalar(select(func.max(model.id))) or 0) + 1
    return out


def _commune_rows(rng: random.Random, commune, ids: dict[str, int], *, first: date, today: date, now: datetime,
                  per_week: float, cases_per_year: int, span_days: int) -> dict[str, list[dict]]:
    """Every row of one commune, with explicit ids (ids advance in place)."""
    out: dict[str, list[dict]] = defaultdict(list)
    reporters = {}
    for v in commune.villages:
        pid = ids["people"]
        ids["people"] += 1
        out["people"].append(dict(id=pid, name=f"Trưởng {v.name}", commune_id=commune.id, org="village_head",
                                  lang="vi", active=True, created_at=now, phone_asked=True))
        out["person_roles"].append(dict(person_id=pid, role="reporter"))
        out["person_villages"].append(dict(person_id=pid, commune_id=commune.id, village_id=v.id))
        reporters[v.id] = pid
    seq: dict[int, int] = {}
    day = first
    while day <= today:
        for v in commune.villages:
            n = int(per_week) + (rng.random() < per_week - int(per_week))
            for _ in range(n):
                held = day + timedelta(days=rng.randrange(7))
                if held > today:
                    continue
                total = rng.randint(15, 180)
                male = rng.randint(0, total)
                counted = rng.random() > 0.05
                seq[held.year] = seq.get(held.year, 0) + 1
                rid = ids["reports"]
                ids["reports"] += 1
                out["reports"].append(dict(
                    id=rid, ref=f"BC-{held.year}-{seq[held.year]:05d}", commune_id=commune.id,
                    village_id=v.id if rng.random() > 0.03 else None, person_id=reporters[v.id],
                    org="village_head", held_on=held, format=rng.choice(FORMATS),
                    attendees_total=total, attendees_male=male if counted else None,
                    attendees_female=total - male if counted else None, campaign=rng.choice(CAMPAIGNS),
                    created_at=datetime.combine(held, datetime.min.time(), UTC) + timedelta(hours=12),
                ))
                for topic in rng.sample(TOPICS, rng.randint(1, 3)):
                    out["report_topics"].append(dict(report_id=rid, topic=topic))
        day += timedelta(days=7)
    cseq: dict[int, int] = {}
    for _ in range(max(1, round(cases_per_year * span_days / 365))):
        created = now - timedelta(days=rng.uniform(0, span_days))
        cseq[created.year] = cseq.get(created.year, 0) + 1
        urgent = rng.random() < 0.15
        status = rng.choice(STATUSES) if created < now - timedelta(days=60) else rng.choice(STATUSES[:4])
        cid = ids["cases"]
        ids["cases"] += 1
        out["cases"].append(dict(
            id=cid, ref=f"HS-{created.year}-{cseq[created.year]:04d}", commune_id=commune.id,
            reporter_id=rng.choice(list(reporters.values())), urgent=urgent, created_at=created,
            confirmed_at=created, updated_at=created + timedelta(days=rng.uniform(0, 30)), status=status,
            police_routed=urgent, village_id=rng.choice(commune.villages).id,
            occurred_on=(created - timedelta(days=rng.randint(0, 5))).date(), source="relative",
            kind=rng.choice(("domestic", "domestic", "domestic", "sexual_abuse", "trafficking")),
            people_count=1, perpetrator_sex=rng.choice(("male", "male", "female")),
            perpetrator_age=rng.choice(("18_59", "18_59", "60p", "16_17")),
            relationship="spouse", repeat=rng.choice(("first", "repeat")), fined_before="no",
            perpetrator_counselled=rng.choice(("yes", "no", "unknown")),
            consent=rng.choice(("agreed", "refused", "not_asked")), escalation_step=0,
        ))
        for f in rng.sample(("physical", "psychological", "sexual", "economic"), rng.randint(1, 2)):
            out["case_codes"].append(dict(case_id=cid, field="forms", code=f))
        out["case_codes"].append(dict(case_id=cid, field="measures", code=rng.choice(("stop_order", "mediation"))))
        out["case_codes"].append(dict(case_id=cid, field="support", code=rng.choice(("medical", "none", "legal"))))
        for i in range(rng.randint(1, 3)):
            pid = ids["case_people"]
            ids["case_people"] += 1
            out["case_people"].append(dict(id=pid, case_id=cid, position=i + 1, sex=rng.choice(("female", "male")),
                                           age_group=rng.choice(("u16", "16_59", "60p")), disabled=False,
                                           pregnant_or_nursing=False))
    return out


TABLES = {m.__tablename__: m.__table__ for m in (Person, PersonRole, PersonVillage, Report, ReportTopic, Case,
                                                   CaseCode, CasePerson)}
ORDER = ("people", "person_roles", "person_villages", "reports", "report_topics", "cases", "case_codes",
         "case_people")


async def _advance_sequences(conn) -> None:
    """Rows were written with explicit ids: PostgreSQL's sequences must follow, or the bot's own
    inserts would collide with them."""
    if conn.dialect.name != "postgresql":
        return
    for name in ("people", "reports", "cases", "case_people"):
        await conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT coalesce(max(id), 1) FROM {name}))"))


async def _floor(engine, sample: list[dict], batch: int) -> float:
    """Rows per second into a bare temporary table shaped like `reports`: the database's floor."""
    if not sample:
        return 0.0
    meta = MetaData()
    bare = Table("bench_floor", meta, *[Column(c.name, c.type) for c in Report.__table__.columns],
                 prefixes=["TEMPORARY"])
    async with engine.connect() as conn:
        await conn.run_sync(lambda sync: bare.create(sync))
        await conn.commit()
        async with conn.begin():
            started = time.perf_counter()
            for i in range(0, len(sample), batch):
                await conn.execute(bare.insert(), sample[i:i + batch])
            seconds = time.perf_counter() - started
        await conn.run_sync(lambda sync: bare.drop(sync))
        await conn.commit()
    return len(sample) / max(seconds, 1e-9)


async def generate(url: str, *, communes: int = 1, villages: int = 22, years: float = 5, months: int | None = None,
                   per_week: float = 1.5, cases_per_year: int = 60, seed: int = 1, batch: int = BATCH,
                   out=print) -> dict:
    rng = random.Random(seed)
    started = time.perf_counter()
    engine = make_engine(url)
    await ensure_database(url)
    await migrate(engine)
    sessions = session_factory(engine)
    world = layout(communes, villages)
    config = config_for(world, url)
    now = Clock().now()
    today = now.date()
    span_days = 30 * months if months else round(365 * years)
    first = today - timedelta(days=span_days)
    writer = Writer(batch)
    async with sessions() as session, session.begin():
        await sync_communes(session, config.communes)
        await _clear(session, [c.id for c in config.communes])
        ids = await _next_ids(session)
    sample: list[dict] = []
    for commune in config.communes:
        rows = _commune_rows(rng, commune, ids, first=first, today=today, now=now, per_week=per_week,
                             cases_per_year=cases_per_year, span_days=span_days)
        if len(sample) < FLOOR_SAMPLE:
            sample += rows["reports"][:FLOOR_SAMPLE - len(sample)]
        async with engine.begin() as conn:
            for name in ORDER:
                await writer.write(conn, TABLES[name], rows[name])
    async with engine.begin() as conn:
        await _advance_sequences(conn)
    total = time.perf_counter() - started
    floor = await _floor(engine, sample, writer.batch)
    await engine.dispose()
    counts = {"reports": writer.rows["reports"], "cases": writer.rows["cases"]}
    out(f"generated {len(world)} commune(s), {counts['reports']:,} reports and {counts['cases']:,} cases over "
        f"{span_days} days into {_safe(url)} in {total:.1f} s (from {date.isoformat(first)})")
    table = Output(out)
    for name in ORDER:
        n, seconds = writer.rows[name], writer.seconds[name]
        table.add(Figure("generate", f"{name}: {n:,} rows", n / max(seconds, 1e-9), "rows/s",
                         "bare table", floor))
    rows_all = sum(writer.rows.values())
    table.add(Figure("generate", f"all tables, with building the rows: {rows_all:,} rows", rows_all / total,
                     "rows/s", "bare table", floor))
    table.print()
    return counts


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


async def ensure_database(url: str) -> None:
    """PostgreSQL: create the bench's database on the server if it is not there yet."""
    if not url.startswith("postgresql"):
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    dsn = u.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", u.database):
            await conn.execute(f'CREATE DATABASE "{u.database}"')
    finally:
        await conn.close()
