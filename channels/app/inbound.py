"""What the app sends, checked field by field: a new complaint, added information, an answer
to "are you satisfied?". Each parse raises AppInputError naming the field to fix."""

from __future__ import annotations

import re
from dataclasses import dataclass

from conversation.app_intake import Submission

CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
TEXT_MAX = 4000


class AppInputError(ValueError):
    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


def _get(data: dict, name: str, kind, *, required: bool = False, max_length: int | None = None):
    value = data.get(name)
    if value is None:
        if required:
            raise AppInputError(name, f"'{name}' is required")
        return None
    if isinstance(value, bool) and kind is not bool:
        raise AppInputError(name, f"'{name}' has the wrong type")
    if not isinstance(value, kind):
        raise AppInputError(name, f"'{name}' has the wrong type")
    if max_length is not None and isinstance(value, str) and len(value) > max_length:
        raise AppInputError(name, f"'{name}' is longer than {max_length} characters")
    return value


def client_id(data: dict) -> str:
    """The app's id for a draft: sending the same draft again files nothing new."""
    value = _get(data, "client_id", str, required=True, max_length=64)
    if not CLIENT_ID.match(value):
        raise AppInputError("client_id", "'client_id' is 8 to 64 letters, digits, - or _")
    return value


def complaint(data: dict) -> Submission:
    lat = _get(data, "latitude", (int, float))
    lon = _get(data, "longitude", (int, float))
    if (lat is None) != (lon is None):
        raise AppInputError("location", "send both latitude and longitude, or neither")
    district = _get(data, "district", str, max_length=8)
    category = _get(data, "category", str, max_length=40)
    return Submission(
        description=_get(data, "description", str, required=True, max_length=TEXT_MAX),
        district=district.upper() if district else None,
        location_detail=_get(data, "location_detail", str, max_length=TEXT_MAX),
        latitude=float(lat) if lat is not None else None,
        longitude=float(lon) if lon is not None else None,
        category=category.upper() if category else None,
        confidential=bool(_get(data, "confidential", bool)),
        language=_get(data, "language", str, max_length=5) or "en",
    )


def information(data: dict) -> str:
    text = " ".join((_get(data, "text", str, required=True, max_length=TEXT_MAX)).split())
    if not text:
        raise AppInputError("text", "'text' is empty")
    return text


@dataclass(frozen=True)
class Satisfaction:
    satisfied: bool
    reason: str | None
    rating: int | None


def satisfaction(data: dict) -> Satisfaction:
    satisfied = _get(data, "satisfied", bool, required=True)
    reason = " ".join((_get(data, "reason", str, max_length=TEXT_MAX) or "").split()) or None
    rating = _get(data, "rating", int)
    if rating is not None and not 1 <= rating <= 5:
        raise AppInputError("rating", "'rating' is from 1 to 5")
    if not satisfied and reason is None:
        raise AppInputError("reason", "say why you are not satisfied")
    return Satisfaction(satisfied, reason, rating)
