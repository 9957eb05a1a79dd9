"""WhatsApp through Twilio."""

from channels.whatsapp.adapter import create_kwargs, parse

__all__ = ["create_kwargs", "parse"]
