"""a digest's recipients queued in resumable batches, its messages stored once per kind of reader

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digest_runs") as batch:
        batch.add_column(sa.Column("queued_through", sa.Integer(), nullable=True))  # runs of earlier releases: all queued
    op.create_table(
        "digest_parts",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("shape", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["digest_runs.id"], name=op.f("fk_digest_parts_run_id_digest_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "shape", "seq", name=op.f("pk_digest_parts")),
    )


def downgrade() -> None:
    op.drop_table("digest_parts")
    with op.batch_alter_table("digest_runs") as batch:
        batch.drop_column("queued_through")
