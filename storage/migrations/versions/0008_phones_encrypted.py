"""people's phone numbers encrypted at rest

Revision ID: 0008
Revises: 0007

The clear `people.phone` becomes `people.phone_enc`, encrypted with the deployment's key like case
text. The numbers already stored are moved in this migration, so it needs the keyring:
storage/db.py migrate(engine, keyring=...) hands it over (every `python -m bot` command that
migrates does). A database with clear numbers and no keyring is refused, never half moved.
Nothing looks a person up by phone, so there is no hash column.
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

people = sa.table("people", sa.column("id", sa.Integer), sa.column("phone", sa.String),
                  sa.column("phone_enc", sa.LargeBinary))


def _keyring(why: str):
    keyring = context.config.attributes.get("keyring")
    if keyring is None:
        raise RuntimeError(f"migration 0008 {why} and needs the encryption key: run it through "
                           "`python -m bot migrate` (or start the bot), which read the key")
    return keyring


def _drop(column: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Natively (SQLite 3.35+): a batch copy of `people` would drop the table every other one
        # refers to. secure_delete, on for the bot's connections, zeroes the space the rows leave.
        import sqlite3

        if sqlite3.sqlite_version_info >= (3, 35):
            op.execute(f'ALTER TABLE people DROP COLUMN "{column}"')
        # Older SQLite: the column stays, every value NULL (set below); nothing maps it any more.
        return
    op.drop_column("people", column)


def upgrade() -> None:
    op.add_column("people", sa.Column("phone_enc", sa.LargeBinary(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(people.c.id, people.c.phone).where(people.c.phone.is_not(None))).all()
    rows = [(person_id, phone.strip()) for person_id, phone in rows]
    if any(phone for _, phone in rows):
        keyring = _keyring("encrypts the phone numbers already stored")
        for person_id, phone in rows:
            bind.execute(people.update().where(people.c.id == person_id).values(
                phone_enc=keyring.encrypt_text(phone) if phone else None, phone=None))
    elif rows:
        bind.execute(people.update().values(phone=None))
    _drop("phone")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        columns = {c["name"] for c in sa.inspect(bind).get_columns("people")}
        if "phone" not in columns:
            op.add_column("people", sa.Column("phone", sa.String(length=32), nullable=True))
    else:
        op.add_column("people", sa.Column("phone", sa.String(length=32), nullable=True))
    rows = bind.execute(sa.select(people.c.id, people.c.phone_enc).where(people.c.phone_enc.is_not(None))).all()
    if rows:
        keyring = _keyring("decrypts the phone numbers for the older code")
        for person_id, token in rows:
            bind.execute(people.update().where(people.c.id == person_id).values(phone=keyring.decrypt_text(token)))
    _drop("phone_enc")
