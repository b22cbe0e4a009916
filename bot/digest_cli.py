"""python -m bot digest: the weekly digest from the command line.

Without --week: the current week so far. --print writes the text to stdout and sends nothing;
otherwise the digest is queued to its recipients for the running bot to deliver. A digest sent
from here never claims the scheduled run, so Monday's still goes out.
"""

from __future__ import annotations

import sys
from contextlib import asynccontextmanager

from core.clock import Clock
from core.config import Config
from storage.crypto import KeyringError, keyring_for
from storage.db import make_engine, migrate, session_factory
from storage.people import sync_communes


@asynccontextmanager
async def database(config: Config):
    """The bot's database as a command needs it: the deployment key, the schema up to date, the
    communes of config.toml, one transaction. Raises KeyringError when the key cannot be had."""
    keyring = keyring_for(config.storage_url)
    engine = make_engine(config.storage_url)
    try:
        await migrate(engine, keyring)
        async with session_factory(engine)() as session, session.begin():
            await sync_communes(session, config.communes)
            yield session, keyring
    finally:
        await engine.dispose()


async def digest(config: Config, args, *, clock: Clock | None = None, out=None) -> int:
    from handlers import features  # noqa: F401 - the digest's modules
    from handlers.context import Outgoing, Services
    from handlers.office import delivery, periods, render
    from storage import stats

    out = out or sys.stdout
    commune = config.commune(args.commune) if args.commune else config.communes[0]
    if commune is None:
        print(f"error: --commune {args.commune!r} is not in the config", file=sys.stderr)
        return 2
    clock = clock or Clock()
    now = clock.now()
    today = now.astimezone(commune.tz).date()
    text = (args.week or "").strip()
    period = periods.parse(text, today, default="week")
    if period is None or period.kind != "week":
        print(f"error: --week {args.week!r}: expected 2026-W48 or last", file=sys.stderr)
        return 2
    try:
        async with database(config) as (session, keyring):
            if args.print:
                figures = await stats.figures(session, commune, period, now=now)
                print(render.digest_text("vi", figures, commune.name, today=today), file=out)
                return 0
            services = Services(config=config, clock=clock, keyring=keyring)
            said = Outgoing(services=services, session=session, at=now)
            reached = await delivery.queue_digest(said, commune, period)
            await said.send_queued()
    except KeyringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"digest {period.week_key} of {commune.id} queued for {reached} recipient(s); "
          "the running bot delivers it", file=out)
    return 0
