"""hardening: session versions, token expiry and last use, simulated complaints

Revision ID: 0013h
Revises: 0012_app_access
"""
from alembic import op
import sqlalchemy as sa


revision = '0013h'
down_revision = '0012_app_access'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('token_last_used_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('simulated', sa.Boolean(), server_default=sa.false(), nullable=False))
    # Complaints filed from the simulator before this column existed.
    op.execute("UPDATE complaints SET simulated = true WHERE contact_id IN "
               "(SELECT id FROM contacts WHERE simulated = true)")


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_column('simulated')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
        batch_op.drop_column('token_last_used_at')
        batch_op.drop_column('token_expires_at')
