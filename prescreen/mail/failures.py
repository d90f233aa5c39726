"""How a delivery attempt fails, whatever the channel: try again later, or never."""

from __future__ import annotations


class TemporaryFailure(Exception):
    """Try again later (SMTP 4xx, a provider's throttle or 5xx, connection refused or dropped, timeout)."""


class PermanentFailure(Exception):
    """Refused for good (SMTP 5xx, a number the SMS provider cannot deliver to): the row fails, never retried."""
