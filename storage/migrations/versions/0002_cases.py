"""cases, their coded answers, encrypted texts, alerts and the audit log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 23:06:57.939694
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=32), nullable=False),
    sa.Column('commune_id', sa.String(length=64), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('details_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('details_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('police_routed', sa.Boolean(), nullable=False),
    sa.Column('village_id', sa.String(length=64), nullable=True),
    sa.Column('occurred_on', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=24), nullable=True),
    sa.Column('kind', sa.String(length=24), nullable=True),
    sa.Column('people_count', sa.Integer(), nullable=True),
    sa.Column('perpetrator_sex', sa.String(length=8), nullable=True),
    sa.Column('perpetrator_age', sa.String(length=8), nullable=True),
    sa.Column('relationship', sa.String(length=24), nullable=True),
    sa.Column('repeat', sa.String(length=8), nullable=True),
    sa.Column('fined_before', sa.String(length=8), nullable=True),
    sa.Column('perpetrator_counselled', sa.String(length=8), nullable=True),
    sa.Column('consent', sa.String(length=12), nullable=True),
    sa.ForeignKeyConstraint(['commune_id'], ['communes.id'], name=op.f('fk_cases_commune_id_communes')),
    sa.ForeignKeyConstraint(['reporter_id'], ['people.id'], name=op.f('fk_cases_reporter_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('commune_id', 'ref', name=op.f('uq_cases_commune_id'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_commune_created', ['commune_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_details_due_at'), ['details_due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_reporter_id'), ['reporter_id'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_by', sa.Integer(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by'], ['people.id'], name=op.f('fk_alerts_acknowledged_by_people')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_alerts_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recipient_id'], ['people.id'], name=op.f('fk_alerts_recipient_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_case_id'), ['case_id'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['people.id'], name=op.f('fk_audit_log_actor_id_people')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_audit_log_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_case_id'), ['case_id'], unique=False)

    op.create_table('case_codes',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_codes_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'field', 'code', name=op.f('pk_case_codes'))
    )
    op.create_table('case_people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('sex', sa.String(length=8), nullable=True),
    sa.Column('age_group', sa.String(length=8), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('pregnant_or_nursing', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_people_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_people'))
    )
    with op.batch_alter_table('case_people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_people_case_id'), ['case_id'], unique=False)

    op.create_table('case_texts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['people.id'], name=op.f('fk_case_texts_author_id_people')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_texts_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_texts'))
    )
    with op.batch_alter_table('case_texts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_texts_case_id'), ['case_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('case_texts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_texts_case_id'))

    op.drop_table('case_texts')
    with op.batch_alter_table('case_people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_people_case_id'))

    op.drop_table('case_people')
    op.drop_table('case_codes')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_case_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_case_id'))

    op.drop_table('alerts')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_reporter_id'))
        batch_op.drop_index(batch_op.f('ix_cases_details_due_at'))
        batch_op.drop_index('ix_cases_commune_created')

    op.drop_table('cases')

