"""Rate limiting of the public POSTs, counted across all gunicorn workers.

Flask-Limiter does the limiting; its counters live in :class:`prescreen.store.ratelimits.Counters`
(a small SQLite file beside the database) registered with the ``limits`` library under the scheme
``prescreen+sqlite://``. That is shared by every worker on the machine without running Redis or
memcached; an operator who has Redis can still set ``RATELIMIT_STORAGE_URI=redis://…``.

The client key is an HMAC of the remote address (after ``TRUSTED_PROXIES``), so the counter file
never holds an IP address.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter
from limits.storage import Storage

from .store.ratelimits import Counters

SCHEME = "prescreen+sqlite"


class SQLiteStorage(Storage):
    """A ``limits`` storage over :class:`Counters` (fixed-window strategy)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        path = (uri or "").split("://", 1)[-1]
        if not path:
            raise ValueError(f"{SCHEME}:// needs a file path, e.g. {SCHEME}:////srv/instance/ratelimit.sqlite3")
        self.counters = Counters(path)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self.counters.incr(key, expiry, amount)

    def get(self, key: str) -> int:
        return self.counters.get(key)

    def get_expiry(self, key: str) -> float:
        return self.counters.expiry(key)

    def check(self) -> bool:
        return self.counters.check()

    def reset(self) -> int | None:
        return self.counters.reset()

    def clear(self, key: str) -> None:
        self.counters.clear(key)


def client_key() -> str:
    """An HMAC of the client address: counts per client without storing the address."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    address = (request.remote_addr or "unknown").encode()
    return hmac.new(secret, address, hashlib.sha256).hexdigest()[:32]


def public_post_limit() -> str:
    """The per-client allowance for public form posts (``PUBLIC_POST_LIMIT``)."""
    return str(current_app.config["PUBLIC_POST_LIMIT"])


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
    limiter = Limiter(key_func=client_key, app=app, headers_enabled=False)
    app.extensions["prescreen_limiter"] = limiter
    return limiter
