"""analytics: staff subscriptions (spike alerts, weekly report) and when an alert was mailed

Revision ID: 0021_i14_analytics
Revises: 0021_urgency
"""
from alembic import op
import sqlalchemy as sa


revision = '0021_i14_analytics'
down_revision = '0021_urgency'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('spike_alerts', sa.Boolean(), nullable=False),
    sa.Column('weekly_report', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_subscriptions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_subscriptions')),
    sa.UniqueConstraint('user_id', name=op.f('uq_staff_subscriptions_user_id'))
    )
    with op.batch_alter_table('spike_alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('spike_alerts', schema=None) as batch_op:
        batch_op.drop_column('notified_at')
    op.drop_table('staff_subscriptions')
