"""A Twilio webhook request that validates itself (signature, then payload).

Twilio signs the full URL it called plus the POST parameters. Behind a reverse proxy the
app sees another URL, so the URL checked is ``IKHTIYAR_PUBLIC_URL`` + path + query when it
is set (X-Forwarded-* is honoured only when ``IKHTIYAR_TRUST_PROXY`` says so, by ProxyFix
in the app). The twilio library's validator also tries the URL with and without the port.
"""

from __future__ import annotations

from dataclasses import dataclass

from twilio.request_validator import RequestValidator


class WebhookError(Exception):
    """A request to refuse; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class TwilioRequest:
    url: str  # the URL as the app received it (scheme://host/path?query)
    path_and_query: str
    form: dict[str, str]
    signature: str | None
    auth_token: str | None
    public_url: str | None = None

    def signed_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/") + self.path_and_query
        return self.url

    def validate(self) -> dict[str, str]:
        """Return the form if Twilio signed it; raise WebhookError(403) otherwise."""
        if not self.auth_token:
            raise WebhookError(403, "Twilio webhooks are refused: TWILIO_AUTH_TOKEN is not set")
        if not self.signature:
            raise WebhookError(403, "missing X-Twilio-Signature")
        validator = RequestValidator(self.auth_token)
        if not validator.validate(self.signed_url(), self.form, self.signature):
            raise WebhookError(403, "invalid X-Twilio-Signature")
        return self.form

    @classmethod
    def from_flask(cls, request, settings) -> TwilioRequest:
        query = request.query_string.decode("latin-1")
        path_and_query = request.path + (f"?{query}" if query else "")
        return cls(url=request.url, path_and_query=path_and_query,
                   form=request.form.to_dict(flat=True),
                   signature=request.headers.get("X-Twilio-Signature"),
                   auth_token=settings.twilio_auth_token, public_url=settings.public_url)


def sign(auth_token: str, url: str, form: dict[str, str]) -> str:
    """The signature Twilio would send for this URL and form (for tests and tools)."""
    return RequestValidator(auth_token).compute_signature(url, form)
