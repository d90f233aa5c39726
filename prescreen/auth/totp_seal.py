"""Authenticator secrets sealed at rest with a key derived from the app's secret key.

An admin's TOTP secret is the second factor: whoever holds it makes valid codes. Stored as it
is, a copy of the database (a backup, a stolen disk) would carry the second factor with the
password hashes. Sealed with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under a
key derived by HKDF from ``SECRET_KEY``, which lives outside the database (the environment, or
``instance/secret_key``), the database alone no longer signs anyone in.

A secret enrolled before sealing existed is read as it is and sealed at that account's next
sign-in (or at once by ``prescreen users seal-totp``). If ``SECRET_KEY`` changes, sealed secrets
cannot be opened: the admin enrols again with ``prescreen users totp`` (the log says so).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: Marks a sealed value (a plain base32 secret never contains ':').
PREFIX = "sealed1:"


def _fernet(secret_key: str | bytes) -> Fernet:
    key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"prescreen totp secret v1").derive(key)
    return Fernet(base64.urlsafe_b64encode(derived))


def is_sealed(stored: str | None) -> bool:
    """Whether *stored* is a sealed secret (not one left from before sealing)."""
    return bool(stored) and str(stored).startswith(PREFIX)


def seal(secret: str, secret_key: str | bytes) -> str:
    """The value to store for the base32 *secret*."""
    return PREFIX + _fernet(secret_key).encrypt(secret.encode()).decode()


def unseal(stored: str, secret_key: str | bytes) -> str | None:
    """The base32 secret in *stored*; None when it cannot be opened (another secret key)."""
    if not is_sealed(stored):
        return stored  # enrolled before sealing: sealed at the next sign-in
    try:
        return _fernet(secret_key).decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        return None
