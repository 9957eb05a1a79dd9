"""SMS through Twilio."""

from channels.sms.adapter import create_kwargs, parse

__all__ = ["create_kwargs", "parse"]
