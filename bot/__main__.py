"""Command line: python -m bot run | invite | migrate."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Field-reporting chatbot for communes")
    parser.add_argument("--config", help="path of config.toml (default: BOT_CONFIG or ./config.toml)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot (Telegram if TELEGRAM_BOT_TOKEN is set, else a terminal demo)")
    inv = sub.add_parser("invite", help="create an invite code; the code is the last line printed")
    inv.add_argument("--role", action="append", required=True, help="reporter, office, police, leader, admin, province")
    inv.add_argument("--village", action="append", default=[], help="village id or name (reporters)")
    inv.add_argument("--commune", help="commune id (may be left out when config has one commune)")
    inv.add_argument("--org", help="for reporters: village_head (default), womens_union, youth_union, ...")
    inv.add_argument("--name", default="", help="the person's name, used to greet them")
    sub.add_parser("migrate", help="bring the database schema up to date")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    from bot import cli

    if args.command == "run":
        return cli.run(config)
    if args.command == "invite":
        return asyncio.run(cli.invite(config, args))
    if args.command == "migrate":
        return asyncio.run(cli.migrate_only(config))
    return 2


if __name__ == "__main__":
    sys.exit(main())
