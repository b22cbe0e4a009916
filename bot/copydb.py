"""`python -m bot copy-db --to postgresql+asyncpg://...`: move a SQLite deployment to PostgreSQL.

The target must be an empty database. It is brought to the current schema by the migrations,
then every table is copied in foreign-key order, in batches, in one transaction (all or nothing),
the PostgreSQL sequences are moved past the copied ids, and the row counts are compared.
The source is read in one transaction that holds SQLite's write lock: stop the bot first.
Encrypted columns are copied as they are: the bot on PostgreSQL needs the same key.
"""

from __future__ import annotations

from sqlalchemy import JSON, func, insert, inspect, select, text

from storage.db import head_revision, is_sqlite, make_engine, migrate, schema_version
from storage.models import Base

BATCH = 500


class CopyError(Exception):
    pass


def _tables():
    return list(Base.metadata.sorted_tables)  # parents before children


async def _counts(conn, tables) -> dict[str, int]:
    return {t.name: await conn.scalar(select(func.count()).select_from(t)) for t in tables}


def _groups(table, rows: list[dict]) -> dict[tuple, list[dict]]:
    """Rows split by which JSON columns are NULL: those are left out of the INSERT, so they stay
    SQL NULL instead of becoming the JSON value null."""
    json_cols = [c.name for c in table.columns if isinstance(c.type, JSON)]
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        nulls = tuple(c for c in json_cols if row.get(c) is None)
        groups.setdefault(nulls, []).append({k: v for k, v in row.items() if k not in nulls})
    return groups


async def copy_db(source_url: str, target_url: str, *, batch: int = BATCH, say=print) -> dict[str, int]:
    if not is_sqlite(source_url):
        raise CopyError("the source must be the SQLite database (this deployment's storage url)")
    if not target_url.startswith("postgresql"):
        raise CopyError("--to must be a postgresql+asyncpg://user:password@host/database url")
    source, target = make_engine(source_url), make_engine(target_url)
    tables = _tables()
    try:
        current, head = await schema_version(source), head_revision()
        if current != head:
            raise CopyError(f"the SQLite database is at schema {current}, this code at {head}: "
                            "run `python -m bot migrate` first")
        async with source.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        unknown = sorted(set(names) - {t.name for t in tables} - {"alembic_version"})
        if unknown:
            raise CopyError(f"tables this code does not know: {', '.join(unknown)}")

        say("Bringing the PostgreSQL database to the current schema ...")
        await migrate(target)
        async with target.connect() as conn:
            full = {k: v for k, v in (await _counts(conn, tables)).items() if v}
        if full:
            listed = ", ".join(f"{k} ({v})" for k, v in sorted(full.items())[:5])
            raise CopyError(f"the PostgreSQL database is not empty: {listed}. Use a new, empty database")

        async with source.connect() as src, target.begin() as dst:
            await src.begin()  # one snapshot of the source; the bot (if running) waits
            expected = await _counts(src, tables)
            for table in tables:
                order = list(table.primary_key.columns)
                done = 0
                while True:
                    rows = (await src.execute(select(table).order_by(*order).limit(batch).offset(done))).mappings().all()
                    if not rows:
                        break
                    for group in _groups(table, [dict(r) for r in rows]).values():
                        await dst.execute(insert(table), group)
                    done += len(rows)
                if done:
                    say(f"  {table.name}: {done}")
            for table in tables:
                column = table.autoincrement_column
                if column is None:
                    continue
                await dst.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                    f'COALESCE(MAX("{column.name}"), 1), MAX("{column.name}") IS NOT NULL) FROM "{table.name}"'))
            await src.rollback()

        async with target.connect() as conn:
            copied = await _counts(conn, tables)
        wrong = {k: (expected[k], copied.get(k)) for k in expected if expected[k] != copied.get(k)}
        if wrong:
            raise CopyError("row counts differ: " + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in wrong.items()))
        return copied
    finally:
        await source.dispose()
        await target.dispose()
