"""one head again: the channels' and dashboards' branches (0003-0006) meet here

Revision ID: 0010
Revises: 0003, 0004, 0005, 0006
Create Date: 2026-11-23 14:30:00
"""

revision = "0010"
down_revision = ("0003", "0004", "0005", "0006")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
