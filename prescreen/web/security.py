"""Security headers on every response (OWASP ASVS 14.4)."""

from __future__ import annotations

from flask import Flask, Response, current_app
from werkzeug.routing import IntegerConverter

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
#: Text types that need an explicit charset so a browser never guesses (UTF-7 attacks, mojibake).
_NEEDS_CHARSET = ("text/", "application/json", "application/javascript", "application/xml")


def add_headers(response: Response) -> Response:
    """Add CSP, nosniff, frame and referrer policy, HSTS and a charset."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    # Sent on plain http too: browsers ignore it there (RFC 6797 §8.1), and a
    # TLS-terminating proxy may hide that the family's request was https.
    headers.setdefault(
        "Strict-Transport-Security",
        f"max-age={int(current_app.config['HSTS_MAX_AGE'])}; includeSubDomains",
    )
    mimetype = response.mimetype or ""
    if mimetype.startswith(_NEEDS_CHARSET) and "charset" not in response.content_type:
        response.content_type = f"{mimetype}; charset=utf-8"
    return response


#: SQLite's largest integer: a larger id in a URL can match nothing, and would overflow the driver.
MAX_ID = 2**63 - 1


class RecordIdConverter(IntegerConverter):
    """``<id:...>``: a record id, never a number SQLite cannot hold (a 404, not a 500).

    A converter of our own name: Werkzeug's ``int`` stays as it is for anyone else's routes.
    """

    def __init__(
        self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID, signed: bool = False
    ) -> None:  # noqa: A002, ANN001 - werkzeug's signature
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def page_number(raw: str | None, limit: int = 1_000_000) -> int:
    """A ``?page=`` value as a page number from 1 to ``limit``; anything else is page 1."""
    try:
        value = int(raw or 1)
    except ValueError:
        return 1
    return min(max(value, 1), limit)


def init_app(app: Flask) -> None:
    """Register the header hook and the ``id`` converter (before any blueprint)."""
    app.url_map.converters["id"] = RecordIdConverter
    app.after_request(add_headers)
