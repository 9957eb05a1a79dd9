"""Indexes that let the dashboards' queries read an index alone (PostgreSQL index-only
scans) at a million complaints: the backlog from a small partial index of the open ones, the
period's flow from indexes by time that carry every column the figures group or filter by
(migration 0021_i15_dash). SQLite builds them without the INCLUDE columns."""

from __future__ import annotations

from sqlalchemy import Index, text

from storage.models import OPEN_STATES, Complaint, ComplaintEvent

_OPEN = "state IN (" + ", ".join(f"'{s}'" for s in OPEN_STATES) + ")"
_REOPENED = "to_state = 'reopened'"
# What the figures group by or filter on, carried in the index so the table is not read.
_DIMS = ["department_code", "district_code", "category_code", "channel", "assigned_user_id", "simulated"]

# The backlog: a few percent of all complaints, whatever their age.
Index("ix_complaints_open", Complaint.department_code, Complaint.district_code,
      postgresql_include=["category_code", "channel", "assigned_user_id", "simulated", "state",
                          "due_at", "created_at"],
      postgresql_where=text(_OPEN), sqlite_where=text(_OPEN))
# Received in a period, and the medians of those received (province-wide).
Index("ix_complaints_created_cover", Complaint.created_at,
      postgresql_include=[*_DIMS, "first_response_at", "closed_at"])
# The same for one department or one department's district (heads and officers).
Index("ix_complaints_scope_created", Complaint.department_code, Complaint.district_code,
      Complaint.created_at,
      postgresql_include=["category_code", "channel", "assigned_user_id", "simulated",
                          "first_response_at", "closed_at"])
# Due in a period (SLA compliance).
Index("ix_complaints_due_cover", Complaint.due_at,
      postgresql_include=[*_DIMS, "state", "resolved_at"])
# Resolved, closed in a period.
Index("ix_complaints_resolved_cover", Complaint.resolved_at, postgresql_include=_DIMS)
Index("ix_complaints_closed_cover", Complaint.closed_at, postgresql_include=_DIMS)
# Reopened in a period: the few rejections.
Index("ix_complaint_events_reopened", ComplaintEvent.created_at, postgresql_include=["complaint_id"],
      postgresql_where=text(_REOPENED), sqlite_where=text(_REOPENED))
