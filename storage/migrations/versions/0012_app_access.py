"""citizens' app and open APIs: one-time codes, app sessions, Open311 client keys

Revision ID: 0012_app_access
Revises: 0011_mail_raw
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_app_access'
down_revision = '0011_mail_raw'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('one_time_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('requester_hash', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_one_time_codes_contact_id_contacts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_one_time_codes'))
    )
    op.create_index('ix_one_time_codes_address', 'one_time_codes', ['address_hash', 'created_at'], unique=False)
    op.create_index('ix_one_time_codes_requester', 'one_time_codes', ['requester_hash', 'created_at'], unique=False)
    op.create_table('app_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('code_contact_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_app_sessions_citizen_id_citizens')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_app_sessions_contact_id_contacts')),
    sa.ForeignKeyConstraint(['code_contact_id'], ['contacts.id'], name=op.f('fk_app_sessions_code_contact_id_contacts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_app_sessions_token_hash'))
    )
    op.create_index(op.f('ix_app_sessions_citizen_id'), 'app_sessions', ['citizen_id'], unique=False)
    op.create_table('open311_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_open311_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_open311_keys_key_hash'))
    )


def downgrade() -> None:
    op.drop_table('open311_keys')
    op.drop_index(op.f('ix_app_sessions_citizen_id'), table_name='app_sessions')
    op.drop_table('app_sessions')
    op.drop_index('ix_one_time_codes_requester', table_name='one_time_codes')
    op.drop_index('ix_one_time_codes_address', table_name='one_time_codes')
    op.drop_table('one_time_codes')
