"""The app's outbound: a message to a complaint filed in the app is read on the citizen's
timeline there (``GET /api/v1/me/complaints/<number>``), so it is delivered once stored.
One-time codes never take this path: they go to the SMS, WhatsApp or email address the
citizen signs in with."""

from __future__ import annotations

import uuid

from channels.delivery import Delivered, Outgoing


def send(message: Outgoing) -> Delivered:
    return Delivered(provider_id=f"app-{uuid.uuid4().hex}", status="delivered")
