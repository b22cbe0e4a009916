"""The weekly digest on the generated data: one commune, then every commune, beside one
hand-written SQL aggregate over the same rows (the reports of the year to date)."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from sqlalchemy import text

from bench.parts import Options, part
from bench.table import Figure, Table
from bench.world import config_from_db, keyring
from core.clock import Clock
from handlers.context import Services
from handlers.office import render
from handlers.office.delivery import Attachments
from storage import stats
from storage.db import make_engine, migrate, session_factory

ONE_LIMIT = 0.2  # seconds: one commune's digest
ONE_RATIO = 30  # and at most this many times the hand-written SQL aggregate of the same rows
ALL_LIMIT = 20.0  # seconds: every commune's

AGGREGATE = """
SELECT commune_id, village_id, count(*), sum(attendees_total), sum(attendees_male), sum(attendees_female)
FROM reports
WHERE superseded_at IS NULL AND held_on >= :start AND held_on <= :end {where}
GROUP BY commune_id, village_id
"""


async def one_digest(session, services: Services, commune, period: stats.Period, now) -> dict[str, float]:
    """What the digest costs for one commune: figures (SQL), text, Excel and chart; seconds each."""
    took = {}
    started = time.perf_counter()
    figures = await stats.figures(session, commune, period, now=now)
    took["figures"] = time.perf_counter() - started
    mark = time.perf_counter()
    render.digest_text("vi", figures, commune.name, today=now.astimezone(commune.tz).date(), missed=[])
    took["text"] = time.perf_counter() - mark
    mark = time.perf_counter()
    await Attachments(session, services, commune, figures, now=now).made("vi")
    took["files"] = time.perf_counter() - mark
    took["total"] = time.perf_counter() - started
    return took


async def aggregate(session, period: stats.Period, communes: list[str] | None) -> float:
    sql = AGGREGATE.format(where="AND commune_id = :commune" if communes else "")
    params = {"start": period.ytd_start, "end": period.end}
    if communes:
        params["commune"] = communes[0]
    started = time.perf_counter()
    (await session.execute(text(sql), params)).all()
    return time.perf_counter() - started


def median_of(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


@part("digest", order=30, needs_data=True)
async def digest(opts: Options, table: Table) -> None:
    engine = make_engine(opts.db)
    await migrate(engine)
    sessions = session_factory(engine)
    config = await config_from_db(sessions, opts.db)
    clock = Clock()
    services = Services(config=config, clock=clock, keyring=keyring(opts.db))
    now = clock.now()
    commune = config.communes[0]
    period = stats.week_of(now.astimezone(commune.tz).date() - timedelta(days=7))  # the week a digest covers
    repeat = max(1, opts.repeat)
    async with sessions() as session:
        await aggregate(session, period, None)  # warm the caches the same way for both
        await one_digest(session, services, commune, period, now)  # and the chart's fonts, imports
        one = [await one_digest(session, services, commune, period, now) for _ in range(repeat)]
        base_one = median_of([await aggregate(session, period, [commune.id]) for _ in range(repeat)])
        started = time.perf_counter()
        parts = {"figures": 0.0, "text": 0.0, "files": 0.0}
        for c in config.communes:
            took = await one_digest(session, services, c, period, now)
            for key in parts:
                parts[key] += took[key]
        whole = time.perf_counter() - started
        base_all = median_of([await aggregate(session, period, None) for _ in range(repeat)])
    await engine.dispose()
    n = len(config.communes)
    # The digest is its figures and its text (what every recipient reads); the Excel workbook and
    # the chart are attachments, rendered once per commune, measured beside it without a target.
    one_digest_s = median_of([t["figures"] + t["text"] for t in one])
    all_digest_s = parts["figures"] + parts["text"]
    rows = [
        Figure("digest", f"one commune ({commune.id}), week {period.week_key}: figures + text", one_digest_s * 1000,
               "ms", "SQL aggregate", base_one * 1000, f"< {ONE_LIMIT * 1000:.0f} ms", one_digest_s < ONE_LIMIT,
               note="median of {r}: figures {f:.0f} ms, text {t:.0f} ms".format(
                   r=repeat, f=median_of([t["figures"] for t in one]) * 1000,
                   t=median_of([t["text"] for t in one]) * 1000)),
        Figure("digest", "one commune: figures + text, against the SQL aggregate", one_digest_s * 1000, "ms",
               "SQL aggregate", base_one * 1000, f"≤ {ONE_RATIO:.0f}× SQL", one_digest_s <= ONE_RATIO * base_one),
        Figure("digest", "one commune: Excel + chart (attachments)", median_of([t["files"] for t in one]) * 1000, "ms",
               "SQL aggregate", base_one * 1000),
        Figure("digest", f"all {n} communes: figures + text", all_digest_s, "s", "SQL aggregate", base_all,
               f"< {ALL_LIMIT:.0f} s", all_digest_s < ALL_LIMIT,
               note=f"figures {parts['figures']:.1f} s, text {parts['text']:.1f} s"),
        Figure("digest", f"all {n} communes with Excel + chart", whole, "s", "SQL aggregate", base_all,
               note=f"Excel + chart {parts['files']:.1f} s in all"),
    ]
    table.add(*rows)
    table.print(rows)
