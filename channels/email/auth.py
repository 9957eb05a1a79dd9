"""Who really sent a mail: the From: domain proven by DKIM (dkimpy) or SPF (pyspf) aligned
with it, or by an ``Authentication-Results`` header (authres) that our own trusted relay
added (``IKHTIYAR_MAIL_TRUSTED_AUTHSERV_ID``).

A From: header is only text: anyone can write ``From: victim@example.org``. Only an
authenticated mail may answer a satisfaction request (the signed one-click links are the
other way); an unauthenticated one is stored and answered, never trusted.

Alignment is relaxed, as DMARC's: the signing (DKIM ``d=``) or envelope (SPF) domain is the
From: domain or a parent or a child of it. A key published under ``_domainkey`` of a domain
or an SPF record of it proves control of that domain, so no public-suffix list is needed for
the parent case.

DNS goes through one lookup function in pyspf's ``DNSLookup`` form, ``lookup(name, qtype,
strict, timeout) -> [((name, qtype), value), ...]``, so tests serve records without a
network. Timeouts are short; any DNS failure means "not authenticated", never an error.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses

import authres
import dkim
import spf

log = logging.getLogger("ikhtiyar.mail.auth")

Lookup = Callable[[str, str, bool, float], list]
MAX_SIGNATURES = 5  # DKIM signatures tried per mail (each may cost a DNS look-up)
DEFAULT_TIMEOUT = 3.0

# pyspf calls its module-level DNSLookup; it is pointed once at a dispatcher that uses the
# lookup of the check running in this thread (a context variable: threads do not share it).
_lookup: contextvars.ContextVar[Lookup] = contextvars.ContextVar("ikhtiyar_spf_lookup",
                                                                 default=spf.DNSLookup)
_SYSTEM_LOOKUP: Lookup = spf.DNSLookup


def _dispatch(name, qtype, strict=True, timeout=DEFAULT_TIMEOUT):
    return _lookup.get()(name, qtype, strict, timeout)


spf.DNSLookup = _dispatch


@dataclass(frozen=True)
class Verdict:
    """Whether the From: domain is proven, and how (``dkim``, ``spf``, ``relay``)."""

    authenticated: bool
    method: str | None = None
    domain: str | None = None
    reason: str = ""

    def info(self) -> dict:
        return {"ok": self.authenticated, "method": self.method, "reason": self.reason[:200]}


NOT_CHECKED = Verdict(False, reason="not checked")


def system_lookup() -> Lookup:
    """The machine's resolver (dnspython through pyspf)."""
    return _SYSTEM_LOOKUP


def authenticate(data: bytes, *, envelope_from: str | None = None, ip: str | None = None,
                 helo: str | None = None, trusted_authserv_id: str | None = None,
                 lookup: Lookup | None = None, timeout: float = DEFAULT_TIMEOUT) -> Verdict:
    """The verdict for one mail as received; never raises."""
    try:
        return _authenticate(data, envelope_from, ip, helo, trusted_authserv_id,
                             lookup or _SYSTEM_LOOKUP, timeout)
    except Exception as exc:  # a malformed mail or a library's surprise: simply not proven
        log.info("sender authentication failed: %s", type(exc).__name__)
        return Verdict(False, reason=f"check failed: {type(exc).__name__}")


def _authenticate(data: bytes, envelope_from: str | None, ip: str | None, helo: str | None,
                  trusted: str | None, lookup: Lookup, timeout: float) -> Verdict:
    msg = BytesHeaderParser(policy=policy.compat32).parsebytes(data)  # the body is not needed here
    from_domain = _from_domain(msg.get_all("From") or [])
    if from_domain is None:
        return Verdict(False, reason="no single From: address")
    if trusted:
        verdict = _relay(msg, trusted, from_domain)
        if verdict is not None:
            return verdict
    verdict = (_dkim(data, from_domain, lookup, timeout) if msg.get_all("DKIM-Signature")
               else Verdict(False, reason="no DKIM signature"))
    if verdict.authenticated:
        return verdict
    if ip:
        spf_verdict = _spf(ip, envelope_from, helo, from_domain, lookup, timeout)
        if spf_verdict.authenticated:
            return spf_verdict
        return Verdict(False, reason=f"{verdict.reason}; {spf_verdict.reason}")
    return verdict


