"""GeoReport v2's wire format: the POSTed form of a service request, and the JSON and XML
of every answer (lists of services, requests and errors as the specification shows them)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from channels.addresses import AddressError, email_address, phone_e164
from conversation.app_intake import Submission

DESCRIPTION_MAX = 4000
_ATTRIBUTE = re.compile(r"^attribute\[([A-Za-z0-9_]{1,40})\]$")
# The XML element that holds each item of a list, by the list's root element.
ITEM = {"services": "service", "service_requests": "request", "errors": "error",
        "service_definition": "attribute"}


class Open311Error(Exception):
    """An error answered as the specification's [{"code", "description"}] with that status."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass(frozen=True)
class Request:
    """A POSTed service request: what the complaint needs, and who to answer if anyone."""

    api_key: str
    service_code: str
    submission: Submission
    address_string: str | None
    phone: str | None
    email: str | None
    name: str | None
    media_url: str | None
    attributes: dict[str, str] = field(default_factory=dict)


def _number(form, name: str, low: float, high: float) -> float | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} is not a number") from None
    if not low <= value <= high:
        raise Open311Error(400, f"{name} is out of range")
    return value


def parse_request(form) -> Request:
    """The form a GeoReport v2 client POSTs to requests.json|xml; Open311Error when unusable.

    The district comes from ``attribute[district]``, else the location (lat/long), else
    a district named in ``address_string`` (decided by the caller, who knows the districts).
    """
    api_key = (form.get("api_key") or "").strip()
    if not api_key:
        raise Open311Error(400, "api_key was not provided")
    service_code = (form.get("service_code") or "").strip()
    if not service_code:
        raise Open311Error(400, "service_code was not provided")
    lat, lon = _number(form, "lat", -90, 90), _number(form, "long", -180, 180)
    if (lat is None) != (lon is None):
        raise Open311Error(400, "send both lat and long")
    address = " ".join((form.get("address_string") or "").split())[:300] or None
    attributes = {m.group(1): form.get(k, "").strip() for k in form if (m := _ATTRIBUTE.match(k))}
    if lat is None and not address and not attributes.get("district"):
        raise Open311Error(400, "a location is required: lat and long, address_string or attribute[district]")
    description = (form.get("description") or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise Open311Error(400, f"description is longer than {DESCRIPTION_MAX} characters")
    phone = email = None
    try:
        if (form.get("phone") or "").strip():
            phone = phone_e164(form["phone"])
        if (form.get("email") or "").strip():
            email = email_address(form["email"])
    except AddressError as exc:
        raise Open311Error(400, str(exc)) from None
    name = " ".join(f"{form.get('first_name') or ''} {form.get('last_name') or ''}".split())[:80] or None
    confidential = attributes.get("confidential", "").lower() in ("true", "yes", "1")
    district = attributes.get("district", "").upper() or None
    return Request(
        api_key=api_key, service_code=service_code,
        submission=Submission(description=description or "", district=district,
                              location_detail=address, latitude=lat, longitude=lon,
                              category=service_code, confidential=confidential,
                              language=(form.get("language") or "en")[:5]),
        address_string=address, phone=phone, email=email, name=name,
        media_url=(form.get("media_url") or "").strip()[:500] or None, attributes=attributes)


# --- answers -----------------------------------------------------------------------------------


def _xml_value(parent: ET.Element, name: str, value) -> None:
    child = ET.SubElement(parent, name)
    if isinstance(value, list):
        item = "value" if name == "values" else name.rstrip("s")
        for entry in value:
            if isinstance(entry, dict):
                node = ET.SubElement(child, item)
                for key, inner in entry.items():
                    _xml_value(node, key, inner)
            else:
                ET.SubElement(child, item).text = str(entry)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _xml_value(child, key, inner)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)


def to_xml(root: str, items: list[dict] | dict) -> bytes:
    """``<root><item>...</item></root>`` as the specification's XML examples; a dict (a service
    definition) becomes the root's children."""
    top = ET.Element(root)
    if isinstance(items, dict):
        for key, value in items.items():
            if key == "attributes":
                holder = ET.SubElement(top, "attributes")
                for attribute in value:
                    node = ET.SubElement(holder, "attribute")
                    for k, v in attribute.items():
                        _xml_value(node, k, v)
            else:
                _xml_value(top, key, value)
    else:
        for item in items:
            node = ET.SubElement(top, ITEM[root])
            for key, value in item.items():
                _xml_value(node, key, value)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="unicode").encode("utf-8")


def errors(status: int, description: str) -> list[dict]:
    return [{"code": status, "description": description}]
