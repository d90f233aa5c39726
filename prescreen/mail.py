"""Mail: what volunteers and families are sent, and the sender that delivers the outbox.

Split by meaning: :mod:`prescreen.mail_render` writes messages into outbox rows (in the
recipient's language, at the moment the causing change commits); :mod:`prescreen.mail_send`
delivers rows (``prescreen mail send``), whoever queued them.
"""

from __future__ import annotations

from .mail_render import (
    absolute_url,
    queue_already_signed_up,
    queue_confirmation,
    queue_study_posted,
    reminder_message,
    unsubscribe_headers,
)
from .mail_send import build_message, deliver_due, mail_cli, make_backend

__all__ = [
    "absolute_url",
    "build_message",
    "deliver_due",
    "mail_cli",
    "make_backend",
    "queue_already_signed_up",
    "queue_confirmation",
    "queue_study_posted",
    "reminder_message",
    "unsubscribe_headers",
]
