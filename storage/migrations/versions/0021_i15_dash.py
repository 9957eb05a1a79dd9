"""Dashboard indexes: the open backlog (partial) and the period's flow (covering), so that
every dashboard query reads an index alone at a million complaints (storage/dashboard_indexes.py).

Revision ID: 0021_i15_dash
Revises: 0021_i15_case
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_i15_dash"
down_revision = "0021_i15_case"
branch_labels = None
depends_on = None

OPEN = "state IN ('submitted', 'assigned', 'in_progress', 'awaiting_info', 'resolved', 'reopened')"
REOPENED = "to_state = 'reopened'"
DIMS = ["department_code", "district_code", "category_code", "channel", "assigned_user_id", "simulated"]


def upgrade() -> None:
    op.create_index("ix_complaints_open", "complaints", ["department_code", "district_code"],
                    postgresql_include=["category_code", "channel", "assigned_user_id", "simulated",
                                        "state", "due_at", "created_at"],
                    postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
    op.create_index("ix_complaints_created_cover", "complaints", ["created_at"],
                    postgresql_include=[*DIMS, "first_response_at", "closed_at"])
    op.create_index("ix_complaints_scope_created", "complaints",
                    ["department_code", "district_code", "created_at"],
                    postgresql_include=["category_code", "channel", "assigned_user_id", "simulated",
                                        "first_response_at", "closed_at"])
    op.create_index("ix_complaints_due_cover", "complaints", ["due_at"],
                    postgresql_include=[*DIMS, "state", "resolved_at"])
    op.create_index("ix_complaints_resolved_cover", "complaints", ["resolved_at"], postgresql_include=DIMS)
    op.create_index("ix_complaints_closed_cover", "complaints", ["closed_at"], postgresql_include=DIMS)
    op.create_index("ix_complaint_events_reopened", "complaint_events", ["created_at"],
                    postgresql_include=["complaint_id"],
                    postgresql_where=sa.text(REOPENED), sqlite_where=sa.text(REOPENED))


def downgrade() -> None:
    op.drop_index("ix_complaint_events_reopened", table_name="complaint_events")
    op.drop_index("ix_complaints_closed_cover", table_name="complaints")
    op.drop_index("ix_complaints_resolved_cover", table_name="complaints")
    op.drop_index("ix_complaints_due_cover", table_name="complaints")
    op.drop_index("ix_complaints_scope_created", table_name="complaints")
    op.drop_index("ix_complaints_created_cover", table_name="complaints")
    op.drop_index("ix_complaints_open", table_name="complaints")
