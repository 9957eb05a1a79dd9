"""The Twilio REST client, and what Twilio's errors mean for a retry.

The client is the twilio library's own, pointed at ``IKHTIYAR_TWILIO_API_URL`` (Twilio, or
a local mock of its API in tests); ``edge``/``region`` cannot do that, they always build
``*.twilio.com`` names.
"""

from __future__ import annotations

import threading

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from channels.delivery import PermanentError, TransientError

TIMEOUT_SECONDS = 15.0

# Twilio error codes: https://www.twilio.com/docs/api/errors
THROTTLED = {20429, 63018, 14107, 30022}  # too many requests; WhatsApp rate limit; SMS rate limit
PERMANENT_REASONS = {
    21211: "invalid 'To' phone number",
    21214: "'To' number cannot be reached",
    21408: "sending to this region is not enabled",
    21606: "the 'From' number cannot send this message",
    21610: "the citizen has opted out (replied STOP)",
    21612: "this number cannot be reached by this sender",
    21614: "'To' is not a mobile number",
    21617: "the message is too long",
    63003: "the number is not on WhatsApp",
    63016: "outside WhatsApp's 24-hour window and no template was used",
    63024: "invalid WhatsApp recipient",
}
OUTSIDE_WINDOW = 63016

_clients: dict[tuple, Client] = {}
_lock = threading.Lock()


class TwilioPermanentError(PermanentError):
    """Twilio refused the message for good; ``code`` is Twilio's error code."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"Twilio {code}: {reason}" if code else reason)
        self.code = code


def make_client(account_sid: str, auth_token: str, api_url: str) -> Client:
    """A client whose every request goes to ``api_url`` (shared per process and settings)."""
    key = (account_sid, auth_token, api_url)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = Client(account_sid, auth_token,
                            http_client=TwilioHttpClient(timeout=TIMEOUT_SECONDS))
            client.api.base_url = api_url.rstrip("/")
            _clients[key] = client
        return client


def client_for(settings) -> Client:
    return make_client(settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_api_url)


def classify(exc: Exception) -> TransientError | PermanentError:
    """Turn what the client raised into the outbox's retry decision."""
    if isinstance(exc, TwilioRestException):
        code, status = exc.code, exc.status
        detail = (exc.msg or "").strip().splitlines()[0][:300] if exc.msg else ""
        if status == 429 or code in THROTTLED:
            return TransientError(f"Twilio throttled the request ({code or status}); will retry")
        if status >= 500 or status == 0:
            return TransientError(f"Twilio answered {status} ({code}); will retry")
        if status in (401, 403) or code in (20003, 20005):
            # Wrong credentials are an operator's mistake that will be fixed: keep retrying
            # (up to the attempt cap) instead of failing every citizen's message.
            return TransientError(f"Twilio refused the credentials ({code or status}): check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        reason = PERMANENT_REASONS.get(code) or detail or f"HTTP {status}"
        return TwilioPermanentError(code, reason)
    if isinstance(exc, requests.RequestException):
        return TransientError(f"network error talking to Twilio: {type(exc).__name__}")
    return TransientError(f"unexpected error talking to Twilio: {type(exc).__name__}: {exc}")
