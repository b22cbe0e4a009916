"""The digest counts a year's cases and its period's in one pass (storage/stats.py
case_figures_and_since: every statement grouped by whether the case came in the period). On two
years of generated cases (urgent, repeat, households, codes, people, every kind), each week's and
each month's figures must equal those counted over each range on its own."""

from __future__ import annotations

from datetime import date, timedelta

from bench.generate import generate
from core.vocabulary import CASE_KINDS
from storage import stats
from storage.db import make_engine, session_factory


async def test_one_pass_equals_each_range_counted_apart(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'gen.db'}"
    await generate(url, communes=1, villages=4, years=2, cases_per_year=150, out=lambda *_: None)
    engine = make_engine(url)
    sessions = session_factory(engine)
    from bench.world import config_from_db

    config = await config_from_db(sessions, url)
    commune = config.communes[0]
    today = date.today()
    periods = [stats.week_of(today - timedelta(days=7 * n)) for n in (1, 5, 20, 40)]
    periods.append(stats.week_of(date(today.year, 1, 1)))  # a week across the new year: counted in two passes
    checked = 0
    try:
        async with sessions() as s:
            for period in periods:
                since, until = period.utc_bounds(commune.tz)
                ytd_since, _ = period.utc_bounds(commune.tz, period.ytd_start)
                for kinds in (tuple(CASE_KINDS), None):
                    whole, part = await stats.case_figures_and_since(s, commune.id, ytd_since, since, until, kinds)
                    for key in (kinds or (None,)):
                        if key is None:
                            alone_whole = await stats.case_figures(s, commune.id, ytd_since, until)
                            alone_part = await stats.case_figures(s, commune.id, since, until)
                        else:
                            alone_whole = await stats.case_figures(s, commune.id, ytd_since, until, key)
                            alone_part = await stats.case_figures(s, commune.id, since, until, key)
                        assert (whole.get(key) or stats.CaseFigures()) == alone_whole, (period, key)
                        assert (part.get(key) or stats.CaseFigures()) == alone_part, (period, key)
                        checked += alone_whole.new
        assert checked > 100  # the data held cases to count
    finally:
        await engine.dispose()
