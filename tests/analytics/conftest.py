"""The dashboard's staff and app fixtures, for the pages of clusters, alerts and reports."""

from tests.dashboard.conftest import app, staff  # noqa: F401 (fixtures)
