"""Password and API token hashing: argon2id for new passwords (earlier scrypt hashes still
verify, and are upgraded at the next sign-in); tokens by SHA-256."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_N, _R, _P = 2**14, 8, 1
_argon2 = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults


def hash_password(password: str) -> str:
    return _argon2.hash(password)


def _scrypt_hash(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


# A real argon2 hash of a random password: checked for unknown user names, so they cost as
# much time as known ones and the answer's speed does not tell which names exist.
_DUMMY_HASH = _argon2.hash(secrets.token_urlsafe(16))


def dummy_check(password: str) -> None:
    """Spend the time of one password check, for a user name that does not exist."""
    check_password(password, _DUMMY_HASH)


def needs_rehash(stored: str) -> bool:
    """True for a hash made before argon2 (or with weaker argon2 parameters)."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _argon2.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def check_password(password: str, stored: str) -> bool:
    if stored.startswith("$argon2"):
        try:
            return _argon2.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=_N, r=_R, p=_P, dklen=32)
    return hmac.compare_digest(expected, actual)


def new_token() -> tuple[str, str]:
    """A bearer token and the hash to store (the token itself is shown once, never kept)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
