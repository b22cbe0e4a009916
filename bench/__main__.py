"""python -m bench generate [--db PATH|URL] [--communes N] [--years 5] ...  |  python -m bench [--db PATH|URL]"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bench.world import db_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--db", help="database URL or SQLite file (default data/bench.db)")
    sub = parser.add_subparsers(dest="command")
    gen = sub.add_parser("generate", help="make a commune (or a province) with years of reports and cases")
    gen.add_argument("--db", dest="gen_db", help="database URL or SQLite file (default data/bench.db)")
    gen.add_argument("--communes", type=int, default=1, help="1: xã Xuân Dương; more: a province")
    gen.add_argument("--villages", type=int, default=22)
    gen.add_argument("--years", type=int, default=5)
    gen.add_argument("--per-week", type=float, default=1.5, help="outreach sessions per village and week")
    gen.add_argument("--cases-per-year", type=int, default=60, help="per commune")
    gen.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "generate":
        from bench.generate import generate

        asyncio.run(generate(db_url(args.gen_db or args.db), communes=args.communes, villages=args.villages,
                             years=args.years, per_week=args.per_week, cases_per_year=args.cases_per_year,
                             seed=args.seed))
        return 0
    from bench.run import run

    return asyncio.run(run(db_url(args.db)))


if __name__ == "__main__":
    sys.exit(main())
