"""`python -m bot backup FILE` and `python -m bot restore FILE` for SQLite deployments.

The backup uses SQLite's online backup API in one step: a consistent snapshot taken while the bot
keeps running (in WAL mode readers do not block the writer). Photos are rows, so they come along.
The encryption key is NOT in the database and never in a backup: keep data/secret.key (or
BOT_SECRET_KEY) somewhere else, so a stolen backup cannot be read and a lost key is not lost
together with the data.

PostgreSQL deployments use pg_dump / pg_restore; both commands print how.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from bot.status import sqlite_path
from storage.db import head_revision, is_sqlite

# Filled by the bot from config.toml at every start; a restore target holding only these is empty.
CONFIG_TABLES = ("alembic_version", "communes", "villages")


class BackupError(Exception):
    """Something the operator must fix; the message says what."""


def _tables(db: sqlite3.Connection) -> list[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    return [r[0] for r in rows]


def row_counts(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(path, timeout=10)) as db:
        return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in _tables(db)}


def _revision(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def _pg_hint(url: str, command: str, file: str) -> str:
    u = make_url(url)  # the password stays out: it is not for the screen or the shell history
    dsn = URL.create("postgresql", username=u.username, host=u.host, port=u.port,
                     database=u.database).render_as_string(hide_password=False)
    if command == "backup":
        return (f"This deployment uses PostgreSQL: back it up with pg_dump, e.g.\n"
                f"  pg_dump -Fc -f {file} \"{dsn}\"\n"
                "(the password from PGPASSWORD or ~/.pgpass). The key is not in the dump: keep it apart.")
    return (f"This deployment uses PostgreSQL: restore a pg_dump file into an empty database with\n"
            f"  pg_restore --no-owner -d \"{dsn}\" {file}\n"
            "then start the bot (it upgrades the schema itself).")


def backup(url: str, file: str | os.PathLike) -> dict[str, int]:
    """Copy the live SQLite database to `file` (which must not exist). Returns its row counts."""
    if not is_sqlite(url):
        raise BackupError(_pg_hint(url, "backup", str(file)))
    source = sqlite_path(url)
    if source is None or not source.exists():
        raise BackupError(f"no database at {source}")
    dest = Path(file)
    if dest.exists():
        raise BackupError(f"{dest} exists already: choose a new name (backups are never overwritten)")
    if dest.suffix == ".key" or dest.resolve() == source.resolve():
        raise BackupError(f"{dest}: not a place for a backup")
    part = dest.with_name(dest.name + ".part")
    part.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(source, timeout=30)) as src, closing(sqlite3.connect(part)) as dst:
            src.execute("PRAGMA busy_timeout=30000")
            src.backup(dst)  # pages=-1: in one step, so one consistent snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupError("the copy does not check out; the database may be damaged")
        os.chmod(part, 0o600)  # personal data: readable by the bot's user only
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return row_counts(dest)


def _is_empty(path: Path) -> tuple[bool, str]:
    if not path.exists() or path.stat().st_size == 0:
        return True, ""
    try:
        counts = row_counts(path)
    except sqlite3.DatabaseError as exc:
        return False, f"{path} is not a SQLite database ({exc})"
    full = {t: n for t, n in counts.items() if n and t not in CONFIG_TABLES}
    if full:
        listed = ", ".join(f"{t} ({n})" for t, n in sorted(full.items())[:5])
        return False, f"{path} already holds data: {listed}. Restore only into an empty database"
    return True, ""


def restore(url: str, file: str | os.PathLike) -> tuple[str | None, dict[str, int]]:
    """Put a backup in place of an empty database. No migration here: the bot does it at start."""
    if not is_sqlite(url):
        raise BackupError(_pg_hint(url, "restore", str(file)))
    backup_file = Path(file)
    if not backup_file.exists():
        raise BackupError(f"no backup at {backup_file}")
    try:
        with closing(sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)) as db:
            ok = db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            revision = _revision(db)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{backup_file} is not a SQLite backup ({exc})") from exc
    if not ok or revision is None:
        raise BackupError(f"{backup_file} is not a backup of this bot, or it is damaged")
    if revision > head_revision():
        raise BackupError(f"the backup's schema ({revision}) is newer than this code ({head_revision()}): "
                          "restore it with the version of the bot that made it")
    target = sqlite_path(url)
    if target is None:
        raise BackupError("the storage url names no database file")
    empty, why = _is_empty(target)
    if not empty:
        raise BackupError(why)
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):  # an empty database the bot made: replaced whole
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    with closing(sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)) as src, \
            closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    os.chmod(target, 0o600)
    return revision, row_counts(target)
