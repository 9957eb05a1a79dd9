"""analytics: issue clusters of likely duplicate complaints, spike alerts

Revision ID: 0020
Revises: 0016_outbox_key
"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0016_outbox_key'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('issue_clusters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('district_code', sa.String(length=8), nullable=True),
    sa.Column('category_code', sa.String(length=40), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('model_version', sa.String(length=40), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('reason', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['category_code'], ['categories.code'], name=op.f('fk_issue_clusters_category_code_categories')),
    sa.ForeignKeyConstraint(['district_code'], ['districts.code'], name=op.f('fk_issue_clusters_district_code_districts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issue_clusters'))
    )
    with op.batch_alter_table('issue_clusters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issue_clusters_district_code'), ['district_code'], unique=False)

    op.create_table('cluster_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cluster_id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('tracking_number', sa.String(length=16), nullable=False),
    sa.Column('similarity', sa.Float(), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cluster_id'], ['issue_clusters.id'], name=op.f('fk_cluster_members_cluster_id_issue_clusters')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_cluster_members_complaint_id_complaints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cluster_members')),
    sa.UniqueConstraint('complaint_id', name=op.f('uq_cluster_members_complaint_id'))
    )
    with op.batch_alter_table('cluster_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cluster_members_cluster_id'), ['cluster_id'], unique=False)

    op.create_table('spike_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('district_code', sa.String(length=8), nullable=False),
    sa.Column('category_code', sa.String(length=40), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('baseline', sa.Float(), nullable=False),
    sa.Column('ratio', sa.Float(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('model_version', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['category_code'], ['categories.code'], name=op.f('fk_spike_alerts_category_code_categories')),
    sa.ForeignKeyConstraint(['district_code'], ['districts.code'], name=op.f('fk_spike_alerts_district_code_districts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spike_alerts')),
    sa.UniqueConstraint('day', 'district_code', 'category_code', name=op.f('uq_spike_alerts_day_district_code_category_code'))
    )
    with op.batch_alter_table('spike_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spike_alerts_day'), ['day'], unique=False)


def downgrade() -> None:
    op.drop_table('spike_alerts')
    op.drop_table('cluster_members')
    op.drop_table('issue_clusters')
