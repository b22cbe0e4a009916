"""python -m bench generate [--db PATH|URL] [--communes 92] [--years 5 | --months N] [--batch N] ...
python -m bench [--db PATH|URL] [--parts commands,digest,steps,broadcast,memory] [--pg URL|off]
                [--reporters 10,100,1000] [--recipients 3000] [--people 10000] [--drafts 1000]

Every figure is printed beside a baseline measured in the same run, with PASS/FAIL where the
README sets a target. The parts that read the generated data (commands, digest) are skipped
with a note when there is none.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bench.world import db_url


def _span(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    try:
        span = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds like 2-5, got {text!r}") from None
    if not 0 <= span[0] <= span[1]:
        raise argparse.ArgumentTypeError(f"expected a low and a high number of seconds, got {text!r}")
    return span


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    from bench.rig import pg_default

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="database URL or SQLite file of the generated data (default data/bench.db)")
    parser.add_argument("--parts", help="which parts, separated by commas (default: all)")
    parser.add_argument("--pg", default=None,
                        help="PostgreSQL server URL for the scratch databases of the steps part "
                             "(default TEST_POSTGRES_URL; 'off' for SQLite only)")
    parser.add_argument("--reporters", type=_ints, default=[10, 100, 1000], help="simulated reporters, e.g. 10,100")
    parser.add_argument("--reports", type=int, default=0, help="reports per reporter (default: about 400 steps)")
    parser.add_argument("--recipients", type=int, default=3000, help="digest broadcast recipients")
    parser.add_argument("--people", type=int, default=10_000, help="people in the memory part's database")
    parser.add_argument("--drafts", type=int, default=1000, help="open drafts in the memory part's database")
    parser.add_argument("--repeat", type=int, default=3,
                        help="digest timings, and the steps rounds at 100 reporters, taken this many times (median)")
    parser.add_argument("--think", type=_span, default=(2.0, 5.0),
                        help="the steps part's think-time run: seconds before each step, e.g. 2-5 (default)")
    sub = parser.add_subparsers(dest="command")
    gen = sub.add_parser("generate", help="make a commune (or a province) with years of reports and cases")
    gen.add_argument("--db", dest="gen_db", help="database URL or SQLite file (default data/bench.db)")
    gen.add_argument("--communes", type=int, default=1, help="1: xã Xuân Dương; more: a province")
    gen.add_argument("--villages", type=int, default=22)
    gen.add_argument("--years", type=float, default=5)
    gen.add_argument("--months", type=int, default=None, help="instead of --years")
    gen.add_argument("--per-week", type=float, default=1.5, help="outreach sessions per village and week")
    gen.add_argument("--cases-per-year", type=int, default=60, help="per commune")
    gen.add_argument("--batch", type=int, default=5000, help="rows per executemany")
    gen.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "generate":
        from bench.generate import generate

        asyncio.run(generate(db_url(args.gen_db or args.db), communes=args.communes, villages=args.villages,
                             years=args.years, months=args.months, per_week=args.per_week,
                             cases_per_year=args.cases_per_year, seed=args.seed, batch=args.batch))
        return 0
    from bench.parts import Options

    pg = pg_default() if args.pg is None else ("" if args.pg.lower() in ("", "off", "none") else args.pg)
    opts = Options(db=db_url(args.db), pg=pg, reporters=args.reporters, reports=args.reports,
                   recipients=args.recipients, people=args.people, drafts=args.drafts, repeat=args.repeat,
                   think=args.think)
    return asyncio.run(run_parts(opts, args.parts))


async def run_parts(opts, chosen: str | None) -> int:
    from bench.parts import load_parts
    from bench.table import Table

    parts = load_parts()
    names = [p.strip() for p in chosen.split(",")] if chosen else list(parts)
    unknown = [n for n in names if n not in parts]
    if unknown:
        opts.out(f"unknown part(s): {', '.join(unknown)}; the parts are: {', '.join(parts)}")
        return 2
    table = Table(opts.out)
    for name in names:
        opts.out(f"== {name}")
        try:
            await parts[name].run(opts, table)
        except SystemExit as exc:  # no generated data
            if not parts[name].needs_data or chosen:
                raise
            opts.out(f"skipped: {exc}")
    opts.out("== all figures")
    table.print()
    opts.out(table.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
