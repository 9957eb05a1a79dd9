"""Where channels are registered: the sender for each channel name.

Adding a channel means one new folder and one line here.
"""

from __future__ import annotations

from collections.abc import Callable

from channels import log_sender
from channels.delivery import Delivered, Outgoing

Sender = Callable[[Outgoing], Delivered]


def sender_for(channel: str, settings) -> Sender:
    """The channel's real sender when its provider is configured, else the log sender."""
    if channel in ("whatsapp", "sms") and settings.twilio_configured:
        from channels.twilio.sender import TwilioSender

        return TwilioSender(channel, settings)
    if channel == "email" and settings.smtp_url:
        from channels.email.sender import SmtpSender

        return SmtpSender.from_settings(settings)
    if channel == "letter":  # no provider: a PDF for a clerk to print and post
        from channels.letters.post import PostSender

        return PostSender.from_settings(settings)
    if channel == "app":  # read on the citizen's timeline in the app
        from channels.app import sender as app_sender

        return app_sender.send
    if channel == "open311":  # no address given: published as the request's status
        from channels.open311 import sender as open311_sender

        return open311_sender.send
    return log_sender.send
