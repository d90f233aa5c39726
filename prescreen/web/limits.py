"""Rate limiting of the public POSTs, counted across all gunicorn workers.

Flask-Limiter does the limiting; its counters live in :class:`prescreen.store.ratelimits.Counters`
(a small SQLite file beside the database) registered with the ``limits`` library under the scheme
``prescreen+sqlite://``. That is shared by every worker on the machine without running Redis or
memcached; an operator who has Redis can still set ``RATELIMIT_STORAGE_URI=redis://…``.

The client key is an HMAC of the remote address (after ``TRUSTED_PROXIES``), so the counter file
never holds an IP address.

A broken counter store never costs a family their answer: when counting fails (the file is
unwritable, replaced, the disk full) the request goes through uncounted and a warning is logged;
the next request tries again on a fresh connection. Refusing every form post for as long as a
throw-away counter is unavailable would be far worse than a minute without a limit.
``RATELIMIT_SWALLOW_ERRORS`` gives the same rule to any other storage (Redis).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from limits.storage import Storage

from ..store.ratelimits import Counters

SCHEME = "prescreen+sqlite"
#: While the counters stay broken, repeat the warning at most this often (seconds) per worker.
WARN_EVERY = 60.0
log = logging.getLogger(__name__)
T = TypeVar("T")


class SQLiteStorage(Storage):
    """A ``limits`` storage over :class:`Counters` (fixed-window strategy)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        path = (uri or "").split("://", 1)[-1]
        if not path:
            raise ValueError(f"{SCHEME}:// needs a file path, e.g. {SCHEME}:////srv/instance/ratelimit.sqlite3")
        self.counters = Counters(path)
        self._lock = threading.Lock()
        self._warned_at: float | None = None  # None: the last attempt worked

    def _or(self, fallback: T, action: Callable[[], T]) -> T:
        """Run *action*; if the counter file fails, log it (without the key) and return *fallback*."""
        try:
            result = action()
        except (sqlite3.Error, OSError) as exc:
            now = time.monotonic()
            with self._lock:
                due = self._warned_at is None or now - self._warned_at >= WARN_EVERY
                if due:
                    self._warned_at = now
            if due:
                log.warning("rate-limit counters unavailable (%s); requests go through uncounted", exc)
            return fallback
        if self._warned_at is not None:
            with self._lock:
                self._warned_at = None
            log.info("rate-limit counters are working again")
        return result

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        # 0 is within every limit: an uncounted request is let through.
        return self._or(0, lambda: self.counters.incr(key, expiry, amount))

    def get(self, key: str) -> int:
        return self._or(0, lambda: self.counters.get(key))

    def get_expiry(self, key: str) -> float:
        return self._or(time.time(), lambda: self.counters.expiry(key))

    def check(self) -> bool:
        return self.counters.check()

    def reset(self) -> int | None:
        return self._or(None, self.counters.reset)

    def clear(self, key: str) -> None:
        self._or(None, lambda: self.counters.clear(key))


def client_key() -> str:
    """An HMAC of the client address: counts per client without storing the address."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    address = (request.remote_addr or "unknown").encode()
    return hmac.new(secret, address, hashlib.sha256).hexdigest()[:32]


def public_post_limit() -> str:
    """The per-client allowance for public form posts (``PUBLIC_POST_LIMIT``)."""
    return str(current_app.config["PUBLIC_POST_LIMIT"])


def resume_code_limit() -> str:
    """The per-client allowance for short resume code posts (``RESUME_CODE_LIMIT``), apart from the general one.

    A code is 40 bits and dies after 5 wrong birth months, so guessing is hopeless anyway; this
    keeps one address from even trying many codes, and is loose enough for a hospital's Wi-Fi.
    """
    return str(current_app.config["RESUME_CODE_LIMIT"])


def referral_post_limit() -> str:
    """The per-client allowance for sent referrals (``REFERRAL_POST_LIMIT``), apart from the general one.

    Each referral mails the study team, so a script could flood their inbox well within the
    general allowance; only referrals actually made count (a form sent back with an error does
    not), so families behind one hospital Wi-Fi address are not turned away.
    """
    return str(current_app.config["REFERRAL_POST_LIMIT"])


def made_a_referral(response: Response) -> bool:
    """Whether a referral POST went through (it redirects to the "sent" page)."""
    return response.status_code == 303


def limiter_for(app: Flask) -> Limiter:
    """This app's limiter, created on first use with the shared SQLite counters.

    One limiter per app (not a module-level one): Flask-Limiter keeps its storage on the
    limiter object, so a shared one would make a second app (tests, CLI) count in the first
    app's file.
    """
    existing = app.extensions.get("prescreen_limiter")
    if existing is not None:
        return existing
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        path = os.path.join(app.instance_path, "ratelimit.sqlite3")
        app.config["RATELIMIT_STORAGE_URI"] = f"{SCHEME}://{path}"
    # Another storage (Redis) that fails lets the request through too, logged by Flask-Limiter.
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter = Limiter(key_func=client_key, app=app, headers_enabled=False)
    app.extensions["prescreen_limiter"] = limiter
    return limiter
