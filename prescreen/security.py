"""Security headers on every response (OWASP ASVS 14.4)."""

from __future__ import annotations

from flask import Flask, Response, current_app

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


def init_app(app: Flask) -> None:
    """Register the header hook."""
    app.after_request(add_headers)
