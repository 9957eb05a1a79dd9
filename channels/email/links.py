"""The one-click "satisfied" / "not satisfied" links of a satisfaction request.

A link carries, signed with the secret key, the tracking number, the answer, a nonce
shared by both links of one request (so one answer uses both up) and when the complaint
was resolved (so a link from an earlier resolution cannot answer a later one).
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

ANSWERS = ("yes", "no")
MAX_AGE_SECONDS = 90 * 86400
_SALT = "ikhtiyar.mail.answer"


@dataclass(frozen=True)
class LinkAnswer:
    tracking: str
    answer: str  # yes | no
    nonce: str
    resolved_at: int


def sign(secret: bytes, tracking: str, answer: str, nonce: str, resolved_at: int) -> str:
    if answer not in ANSWERS:
        raise ValueError(f"answer must be one of {ANSWERS}")
    return URLSafeTimedSerializer(secret, salt=_SALT).dumps(
        {"t": tracking, "a": answer, "n": nonce, "r": int(resolved_at)})


def verify(secret: bytes, token: str) -> LinkAnswer | None:
    """The answer a link carries, or None when it was not made by us or is too old."""
    try:
        data = URLSafeTimedSerializer(secret, salt=_SALT).loads(token, max_age=MAX_AGE_SECONDS)
    except BadSignature:
        return None
    try:
        answer = LinkAnswer(str(data["t"]), str(data["a"]), str(data["n"]), int(data["r"]))
    except (KeyError, TypeError, ValueError):
        return None
    return answer if answer.answer in ANSWERS else None


def url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/mail/answer/{token}"
