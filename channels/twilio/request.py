"""A Twilio webhook request that validates itself (signature, then payload).

Twilio signs the full URL it called plus the POST parameters. Behind a reverse proxy the
app sees another URL, so the URL checked is ``IKHTIYAR_PUBLIC_URL`` + path + query when it
is set (X-Forwarded-* is honoured only when ``IKHTIYAR_TRUST_PROXY`` says so, by ProxyFix
in the app). The twilio library's validator also tries the URL with and without the port.

Without a public URL the URL is built from the request's Host header, which the caller
chooses: a request Twilio signed for another app on the same account would pass. So then
the Host must be one of ``IKHTIYAR_TWILIO_HOSTS``; with neither setting the webhooks refuse
to serve (503) until one is configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse, urlsplit

from twilio.request_validator import RequestValidator, add_port, compare, remove_port


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
    host: str = ""  # the request's host name (no port), checked when there is no public URL
    allowed_hosts: frozenset[str] = frozenset()

    def signed_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/") + self.path_and_query
        return self.url

    def validate(self) -> dict[str, str]:
        """Return the form if Twilio signed it; raise WebhookError(403) otherwise."""
        if not self.auth_token:
            raise WebhookError(403, "Twilio webhooks are refused: TWILIO_AUTH_TOKEN is not set")
        if not self.public_url:
            if not self.allowed_hosts:
                raise WebhookError(503, "Twilio webhooks are off: set IKHTIYAR_PUBLIC_URL to the URL "
                                        "Twilio calls (or IKHTIYAR_TWILIO_HOSTS to its host names)")
            if self.host.lower().rstrip(".") not in self.allowed_hosts:
                raise WebhookError(403, "this host is not in IKHTIYAR_TWILIO_HOSTS")
        if not self.signature:
            raise WebhookError(403, "missing X-Twilio-Signature")
        validator = _Validator(self.auth_token)
        if not validator.validate(self.signed_url(), self.form, self.signature):
            raise WebhookError(403, "invalid X-Twilio-Signature")
        return self.form

    @classmethod
    def from_flask(cls, request, settings) -> TwilioRequest:
        query = request.query_string.decode("latin-1")
        path_and_query = request.path + (f"?{query}" if query else "")
        # The URL as received is only checked when no public URL is configured.
        return cls(url="" if settings.public_url else request.url, path_and_query=path_and_query,
                   form=request.form.to_dict(flat=True),
                   signature=request.headers.get("X-Twilio-Signature"),
                   auth_token=settings.twilio_auth_token, public_url=settings.public_url,
                   host=_hostname(request.host) if not settings.public_url else "",
                   allowed_hosts=settings.twilio_allowed_hosts)


def _hostname(host: str | None) -> str:
    try:
        return urlsplit("//" + (host or "")).hostname or ""
    except ValueError:
        return ""


class _Validator(RequestValidator):
    """The twilio library's validator, checking the URL with its port only when the URL
    without it did not match (the library computes both signatures every time)."""

    def validate(self, uri, params, signature, algorithm=None):
        if algorithm is not None or not isinstance(params, dict):
            return super().validate(uri, params, signature, algorithm)
        parsed = urlparse(uri)
        return any(compare(self.compute_signature(make(parsed), params), signature)
                   for make in (remove_port, add_port))

    def get_values(self, param_dict, param_name):
        # A plain dict: the library tries MultiDict's and QueryDict's methods first, and
        # pays for two exceptions per field.
        if type(param_dict) is dict:
            return [param_dict[param_name]]
        return super().get_values(param_dict, param_name)


def sign(auth_token: str, url: str, form: dict[str, str]) -> str:
    """The signature Twilio would send for this URL and form (for tests and tools)."""
    return RequestValidator(auth_token).compute_signature(url, form)
