"""dashboards: audit log, confidential complaints, first response time, dashboard indexes

Revision ID: 0006
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=120), nullable=True),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_audit_log_complaint_id_complaints')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audit_log_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_action_subject', ['action', 'subject', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_complaint_id'), ['complaint_id'], unique=False)

    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confidential', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_complaints_due_at', ['due_at'], unique=False)
        batch_op.create_index('ix_complaints_department_created', ['department_code', 'created_at'], unique=False)
        batch_op.create_index('ix_complaints_district_created', ['district_code', 'created_at'], unique=False)
        batch_op.create_index('ix_complaints_updated_at', ['updated_at'], unique=False)

    with op.batch_alter_table('complaint_events', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_events_kind', ['kind', 'complaint_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('complaint_events', schema=None) as batch_op:
        batch_op.drop_index('ix_complaint_events_kind')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_updated_at')
        batch_op.drop_index('ix_complaints_district_created')
        batch_op.drop_index('ix_complaints_department_created')
        batch_op.drop_index('ix_complaints_due_at')
        batch_op.drop_column('first_response_at')
        batch_op.drop_column('confidential')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_complaint_id'))
        batch_op.drop_index('ix_audit_log_action_subject')
    op.drop_table('audit_log')
