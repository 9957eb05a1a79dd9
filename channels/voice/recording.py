"""Downloading a call's recording from Twilio (HTTP Basic auth with the account's SID and
token), and only from Twilio: a RecordingUrl elsewhere would get our credentials."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from channels.delivery import PermanentError, TransientError

TIMEOUT_SECONDS = 30.0
MAX_BYTES = 50 * 1024 * 1024  # 10 minutes of WAV at telephone quality is about 10 MB
AUDIO_SUFFIX = {"audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav",
                "audio/mpeg": ".mp3", "audio/mp3": ".mp3"}


@dataclass(frozen=True)
class Audio:
    content: bytes
    content_type: str

    @property
    def suffix(self) -> str:
        return AUDIO_SUFFIX.get(self.content_type, ".wav")


def allowed(url: str, api_url: str) -> bool:
    """Recordings come from Twilio's API host (or the configured one, a mock in tests)."""
    host = urlsplit(url).netloc.lower()
    return urlsplit(url).scheme in ("https", "http") and host in {
        "api.twilio.com", urlsplit(api_url).netloc.lower()}


def download(url: str, *, account_sid: str | None, auth_token: str | None, api_url: str) -> Audio:
    """The recording's audio. TransientError: try again later (Twilio may still be
    processing it: 404 for a while); PermanentError: never (not a Twilio URL, not audio)."""
    if not allowed(url, api_url):
        raise PermanentError(f"refusing to fetch a recording from {urlsplit(url).netloc!r}")
    auth = (account_sid, auth_token) if account_sid and auth_token else None
    try:
        with requests.get(url, auth=auth, timeout=TIMEOUT_SECONDS, stream=True) as response:
            if response.status_code in (404, 429) or response.status_code >= 500:
                raise TransientError(f"Twilio answered {response.status_code} for the recording")
            if response.status_code != 200:
                raise PermanentError(f"Twilio answered {response.status_code} for the recording")
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if not content_type.startswith("audio/"):
                raise PermanentError(f"the recording is not audio ({content_type or 'no type'})")
            body = b""
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_BYTES:
                    raise PermanentError("the recording is larger than 50 MB")
    except requests.RequestException as exc:
        raise TransientError(f"network error fetching the recording: {type(exc).__name__}") from None
    return Audio(body, content_type)
