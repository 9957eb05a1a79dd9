"""The web app for a production WSGI server (``gunicorn 'gateway.wsgi:app'``), which
``ikhtiyar web --workers N`` starts. Each server worker builds its own runtime (database
pool, queue connection); the schema is brought up to date once, by ``ikhtiyar web`` or
``ikhtiyar db upgrade``, before the workers start."""

from __future__ import annotations

from gateway.app import create_app
from gateway.cli import _runtime

# No schema check here: `ikhtiyar web` migrated before starting the server, and a server
# worker (re)started while the database is down must still come up and spool webhooks.
app = create_app(_runtime(check_schema=False))
