"""Every module that defines tables, imported so that Base.metadata knows them all
(Alembic's autogenerate, the test wiper). A module adding tables adds one line here."""

from storage import models  # noqa: F401
