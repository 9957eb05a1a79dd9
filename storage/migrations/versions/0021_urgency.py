"""urgency: how urgent each open complaint is, with the words behind it

Revision ID: 0021_urgency
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa


revision = '0021_urgency'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('complaint_urgency',
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('words', sa.JSON(), nullable=False),
    sa.Column('signals', sa.JSON(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('reopened', sa.Integer(), nullable=False),
    sa.Column('model_version', sa.String(length=80), nullable=False),
    sa.Column('tone', sa.String(length=8), nullable=True),
    sa.Column('tone_words', sa.JSON(), nullable=False),
    sa.Column('assessed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_complaint_urgency_complaint_id_complaints')),
    sa.PrimaryKeyConstraint('complaint_id', name=op.f('pk_complaint_urgency'))
    )
    op.create_index('ix_complaint_urgency_rank', 'complaint_urgency', ['urgent', 'score'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_complaint_urgency_rank', table_name='complaint_urgency')
    op.drop_table('complaint_urgency')
