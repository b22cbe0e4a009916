"""The subcommands behind python -m bot."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import replace

from bot.app import App, freeze_heap
from bot.logs import setup_logging
from core.config import Config
from handlers import parsing
from storage.crypto import KeyringError, keyring_for
from storage.db import make_engine, migrate, session_factory
from storage.invites import create_invite
from storage.people import ORGS, ROLES, sync_communes

log = logging.getLogger("bot")



def _keyring(url: str):
    try:
        return keyring_for(url)
    except KeyringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


async def migrate_only(config: Config) -> int:
    keyring = _keyring(config.storage_url)  # migration 0008 encrypts the phone numbers stored in clear
    engine = make_engine(config.storage_url)
    await migrate(engine, keyring)
    async with session_factory(engine)() as session, session.begin():
        await sync_communes(session, config.communes)
    await engine.dispose()
    print("schema is up to date")
    return 0


def _resolve_villages(config: Config, commune_id: str | None, typed: list[str]) -> list[str]:
    commune = config.commune(commune_id)
    if commune is None:
        return []
    out = []
    for value in typed:
        village = commune.village(value)
        if village is None:
            hit = parsing.parse_choices(value, [v.name for v in commune.villages], multi=False)
            if hit is None:
                raise SystemExit(f"error: --village {value!r} is not a village of {commune.id}")
            village = commune.villages[hit[0]]
        out.append(village.id)
    return out


async def invite(config: Config, args) -> int:
    roles = sorted(set(args.role))
    bad = [r for r in roles if r not in ROLES]
    if bad:
        print(f"error: unknown role {bad[0]!r}; roles are {', '.join(ROLES)}", file=sys.stderr)
        return 2
    org = args.org
    if org is not None and org not in ORGS:
        print(f"error: unknown --org {org!r}; choose from {', '.join(ORGS)}", file=sys.stderr)
        return 2
    if "reporter" in roles and org is None:
        org = "village_head"
    commune_id = args.commune
    if roles == ["province"]:
        commune_id = None
    elif commune_id is None:
        if len(config.communes) != 1:
            print("error: --commune is needed: the config has several communes", file=sys.stderr)
            return 2
        commune_id = config.communes[0].id
    elif config.commune(commune_id) is None:
        print(f"error: --commune {commune_id!r} is not in the config", file=sys.stderr)
        return 2
    try:
        villages = _resolve_villages(config, commune_id, args.village)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    if "reporter" in roles and not villages:
        print("note: a reporter without --village can only report for the whole commune", file=sys.stderr)
    keyring = _keyring(config.storage_url)
    engine = make_engine(config.storage_url)
    await migrate(engine, keyring)
    sessions = session_factory(engine)
    from core.clock import Clock

    async with sessions() as session, session.begin():
        await sync_communes(session, config.communes)
        code = await create_invite(
            session, now=Clock().now(), days=config.invite_days, commune_id=commune_id, roles=roles,
            villages=villages, org=org, name=args.name,
        )
    await engine.dispose()
    print(f"Invite for {', '.join(roles)}" + (f" in {commune_id}" if commune_id else "") + f", valid {config.invite_days} days.")
    print("The person types /start CODE in the chat with the bot, on any channel (on Telegram the link "
          "t.me/<bot>?start=CODE does the same).")
    print(code)
    return 0


def run(config: Config, *, demo_role: str | None = None) -> int:
    from bot import zalo

    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    setup_logging(extra_secrets=zalo.secret_values(config, os.environ))
    if token or zalo.configured(config, os.environ):
        if demo_role:
            print("error: --demo-role opens the terminal demo's database only; a messenger token is set, so this "
                  "would be the real bot: run without --demo-role (or unset the token for the demo)", file=sys.stderr)
            return 2
        return asyncio.run(_serve(config, token))
    if sys.stdin.isatty():
        return asyncio.run(_demo(config, demo_role or "reporter"))
    print("no channel configured: set TELEGRAM_BOT_TOKEN or ZALO_BOT_TOKEN / ZALO_OA_APP_ID (see README), "
          "or run in a terminal for the demo", file=sys.stderr)
    return 2


async def _until_signal(extra: asyncio.Event | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows
            pass
    waiters = [asyncio.create_task(stop.wait())]
    if extra is not None:
        waiters.append(asyncio.create_task(extra.wait()))
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for w in waiters:
        w.cancel()


async def _serve(config: Config, token: str) -> int:
    from bot.channels.telegram import TelegramChannel

    keyring = _keyring(config.storage_url)
    app = App(config, keyring=keyring)
    secret = os.environ.get("TELEGRAM_WEBHOOK_SECRET", "")
    if token and config.telegram.mode == "webhook" and not secret:
        print("error: webhook mode needs TELEGRAM_WEBHOOK_SECRET", file=sys.stderr)
        return 2
    running = []
    if token:
        app.add_channel(TelegramChannel(token, config.telegram, app.inbox, webhook_secret=secret,
                                        public_url=config.http.public_url))
        running.append(f"telegram ({config.telegram.mode})")
    from bot import zalo

    try:
        running += zalo.add_channels(app, os.environ)
    except zalo.ZaloSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    await app.start()
    freeze_heap()
    log.info("bot running: %s", ", ".join(running))
    try:
        await _until_signal()
    finally:
        await app.stop()
    return 0


async def _demo(config: Config, role: str) -> int:
    from bot import demo
    from bot.channels.terminal import TerminalChannel

    logging.getLogger().setLevel(logging.WARNING)
    demo.path().parent.mkdir(parents=True, exist_ok=True)
    demo_config = demo.config_for(config)
    demo_config = replace(demo_config, http=replace(demo_config.http, port=_free_port(demo_config.http.port)))
    terminal = TerminalChannel(None, user=demo.person(role).chat, labels=demo.labels(), mailbox=demo.mailbox())
    app = App(demo_config, keyring=keyring_for(demo_config.storage_url), fallback_sender=terminal)
    terminal.inbox = app.inbox
    app.add_channel(terminal)
    await app.prepare()
    if not await demo.is_demo_database(app):
        await app.stop()
        print(f"error: {demo.path()} holds people on real messengers: it is not a demo database, and "
              "--demo-role never opens a real one", file=sys.stderr)
        return 2
    await demo.seed(app)
    print(demo.banner(demo_config, role), flush=True)
    await app.start()  # with the HTTP server on loopback, so /xuat's links open
    logging.getLogger().setLevel(logging.ERROR)  # from here on the screen is the chat's (a refused command is logged)
    terminal.show_kept()
    await terminal.greet()
    try:
        await _until_signal(terminal.closed)
    finally:
        await app.stop()
    return 0


def _free_port(preferred: int) -> int:
    """The configured port if nothing listens there (a real bot may), else one the system picks."""
    import socket

    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    return preferred


async def purge(config: Config, *, dry_run: bool) -> int:
    from core.clock import Clock
    from storage import retention
    from storage.db import head_revision, schema_version

    engine = make_engine(config.storage_url)
    if not dry_run:
        await migrate(engine, _keyring(config.storage_url))
    elif await schema_version(engine) != head_revision():
        await engine.dispose()
        print("the database schema is not up to date: run `python -m bot migrate` first", file=sys.stderr)
        return 1
    years = config.safety.case_text_years
    async with session_factory(engine)() as session, session.begin():
        if dry_run:
            refs = [c.ref for c in await retention.due_for_purge(session, Clock().now(), years)]
        else:
            refs = await retention.purge(session, Clock().now(), years)
    await engine.dispose()
    verb = "would erase" if dry_run else "erased"
    print(f"{verb} the free text of {len(refs)} case(s) closed more than {years} years ago" + (":" if refs else "."))
    for ref in refs:
        print(f"  {ref}")
    return 0


async def rotate_key(config: Config) -> int:
    from storage import rotation

    keyring = _keyring(config.storage_url)
    try:
        rotation.add_new_key(keyring)
    except KeyringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(config.storage_url)
    await migrate(engine, keyring)
    sessions = session_factory(engine)
    changed = await rotation.reencrypt(sessions, keyring)
    print(f"new key in {keyring.path}; re-encrypted {changed} row(s)")
    for _ in range(5):
        if await rotation.retire_old_keys(sessions, keyring):
            print("old key retired: every row reads with the new key")
            break
    else:
        print("rows are still being written with the old key; run rotate-key again later", file=sys.stderr)
        await engine.dispose()
        return 1
    await engine.dispose()
    return 0
