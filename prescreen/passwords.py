"""Password rules for staff accounts (OWASP ASVS 2.1): long, not breached, hashed with scrypt.

We check length (12 or more, up to 128 so a 64-character passphrase is fine) and a small list of
the most common breached passwords shipped with the package (no network look-up: the server may
have no internet), including those passwords with digits or symbols stuck on either end.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
MAX_LENGTH = 128
#: Hashes are Werkzeug's scrypt (memory-hard; unique random salt per hash).
METHOD = "scrypt"
_EDGES = re.compile(r"^[\d\W_]+|[\d\W_]+$")


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of breached passwords, lower-cased."""
    text = resources.files("prescreen").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def problem(password: str, email: str = "") -> str | None:
    """Why *password* is refused (one English sentence for the CLI), or None when it is fine."""
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password must have at most {MAX_LENGTH} characters"
    lowered = password.lower()
    core = _EDGES.sub("", lowered)
    common = common_passwords()
    if lowered in common or core in common or (core and core * 2 in common) or len(set(lowered)) <= 2:
        return "this password is on a list of common, breached passwords; choose another"
    local = email.split("@", 1)[0].lower()
    if local and len(local) >= 4 and local in lowered:
        return "the password must not contain the account's e-mail name"
    return None


def hash_password(password: str) -> str:
    """Hash with scrypt and a fresh salt."""
    return generate_password_hash(password, method=METHOD)


def verify(password_hash: str, password: str) -> bool:
    """Constant-time comparison of *password* with the stored hash."""
    return check_password_hash(password_hash, password)


#: Checked against when the e-mail is unknown, so a wrong e-mail takes as long as a wrong password.
DUMMY_HASH = "scrypt:32768:8:1$yGS0b3kzzxXkF7Ic$" + "0" * 128
