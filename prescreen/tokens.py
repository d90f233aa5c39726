"""Secret tokens in links and cookies, and the one way their hash is stored.

Only the SHA-256 hex digest of a token is ever written to the database, so a copy of the file
(a backup, a stolen disk) cannot be turned back into working resume, withdraw, volunteer or
staff-session links. Every table that keeps a token's hash uses :func:`token_hash`, so the rows
written before and after match the same way.
"""

from __future__ import annotations

import hashlib
import secrets

#: Random bytes in a token a family copies or keeps in a link (resume, withdraw): 192 bits.
SHORT = 24
#: Random bytes in e-mailed volunteer links and staff sessions: 256 bits.
LONG = 32


def new_token(nbytes: int = LONG) -> str:
    """A new unguessable, URL-safe token of *nbytes* random bytes."""
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """What the database keeps of *token*: its SHA-256 as lowercase hex (no salt: tokens are random)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
