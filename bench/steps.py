"""Conversation steps through the real python-telegram-bot stack, beside a bare echo bot.

N simulated village heads file outreach reports at once (13 steps each, 14 when "yesterday" on
the bot's clock falls in a campaign of the plan; no pause between a question and the answer),
through the loopback Bot API emulator in another process; the same N people then type the same
number of messages to a bare python-telegram-bot echo bot polling the same emulator. Both run with the emulator's rate limits off and the channel's own limiter
lifted: what is measured is the software, not Telegram's 30 messages a second.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import replace
from datetime import date

from sqlalchemy import func, select

from bench.loadgen import LoadGen, steps_per_report, yesterday
from bench.parts import Options, part
from bench.rig import (
    BenchClock,
    EchoBot,
    add_people,
    bot_config,
    fresh_key,
    keyring_of,
    province,
    quiet_moment,
    scratch_database,
    start_bot,
)
from bench.table import Figure, Table
from storage.db import make_engine, migrate, session_factory
from storage.models import Report
from storage.people import sync_communes

MIN_STEPS = 400  # small runs repeat reports until about this many steps are measured
TARGET_AT = 100  # the reporters at which the targets apply


@part("steps", order=20)
async def steps(opts: Options, table: Table) -> None:
    backends = ["sqlite"] + (["postgresql"] if opts.pg else [])
    # Every bot of the part starts its clock at the same moment, so "hôm qua" is one known date and
    # the report (with or without its campaign question) and the echo have the same number of steps.
    start = quiet_moment()
    held_on = yesterday(start)
    per_report = steps_per_report(held_on)
    loadgen = await LoadGen.spawn()
    try:
        for n in opts.reporters:
            reports = opts.reports or max(1, math.ceil(MIN_STEPS / (n * per_report)))
            rounds = max(1, opts.repeat) if n == TARGET_AT else 1  # the judged size: a median of rounds
            taken: list[list[Figure]] = []
            for round_ in range(rounds):  # interleaved: each round runs the baselines and the bot again
                rows = []
                echo = await _echo(loadgen, n, reports, per_report, opts)
                for backend in backends:
                    floor = await _floor(loadgen, backend, n, reports, per_report, opts, held_on)
                    bot, saved = await _bot(loadgen, backend, n, reports, BenchClock(start), held_on, opts)
                    rows += _figures(backend, n, reports, per_report, bot, echo, saved)
                    rows += _floor_figures(backend, n, bot, floor)
                    # With think time: people pausing 2–5 s before each step (seeded, the same pauses
                    # for the floor and the bot), one report each: the latency a person feels.
                    think = list(opts.think)
                    floor_t = await _floor(loadgen, backend, n, 1, per_report, opts, held_on, think=think)
                    bot_t, _ = await _bot(loadgen, backend, n, 1, BenchClock(start), held_on, opts, think=think)
                    rows += _think_figures(backend, n, bot_t, floor_t, opts.think)
                if rounds > 1:
                    opts.out(f"-- {n:,} reporters, round {round_ + 1} of {rounds}")
                    table.print(rows)
                taken.append(rows)
            rows = median_rows(taken)
            table.add(*rows)
            table.print(rows)
    finally:
        await loadgen.close()


def median_rows(rounds: list[list[Figure]]) -> list[Figure]:
    """Each figure as it was in the round of its median ratio to its baseline (by value where it has
    none), so its value, baseline and verdict stay those of one round; the note lists every round's."""
    if len(rounds) == 1:
        return rounds[0]
    out = []
    for same in zip(*rounds, strict=True):
        def key(f: Figure) -> float:
            v = f.ratio if f.ratio is not None else f.value
            return math.inf if v is None else v

        ordered = sorted(same, key=key)
        chosen = ordered[(len(ordered) - 1) // 2]
        seen = ", ".join("—" if f.value is None else (f"{f.ratio:.2f}×" if f.ratio is not None else f"{f.value:,.1f}")
                         for f in same)
        label = "ratios" if chosen.ratio is not None else "values"
        note = f"median of {len(same)} rounds ({label} {seen})"
        out.append(replace(chosen, note=f"{note}; {chosen.note}" if chosen.note else note))
    return out


async def _floor(loadgen: LoadGen, backend: str, n: int, reports: int, per_report: int, opts: Options,
                 held_on: date, think: list[float] | None = None) -> dict:
    """The durable floor: the echo bot storing each update (INSERT + COMMIT) before answering it with
    the calls the bot makes for that kind of step, through the report's steps kind for kind."""
    async with scratch_database(backend, opts.pg) as url:
        return await _echo(loadgen, n, reports, per_report, opts, durable_url=url, held_on=held_on, think=think)


def _floor_figures(backend: str, n: int, bot: dict, floor: dict) -> list[Figure]:
    """Beside the like-for-like durable floor, and the emulator's CPU in each (a saturated emulator
    would make both look alike)."""
    where = f"{backend}, {n:,} reporters"
    judged = n == TARGET_AT
    ms = lambda v: None if v is None else v * 1000  # noqa: E731
    rate, floor_rate = _rate(bot), _rate(floor)
    cpu, floor_cpu = _cpu(bot), _cpu(floor)
    p99, floor_p99 = percentile(bot["latencies"], 99), percentile(floor["latencies"], 99)
    both = lambda a, b, f: (a is not None and b is not None and f(a, b)) if judged else None  # noqa: E731
    note = (f"the floor: {floor['steps']:,} steps in {floor['seconds']:.1f} s, typed ones answered with sendMessage, "
            "presses with answerCallbackQuery + editMessageText + sendMessage, after one INSERT + COMMIT")
    if floor["failed"]:
        note += f"; {floor['failed']} people got no answer from the floor: " + (floor["errors"] or [""])[0].splitlines()[0]
    rows = [
        Figure("steps", f"{where}: throughput", rate, "steps/s", "durable floor", floor_rate,
               "≥ 0.6× floor" if judged else "", both(rate, floor_rate, lambda a, b: a >= 0.6 * b)),
        Figure("steps", f"{where}: CPU per step", ms(cpu), "ms", "durable floor", ms(floor_cpu),
               "≤ 1.5× floor" if judged else "", both(cpu, floor_cpu, lambda a, b: a <= 1.5 * b)),
        Figure("steps", f"{where}: latency p99", ms(p99), "ms", "durable floor", ms(floor_p99)),
        Figure("steps", f"{where}: emulator CPU per step", ms(_emulator_cpu(bot)), "ms", "durable floor",
               ms(_emulator_cpu(floor))),
    ]
    rows[0].note = note
    return rows


def _think_figures(backend: str, n: int, bot: dict, floor: dict, think: tuple[float, float]) -> list[Figure]:
    where = f"{backend}, {n:,} reporters, {think[0]:g}–{think[1]:g} s think time"
    judged = n == TARGET_AT
    p99, floor_p99 = percentile(bot["latencies"], 99), percentile(floor["latencies"], 99)
    ms = lambda v: None if v is None else v * 1000  # noqa: E731
    row = Figure("steps", f"{where}: latency p99", ms(p99), "ms", "durable floor", ms(floor_p99),
                 "≤ 1.5× floor" if judged else "",
                 (p99 is not None and floor_p99 is not None and p99 <= 1.5 * floor_p99) if judged else None)
    row.note = (f"{bot['steps']:,} steps, the floor {floor['steps']:,}; p50 {ms(percentile(bot['latencies'], 50)):.0f} ms, "
                f"the floor {ms(percentile(floor['latencies'], 50)):.0f} ms"
                + _slowest(bot, floor)
                + (f"; {bot['failed']} people stuck" if bot["failed"] else "")
                + (f"; the floor: {floor['failed']} people got no answer" if floor["failed"] else ""))
    if bot["failed"] or floor["failed"]:
        row.ok = False if judged else row.ok
    return [row]


def _slowest(bot: dict, floor: dict) -> str:
    """Which step of the script was slowest at p90 (bench/loadgen.py keeps latencies per step), for
    the bot and the floor: a step kind that stands out shows where to look."""
    def worst(result: dict) -> tuple[int, float] | None:
        per = [(i, percentile(ls, 90)) for i, ls in enumerate(result.get("by_step") or []) if ls]
        return max(per, key=lambda p: p[1]) if per else None

    b, f = worst(bot), worst(floor)
    if b is None or f is None:
        return ""
    return f"; slowest step at p90: #{b[0] + 1} {b[1] * 1000:.0f} ms (the floor's: #{f[0] + 1} {f[1] * 1000:.0f} ms)"


def _emulator_cpu(result: dict) -> float | None:
    return result["emulator_cpu"] / result["steps"] if result.get("steps") and "emulator_cpu" in result else None


async def _echo(loadgen: LoadGen, n: int, reports: int, per_report: int, opts: Options, *,
                durable_url: str | None = None, held_on: date | None = None, think: list[float] | None = None) -> dict:
    urls = await loadgen.call(cmd="start", limits=False)
    echo = EchoBot(urls["api_url"], urls["file_url"], poll_timeout=1, durable_url=durable_url)
    await echo.start()
    try:
        users = [[10_000_000 + i, ""] for i in range(n)]
        cpu = time.process_time()
        if durable_url is None:
            result = await loadgen.call(cmd="run", users=users, script="echo", reports=reports, steps=per_report,
                                        timeout=opts.step_timeout)
        else:
            result = await loadgen.call(cmd="run", users=users, script="floor", reports=reports,
                                        held_on=held_on.isoformat(), timeout=opts.step_timeout, think=think)
        result["cpu"] = time.process_time() - cpu
        return result
    finally:
        await echo.stop()
        await loadgen.call(cmd="stop")


async def _bot(loadgen: LoadGen, backend: str, n: int, reports: int, clock: BenchClock, held_on: date,
               opts: Options, think: list[float] | None = None) -> tuple[dict, int]:
    """The bot on `clock`, to which "hôm qua" is `held_on`."""
    async with scratch_database(backend, opts.pg) as url:
        world = province(math.ceil(n / 22))
        urls = await loadgen.call(cmd="start", limits=False)
        config = bot_config(world, url, api_url=urls["api_url"], file_url=urls["file_url"], poll_timeout=1)
        engine = make_engine(url)
        await migrate(engine)
        async with session_factory(engine)() as session, session.begin():
            await sync_communes(session, config.communes)
        members = await add_people(engine, config, n)
        await engine.dispose()
        app, _channel = await start_bot(config, url, keyring_of(fresh_key()), clock=clock, unlimited=True)
        try:
            assert yesterday(app.clock.now()) == held_on, "the bot's clock is not the one the script was made for"
            users = [[m.uid, m.village_name] for m in members]
            cpu = time.process_time()
            result = await loadgen.call(cmd="run", users=users, script="report", reports=reports,
                                        held_on=held_on.isoformat(), timeout=opts.step_timeout, think=think)
            result["cpu"] = time.process_time() - cpu
            async with app.sessions() as session:
                saved = int(await session.scalar(select(func.count()).select_from(Report)) or 0)
        finally:
            await app.stop()
            await loadgen.call(cmd="stop")
    return result, saved


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def _rate(result: dict) -> float | None:
    return result["steps"] / result["seconds"] if result["seconds"] and result["steps"] else None


def _cpu(result: dict) -> float | None:
    """CPU time of the bot's (or echo bot's) process per step: less shaken by a busy machine."""
    return result["cpu"] / result["steps"] if result.get("steps") else None


def _figures(backend: str, n: int, reports: int, per_report: int, bot: dict, echo: dict,
             saved: int) -> list[Figure]:
    where = f"{backend}, {n:,} reporters"
    judged = n == TARGET_AT
    bot_rate, echo_rate = _rate(bot), _rate(echo)
    p50, p99 = (percentile(bot["latencies"], q) for q in (50, 99))
    e50, e99 = (percentile(echo["latencies"], q) for q in (50, 99))
    ms = lambda v: None if v is None else v * 1000  # noqa: E731
    rows = [
        Figure("steps", f"{where}: throughput", bot_rate, "steps/s", "echo bot", echo_rate,
               "≥ 0.5× echo" if judged else "",
               (bot_rate is not None and echo_rate is not None and bot_rate >= 0.5 * echo_rate) if judged else None),
        Figure("steps", f"{where}: latency p50", ms(p50), "ms", "echo bot", ms(e50)),
        Figure("steps", f"{where}: CPU per step", ms(_cpu(bot)), "ms", "echo bot", ms(_cpu(echo))),
        Figure("steps", f"{where}: latency p99", ms(p99), "ms", "echo bot", ms(e99),
               "≤ 2× echo" if judged else "",
               (p99 is not None and e99 is not None and p99 <= 2 * e99) if judged else None),
    ]
    expected = n * reports
    problems = []
    if bot["failed"] or saved != expected:
        problems.append(f"{saved:,} of {expected:,} reports saved, {bot['failed']} people stuck")
    if echo["failed"]:
        problems.append(f"echo bot: {echo['failed']} people got no echo")
    for err in (bot["errors"] + echo["errors"])[:2]:
        problems.append(err.splitlines()[0])
    if bot.get("internal_errors") or echo.get("internal_errors"):
        problems.append("emulator errors: " + (bot.get("internal_errors") or echo["internal_errors"])[0][-200:])
    steps_note = (f"{bot['steps']:,} steps ({reports} report(s) × {per_report} steps × {n:,} people) in "
                  f"{bot['seconds']:.1f} s; echo {echo['steps']:,} in {echo['seconds']:.1f} s; "
                  f"mean {statistics.fmean(bot['latencies']) * 1000:.0f} ms" if bot["latencies"] else "no steps")
    rows[0].note = "; ".join([steps_note, *problems])
    if problems:
        rows[0].ok = False if judged else rows[0].ok
    return rows
