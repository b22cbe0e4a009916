"""the inbox indexed by conversation and arrival, so the flood count reads one minute of a person's
messages instead of all they ever sent

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.create_index("ix_inbox_conv_received", ["conv_key", "received_at"], unique=False)
        batch.drop_index("ix_inbox_conv_key")  # its leading column serves every query the old one did


def downgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.create_index("ix_inbox_conv_key", ["conv_key"], unique=False)
        batch.drop_index("ix_inbox_conv_received")
