"""Every module that defines tables, imported so that Base.metadata knows them all
(Alembic's autogenerate, the test wiper). A module adding tables adds one line here."""

from storage import (  # noqa: F401
    app_access,  # one-time codes, app sessions, Open311 keys
    audit,  # audit log, dashboard indexes
    calls,  # IVR calls keyed by CallSid
    clusters,  # analytics: issue clusters and spike alerts
    dashboard_indexes,  # dashboards: covering and partial indexes
    letters,  # scanned letters and their pages
    mail,  # IMAP state, used answer links, email threads
    models,
    saved_filters,  # the dashboard queue's saved filters, per user
    urgency,  # analytics: how urgent each open complaint is
)
