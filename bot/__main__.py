"""Command line: python -m bot run | invite | migrate | digest | export | figures | ..."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from bot import ops_cli, report_cli
from bot.demo import ROLES as DEMO_ROLES
from core.config import ConfigError, load_config


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser (tests/test_docs.py checks the subcommands the docs name)."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="Field-reporting chatbot for communes")
    parser.add_argument("--config", help="path of config.toml (default: BOT_CONFIG or ./config.toml)")
    parser.add_argument("--log-format", choices=("text", "json"), help="log lines as text (default) or JSON")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot (Telegram if TELEGRAM_BOT_TOKEN is set, else a terminal demo)")
    run.add_argument("--demo-role", choices=DEMO_ROLES, help="the terminal demo only: open it as this role "
                     "(default: reporter)")
    inv = sub.add_parser("invite", help="create an invite code; the code is the last line printed")
    inv.add_argument("--role", action="append", required=True, help="reporter, office, police, leader, admin, province")
    inv.add_argument("--village", action="append", default=[], help="village id or name (reporters)")
    inv.add_argument("--commune", help="commune id (may be left out when config has one commune)")
    inv.add_argument("--org", help="for reporters: village_head (default), womens_union, youth_union, ...")
    inv.add_argument("--name", default="", help="the person's name, used to greet them")
    sub.add_parser("migrate", help="bring the database schema up to date")
    dig = sub.add_parser("digest", help="the weekly digest: print it, or queue it to its recipients now")
    dig.add_argument("--commune", help="commune id (default: the first in the config)")
    dig.add_argument("--week", help="2026-W48, or last (default: the current week so far)")
    dig.add_argument("--print", action="store_true", help="write the text to stdout and send nothing")
    dig.add_argument("--demo", action="store_true", help="read the terminal demo's database (data/demo.db)")
    ops_cli.add_parsers(sub)
    report_cli.add_parsers(sub)
    purge = sub.add_parser("purge", help="erase the free text of cases closed longer ago than [retention]")
    purge.add_argument("--dry-run", action="store_true", help="only show what would be erased")
    sub.add_parser("rotate-key", help="put a new encryption key first, re-encrypt everything, retire the old key")
    gd = sub.add_parser("guide", help="write the one-page reporter guide (A4 PDF, in Vietnamese) for a commune")
    gd.add_argument("--commune", help="commune id (may be left out when config has one commune)")
    gd.add_argument("--out", required=True, help="the PDF file to write")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.log_format:
        os.environ["BOT_LOG_FORMAT"] = args.log_format  # read by bot.logs.setup_logging
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "demo", False):
        from bot import demo

        if not demo.path().exists():
            print(f"error: no demo database at {demo.path()} yet: run `python3 tasks.py run` in a terminal first",
                  file=sys.stderr)
            return 2
        config = demo.config_for(config)
    from bot import cli

    if args.command == "run":
        return cli.run(config, demo_role=args.demo_role)
    if args.command == "invite":
        return asyncio.run(cli.invite(config, args))
    if args.command == "purge":
        return asyncio.run(cli.purge(config, dry_run=args.dry_run))
    if args.command == "rotate-key":
        return asyncio.run(cli.rotate_key(config))
    if args.command in ops_cli.COMMANDS:
        return ops_cli.main(config, args)
    if args.command in report_cli.COMMANDS:
        return report_cli.main(config, args)
    if args.command == "migrate":
        return asyncio.run(cli.migrate_only(config))
    if args.command == "digest":
        from bot.digest_cli import digest

        return asyncio.run(digest(config, args))
    if args.command == "guide":
        from bot import guide

        return guide.main(config, args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
