"""mail: the raw inbound mail as encrypted bytes, and the automatic answers' budgets

Revision ID: 0011_mail_raw
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa


revision = "0011_mail_raw"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_raw",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"],
                                name=op.f("fk_mail_raw_message_id_messages")),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_mail_raw")),
    )
    op.create_table(
        "mail_answer_budget",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_mail_answer_budget")),
    )


def downgrade() -> None:
    op.drop_table("mail_answer_budget")
    op.drop_table("mail_raw")
