"""python -m bot export | figures: the office's files and figures from the command line.

Both read the database the bot uses (DATABASE_URL, else [storage] url) and take the periods /xuat
takes (2026-W47, 11/2026, 01/11/2026-15/11/2026; nothing: this month so far). `export` writes the
workbook /xuat sends (the report form first), or with --csv the outreach rows; --cases adds the
coded rows of the cases whose person subjected agreed to sharing, never any free text. The file is
written readable by its owner only (0600) and every export is in the audit log. `figures` prints
what /tuan prints for the commune.
"""

from __future__ import annotations

import getpass
import os
import sys

from core.clock import Clock
from core.config import Config

COMMANDS = ("export", "figures")
PERIOD_HELP = ("a week (2026-W47), a month (11/2026), a quarter ('quy 2'), a half year ('6 thang', "
               "'6 thang cuoi nam'), a year ('nam 2026'), the reporting year ('nam bao cao 2026') or a range "
               "(01/11/2026-15/11/2026); default: this month so far")


def add_parsers(sub) -> None:
    ex = sub.add_parser("export", help="write the Excel report form and data (or a CSV) of a period, as /xuat does")
    ex.add_argument("--commune", help="commune id (may be left out when config has one commune)")
    ex.add_argument("--period", default="", help=PERIOD_HELP)
    ex.add_argument("--out", required=True, help="the file to write (FILE.xlsx, or FILE.csv with --csv)")
    ex.add_argument("--csv", action="store_true", help="write the outreach rows (or, with --cases, the case rows) "
                                                       "as CSV instead of a workbook")
    ex.add_argument("--cases", action="store_true", help="include the coded rows of cases whose person subjected "
                                                         "agreed to sharing (recorded in the audit log)")
    ex.add_argument("--lang", choices=("vi", "en"), default="vi", help="language of the file (default: vi)")
    ex.add_argument("--demo", action="store_true", help="read the terminal demo's database (data/demo.db)")
    fg = sub.add_parser("figures", help="print the figures of a period, as /tuan prints them")
    fg.add_argument("--commune", help="commune id (may be left out when config has one commune)")
    fg.add_argument("--period", default="", help=PERIOD_HELP)
    fg.add_argument("--lang", choices=("vi", "en"), default="vi", help="language (default: vi)")
    fg.add_argument("--demo", action="store_true", help="read the terminal demo's database (data/demo.db)")


def main(config: Config, args, *, clock: Clock | None = None, out=None) -> int:
    import asyncio

    return asyncio.run(_run(config, args, clock or Clock(), out or sys.stdout))


def _commune(config: Config, commune_id: str | None):
    if commune_id is None:
        if len(config.communes) != 1:
            raise SystemExit("error: --commune is needed: the config has several communes "
                             f"({', '.join(c.id for c in config.communes)})")
        return config.communes[0]
    commune = config.commune(commune_id)
    if commune is None:
        raise SystemExit(f"error: --commune {commune_id!r} is not in the config")
    return commune


async def _run(config: Config, args, clock: Clock, out) -> int:
    from bot.digest_cli import database
    from handlers import features  # noqa: F401 - the forms and commands, so every label is known
    from handlers.office import periods
    from storage.crypto import KeyringError

    try:
        commune = _commune(config, args.commune)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    now = clock.now()
    today = now.astimezone(commune.tz).date()
    period = periods.parse(args.period, today, reporting_start=config.reporting_start)
    if period is None:
        print(f"error: --period {args.period!r}: expected {PERIOD_HELP}", file=sys.stderr)
        return 2
    if periods.not_started(period, today):
        print(f"error: --period {args.period!r}: {period.start.isoformat()} .. {period.end.isoformat()} has not "
              f"started yet (today is {today.isoformat()})", file=sys.stderr)
        return 2
    try:
        async with database(config) as (session, _keyring):
            if args.command == "figures":
                from handlers.office.commands import commune_text

                print(await commune_text(session, config, commune, period, now=now, lang=args.lang), file=out)
                return 0
            return await _export(session, commune, period, args, now=now, out=out)
    except KeyringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


async def _export(session, commune, period, args, *, now, out) -> int:
    from handlers.office import files
    from storage import stats
    from storage.cases import audit

    names = {(commune.id, v.id): v.name for v in commune.villages}
    rows = await stats.report_rows(session, [commune.id], period.start, period.end)
    others = await files.other_answers(session, [commune.id], period.start, period.end)
    case_rows = None
    if args.cases:
        since, until = period.utc_bounds(commune.tz)
        case_rows = await stats.consented_case_rows(session, commune.id, since, until)
    if args.csv:
        data = (files.cases_csv(args.lang, case_rows, names) if case_rows is not None
                else files.report_csv(args.lang, rows, names, others=others))
    else:
        figures = await stats.figures(session, commune, period, now=now)
        data = files.workbook(args.lang, rows, names, figures=figures, case_rows=case_rows, commune=commune,
                              others=others, now=now)
    try:
        _write_private(args.out, data)
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc}", file=sys.stderr)
        return 1
    audit(session, actor_id=None, channel="cli", action="export", now=now,
          detail=f"{period.start.isoformat()}..{period.end.isoformat()} reports={len(rows)} "
                 f"case_rows={len(case_rows or [])} by={_operator()} file={os.path.basename(args.out)}")
    what = f"{len(rows)} outreach report(s)"
    if case_rows is not None:
        what += f", {len(case_rows)} case row(s) (only cases whose person subjected agreed to sharing; no free text)"
    print(f"wrote {args.out} ({commune.id}, {period.start.isoformat()} .. {period.end.isoformat()}): {what}; "
          "recorded in the audit log", file=out)
    return 0


def _write_private(path: str, data: bytes) -> None:
    """Readable by its owner only, from the first byte (an existing file is narrowed before it is rewritten)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(data)
    finally:
        if fd != -1:
            os.close(fd)


def _operator() -> str:
    try:
        return getpass.getuser()[:32]
    except (OSError, KeyError, ImportError):
        return "unknown"
