"""The operator's subcommands: status, backup, restore, copy-db, zalo-template-test (see README,
Operations and Zalo template messages)."""

from __future__ import annotations

import asyncio
import sys

from core.config import Config

COMMANDS = ("status", "backup", "restore", "copy-db", "zalo-template-test")


def add_parsers(sub) -> None:
    st = sub.add_parser("status", help="is the bot working? exit 0 when all is well, 1 when something needs "
                                       "attention, 2 when there is no database (read-only)")
    st.add_argument("--json", action="store_true", help="print JSON for a monitor")
    bk = sub.add_parser("backup", help="a consistent copy of the SQLite database while the bot runs "
                                       "(never the key)")
    bk.add_argument("file", help="the backup file to write (must not exist)")
    rs = sub.add_parser("restore", help="put a backup in place of an EMPTY database (stop the bot first)")
    rs.add_argument("file", help="a file made by `backup`")
    cp = sub.add_parser("copy-db", help="copy this SQLite deployment into an empty PostgreSQL database")
    cp.add_argument("--to", required=True, help="postgresql+asyncpg://user:password@host/database")
    cp.add_argument("--from", dest="source", help="the SQLite url (default: this deployment's)")
    zt = sub.add_parser("zalo-template-test", help="send one Zalo template message ([zalo_template]) with test "
                                                   "fields (HS-TEST) and print Zalo's answer")
    zt.add_argument("--to", required=True, help="the phone number to send it to, e.g. 0912345678")


def main(config: Config, args) -> int:
    if args.command == "status":
        from bot.status import status_command

        return asyncio.run(status_command(config, as_json=args.json))
    if args.command in ("backup", "restore"):
        return _backup_or_restore(config, args)
    if args.command == "copy-db":
        return asyncio.run(_copy(config, args))
    if args.command == "zalo-template-test":
        return asyncio.run(template_test_command(config, args.to))
    return 2


async def template_test_command(config: Config, to: str, *, env=None, out=None, keyring=None,
                                storage_url: str | None = None) -> int:
    """The official account's token is the one the bot keeps in its database (or the environment's)."""
    import os

    from bot import zalo
    from bot.app import App
    from storage.crypto import KeyringError, keyring_for

    env = os.environ if env is None else env
    out = out or sys.stdout
    if not config.zalo_template.enabled or not zalo.oa_credentials(config, env):
        print("error: set [zalo_template] template_id and params in config.toml, and the official account's "
              "variables (ZALO_OA_APP_ID, …) in the environment", file=out)
        return 2
    if keyring is None:
        try:
            keyring = keyring_for(storage_url or config.storage_url)
        except KeyringError as exc:
            print(f"error: {exc}", file=out)
            return 2
    app = App(config, keyring=keyring, storage_url=storage_url)
    try:
        await app.prepare()
        zalo.add_channels(app, env)
        return await zalo.template_test(app, to, out)
    except zalo.ZaloSetupError as exc:
        print(f"error: {exc}", file=out)
        return 2
    finally:
        await app.engine.dispose()


def _backup_or_restore(config: Config, args) -> int:
    from bot.backup import BackupError, backup, restore
    from storage.crypto import default_key_file

    try:
        if args.command == "backup":
            counts = backup(config.storage_url, args.file)
            print(f"Backup written to {args.file}: {sum(counts.values())} rows in {len(counts)} tables "
                  f"(photos included).")
            print(f"The encryption key is NOT in it. Keep a copy of {_key_place(default_key_file)} somewhere "
                  "else: the backup cannot be read without it.")
        else:
            revision, counts = restore(config.storage_url, args.file)
            print(f"Restored {args.file}: {sum(counts.values())} rows in {len(counts)} tables, schema {revision}.")
            print("Start the bot with the same encryption key as before; it upgrades the schema itself.")
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _key_place(default_key_file) -> str:
    import os

    if os.environ.get("BOT_SECRET_KEY"):
        return "the key in BOT_SECRET_KEY"
    return str(os.environ.get("BOT_SECRET_KEY_FILE") or default_key_file(os.environ))


async def _copy(config: Config, args) -> int:
    from bot.copydb import CopyError, copy_db

    source = args.source or config.storage_url
    try:
        counts = await copy_db(source, args.to)
    except CopyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Copied {sum(counts.values())} rows in {len(counts)} tables; the row counts match.")
    print("Next: set DATABASE_URL to the PostgreSQL url and BOT_SECRET_KEY (or BOT_SECRET_KEY_FILE) to the key "
          "this deployment used (data/secret.key), then start the bot. See README, 'Moving to PostgreSQL'.")
    return 0
