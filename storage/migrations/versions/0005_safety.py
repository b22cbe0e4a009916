"""alert acknowledgement, escalation and withdrawal requests

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = (
    ("ack_by", sa.Integer()),
    ("ack_at", sa.DateTime(timezone=True)),
    ("escalation_step", sa.Integer()),
    ("next_escalation_at", sa.DateTime(timezone=True)),
    ("reach_checked_at", sa.DateTime(timezone=True)),
    ("withdrawal_requested_at", sa.DateTime(timezone=True)),
    ("closed_at", sa.DateTime(timezone=True)),
    ("text_purged_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for name, kind in COLUMNS:
            if name == "escalation_step":
                batch_op.add_column(sa.Column(name, kind, nullable=False, server_default="0"))
            else:
                batch_op.add_column(sa.Column(name, kind, nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_cases_ack_by_people"), "people", ["ack_by"], ["id"])
        batch_op.create_index(batch_op.f("ix_cases_next_escalation_at"), ["next_escalation_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_next_escalation_at"))
        batch_op.drop_constraint(batch_op.f("fk_cases_ack_by_people"), type_="foreignkey")
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
