"""the status history of every case, the trafficking "needs support" answer, household links

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_status_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("backfilled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_status_history_case_id_cases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["by_id"], ["people.id"], name=op.f("fk_case_status_history_by_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_status_history")),
    )
    op.create_index("ix_case_status_history_case_at", "case_status_history", ["case_id", "at"])
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("needs_support", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("household_case_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f("fk_cases_household_case_id_cases"), "cases", ["household_case_id"], ["id"])
    # Back-filled from what is known: every case was received ("new") when it was created; its
    # current status, if another, was set no later than its last update. Intermediate steps are lost.
    op.execute(
        "INSERT INTO case_status_history (case_id, status, at, backfilled) "
        "SELECT id, 'new', created_at, true FROM cases"
    )
    op.execute(
        "INSERT INTO case_status_history (case_id, status, at, backfilled) "
        "SELECT id, status, updated_at, true FROM cases WHERE status <> 'new'"
    )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_cases_household_case_id_cases"), type_="foreignkey")
        batch_op.drop_column("household_case_id")
        batch_op.drop_column("needs_support")
    op.drop_index("ix_case_status_history_case_at", table_name="case_status_history")
    op.drop_table("case_status_history")
