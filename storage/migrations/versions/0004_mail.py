"""mail: IMAP poller state and used one-click answer links

Revision ID: 0004
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_imap_state",
        sa.Column("mailbox", sa.String(length=255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mailbox", name=op.f("pk_mail_imap_state")),
    )
    op.create_table(
        "mail_used_links",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaints.id"],
                                name=op.f("fk_mail_used_links_complaint_id_complaints")),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"],
                                name=op.f("fk_mail_used_links_message_id_messages")),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_mail_used_links")),
    )
    with op.batch_alter_table("mail_used_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_used_links_complaint_id"), ["complaint_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mail_used_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_used_links_complaint_id"))
    op.drop_table("mail_used_links")
    op.drop_table("mail_imap_state")
