"""Personal data at rest: AES-GCM encryption plus a keyed hash (HMAC) for exact look-up.

Phone numbers, email addresses, names and CNIC numbers never reach the database in clear.
Each column that holds one is an ``EncryptedText``; the ones we search by also keep a
``*_hash`` column, the HMAC of the normalized value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import LargeBinary, Text
from sqlalchemy.types import TypeDecorator

_PREFIX = "v1:"


class DecryptionError(Exception):
    """Stored personal data could not be decrypted (wrong IKHTIYAR_DATA_KEY?)."""


class Vault:
    """Keys derived from the one data key: one for AES-GCM, one for the look-up HMAC."""

    def __init__(self, data_key: bytes) -> None:
        if len(data_key) != 32:
            raise ValueError("the data key must be 32 bytes")
        self._aead = AESGCM(_derive(data_key, b"ikhtiyar pii encryption"))
        # Keyed once; each digest copies it (an HMAC's key set-up costs as much as the hash).
        self._mac = hmac.new(_derive(data_key, b"ikhtiyar pii lookup"), digestmod=hashlib.sha256)

    def encrypt(self, plaintext: str) -> str:
        return _PREFIX + base64.b64encode(self.encrypt_bytes(plaintext.encode())).decode()

    def encrypt_bytes(self, data: bytes) -> bytes:
        """Bytes as they came (a raw mail need not be text in any charset): nonce + sealed."""
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, data, None)

    def decrypt_bytes(self, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], None)
        except Exception as exc:  # InvalidTag: the key is not the one that wrote it
            raise DecryptionError("stored personal data does not match IKHTIYAR_DATA_KEY") from exc

    def decrypt(self, token: str) -> str:
        if not token.startswith(_PREFIX):
            raise DecryptionError("not an encrypted value")
        return self.decrypt_bytes(base64.b64decode(token[len(_PREFIX):])).decode()

    def digest(self, normalized: str) -> str:
        mac = self._mac.copy()
        mac.update(normalized.encode())
        return mac.hexdigest()


def _derive(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


_vault: Vault | None = None


def configure_vault(data_key: bytes) -> Vault:
    global _vault
    _vault = Vault(data_key)
    return _vault


def vault() -> Vault:
    if _vault is None:
        raise RuntimeError("storage.crypto.configure_vault() was not called")
    return _vault


def lookup_hash(normalized: str) -> str:
    """The HMAC of an already-normalized value, for exact-match columns."""
    return vault().digest(normalized)


class EncryptedBytes(TypeDecorator):
    """A binary column stored AES-GCM encrypted; Python sees plain ``bytes``."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else vault().encrypt_bytes(bytes(value))

    def process_result_value(self, value, dialect):
        return None if value is None else vault().decrypt_bytes(bytes(value))


class EncryptedText(TypeDecorator):
    """A text column stored AES-GCM encrypted; Python sees plain ``str``."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else vault().encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else vault().decrypt(value)
