"""outbox: an idempotency key per outbound message (exactly-once replies)

Revision ID: 0016_outbox_key
Revises: 0013_private_messages
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_outbox_key'
down_revision = '0013_private_messages'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=80), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_messages_idempotency_key'), ['idempotency_key'])


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_messages_idempotency_key'), type_='unique')
        batch_op.drop_column('idempotency_key')