def _from_domain(values: list) -> str | None:
    """The From: domain when there is exactly one address (several are never trusted)."""
    found = [a for _n, a in getaddresses([str(v) for v in values]) if "@" in a]
    if len(found) != 1:
        return None
    return found[0].rpartition("@")[2].strip().strip(".").lower() or None


def aligned(domain: str | None, from_domain: str) -> bool:
    if not domain:
        return False
    domain = domain.strip().strip(".").lower()
    return (domain == from_domain or from_domain.endswith("." + domain)
            or domain.endswith("." + from_domain))


def _txt(lookup: Lookup, timeout: float) -> Callable:
    """dkimpy's ``dnsfunc`` over the lookup: the first TXT record, its strings joined."""

    def get_txt(name: bytes, timeout: float = timeout) -> bytes | None:
        for (_name, qtype), value in lookup(name.decode("ascii").rstrip("."), "TXT", True, timeout):
            if qtype == "TXT":
                return b"".join(v if isinstance(v, bytes) else str(v).encode() for v in value)
        return None

    return get_txt


def _dkim(data: bytes, from_domain: str, lookup: Lookup, timeout: float) -> Verdict:
    checker = dkim.DKIM(data, minkey=1024, timeout=int(max(1, timeout)))
    signatures = [h for h in checker.headers if h[0].lower() == b"dkim-signature"]
    if not signatures:
        return Verdict(False, reason="no DKIM signature")
    reasons = []
    for idx in range(min(len(signatures), MAX_SIGNATURES)):
        try:
            valid = checker.verify(idx=idx, dnsfunc=_txt(lookup, timeout))
        except (dkim.DKIMException, spf.TempError, OSError) as exc:
            reasons.append(f"DKIM: {type(exc).__name__}")
            continue
        domain = (checker.domain or b"").decode("ascii", "replace")
        if valid and aligned(domain, from_domain):
            return Verdict(True, "dkim", domain, "DKIM signature valid and aligned")
        reasons.append(f"DKIM d={domain}: {'not aligned' if valid else 'invalid'}")
    return Verdict(False, reason="; ".join(reasons))


def _spf(ip: str, envelope_from: str | None, helo: str | None, from_domain: str,
         lookup: Lookup, timeout: float) -> Verdict:
    sender = envelope_from or (f"postmaster@{helo}" if helo else "")
    domain = sender.rpartition("@")[2].lower()
    if not domain or not aligned(domain, from_domain):
        return Verdict(False, reason=f"SPF domain {domain or '-'} not aligned")
    token = _lookup.set(lookup)
    try:
        result, _code, _explanation = spf.query(i=ip, s=sender, h=helo or domain,
                                                timeout=timeout, querytime=timeout).check()
    finally:
        _lookup.reset(token)
    if result == "pass":
        return Verdict(True, "spf", domain, "SPF pass, aligned")
    return Verdict(False, reason=f"SPF {result}")


def _relay(msg, trusted: str, from_domain: str) -> Verdict | None:
    """The verdict of our relay's own Authentication-Results (the topmost header, the one
    it added: lower ones may be the sender's forgery); None when there is none of it."""
    headers = msg.get_all("Authentication-Results") or []
    if not headers:
        return None
    try:
        parsed = authres.AuthenticationResultsHeader.parse(
            "Authentication-Results: " + " ".join(str(headers[0]).split()))
    except Exception:
        return None
    if str(parsed.authserv_id).lower() != trusted.lower():
        return None
    for result in parsed.results:
        method, outcome = str(result.method).lower(), str(result.result).lower()
        if outcome != "pass":
            continue
        props = {f"{p.type}.{p.name}".lower(): str(p.value) for p in result.properties}
        domain = {"dkim": props.get("header.d") or props.get("header.i", "").rpartition("@")[2],
                  "spf": props.get("smtp.mailfrom", "").rpartition("@")[2],
                  "dmarc": props.get("header.from")}.get(method)
        if aligned(domain, from_domain):
            return Verdict(True, "relay", domain, f"{trusted}: {method}=pass")
    return Verdict(False, reason=f"{trusted}: no aligned pass")
