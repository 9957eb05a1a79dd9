"""letters and their pages (written applications read by OCR)

Revision ID: 0005
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('letters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('clerk_id', sa.Integer(), nullable=False),
    sa.Column('batch', sa.String(length=40), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('content_type', sa.String(length=60), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('page_count', sa.Integer(), nullable=False),
    sa.Column('script', sa.String(length=16), nullable=True),
    sa.Column('language', sa.String(length=5), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('low_confidence', sa.Boolean(), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('suggested', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('ocr_seconds', sa.Float(), nullable=True),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['clerk_id'], ['users.id'], name=op.f('fk_letters_clerk_id_users')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_letters_complaint_id_complaints')),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_letters_message_id_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_letters'))
    )
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_letters_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_letters_clerk_id'), ['clerk_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_letters_complaint_id'), ['complaint_id'], unique=False)

    op.create_table('letter_pages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('letter_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('image_path', sa.String(length=500), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('skew_degrees', sa.Float(), nullable=False),
    sa.Column('script', sa.String(length=16), nullable=True),
    sa.Column('language', sa.String(length=5), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('words', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['letter_id'], ['letters.id'], name=op.f('fk_letter_pages_letter_id_letters')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_letter_pages')),
    sa.UniqueConstraint('letter_id', 'number', name=op.f('uq_letter_pages_letter_id_number'))
    )
    with op.batch_alter_table('letter_pages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_letter_pages_letter_id'), ['letter_id'], unique=False)


def downgrade() -> None:
    op.drop_table('letter_pages')
    op.drop_table('letters')
