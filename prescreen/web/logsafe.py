"""Keep bearer tokens out of log lines.

A resume link (``/r/<token>``), a withdraw link and a volunteer's confirm / manage / unsubscribe
links are keys: whoever reads one in a log could open a family's screening or a volunteer's
choices. The app's own log lines name a request by its route (``/r/<token>``), never its path,
and the development server's request lines pass through :class:`RedactTokens`. A reverse proxy's
access log is the operator's to configure (see the README's production section).
"""

from __future__ import annotations

import logging
import re

from flask import Flask, request

#: Paths whose last segment is a bearer token, or a source code (``/q/<code>``: which poster or group).
TOKEN_PATH = re.compile(r"(/r/|/q/|/withdraw/|/volunteer/(?:confirm|manage|unsubscribe|resubscribe)/)[^/\s?\"']+")
REDACTED = r"\1…"


def redact(text: str) -> str:
    """*text* with every token in a known token path replaced by an ellipsis."""
    return TOKEN_PATH.sub(REDACTED, text)


def request_route() -> str:
    """The current request's route pattern for a log line (``/r/<token>``), never the concrete path."""
    rule = request.url_rule
    return rule.rule if rule is not None else redact(request.path)


class RedactTokens(logging.Filter):
    """Rewrite a log record's message so that no token path survives (Werkzeug's request lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def init_app(app: Flask) -> None:
    """Filter the development server's request log (``prescreen run``, ``make run``) once per process."""
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactTokens) for f in werkzeug.filters):
        werkzeug.addFilter(RedactTokens())
