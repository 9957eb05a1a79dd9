"""A request filed through Open311 without the citizen's phone or email has no one to write
to: its news is published as the request's status (``GET requests/<id>.json``), which the
client polls. The outbox row is marked delivered there, not dropped in silence."""

from __future__ import annotations

import uuid

from channels.delivery import Delivered, Outgoing


def send(message: Outgoing) -> Delivered:
    return Delivered(provider_id=f"open311-status-{uuid.uuid4().hex}", status="delivered")
