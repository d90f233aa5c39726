"""WeChat's in-app browser, and what a link pasted into a chat shows.

Families open our links inside WeChat far more often than in a browser. WeChat's browser blocks
``window.print()``, file downloads, pop-ups and ``mailto:`` links, so a family page never asks
for one there: ``in_wechat()`` tells templates to show a short "open in the browser" hint
instead (the summary page stays readable, so a family can screenshot it). WeChat says who it is
in the user agent (``MicroMessenger``); ``static/chat.js`` checks the same word as a fallback.

A link pasted into WeChat shows a card built from ordinary meta tags (``og:title``,
``og:description``, ``og:image``, ``description``; ``templates/_share.html``). We use no WeChat
JS-SDK: it loads a script from Tencent and needs an official account. The card never carries
anything a family typed or a link's token: the study page names the study and the hospital,
every other page the site and its one-line description, and only the home and study pages may
be indexed.
"""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from werkzeug.wrappers import Response

from .assets import asset_url

#: The word WeChat puts in its browser's user agent (Android, iOS, the desktop app).
WECHAT_MARK = "micromessenger"
#: The site-wide share image (static/share.png): 300×300, no words, nothing about anyone.
SHARE_IMAGE = "share.png"
SHARE_IMAGE_SIZE = 300
#: The only pages a search engine may index: nothing that belongs to one family.
INDEXABLE = frozenset({"home.index", "public.study"})
#: Pages that show only the screening this browser holds. WeChat fetches a pasted link without
#: the family's cookie, so such a link previews as wherever it redirects (the study page): these
#: pages carry no share tags, only ``noindex``, and stay small on a slow network.
OWN_SCREENING = frozenset(
    {
        "public.chat",
        "public.answer",
        "public.change",
        "public.early_choice",
        "public.handoff",
        "public.result",
        "public.summary",
        "public.refer",
        "public.sent",
        "public.withdraw_here",
        "public.forget",
    }
)


def is_wechat(user_agent: str | None) -> bool:
    """Whether *user_agent* is WeChat's in-app browser."""
    return WECHAT_MARK in (user_agent or "").lower()


def in_wechat() -> bool:
    """Whether this request comes from WeChat's browser (the page then ``Vary: User-Agent``)."""
    if not has_request_context():
        return False
    g.varies_by_agent = True
    return is_wechat(request.headers.get("User-Agent"))


def share_image_url() -> str:
    """The share image's absolute address on ``PUBLIC_URL`` (WeChat fetches it from outside)."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + asset_url(SHARE_IMAGE)


def previewable() -> bool:
    """Whether a link to this page can show a preview (anyone with the link may open it)."""
    return request.endpoint not in OWN_SCREENING


def indexable() -> bool:
    """Whether a search engine may index this page (no result, resume or family page)."""
    return request.endpoint in INDEXABLE


def _vary(response: Response) -> Response:
    """A page that looked at the user agent says so to any cache in between."""
    if g.get("varies_by_agent"):
        response.vary.add("User-Agent")
    return response


def init_app(app: Flask) -> None:
    """Give templates ``in_wechat()``, ``share_image_url()``, ``indexable()`` and ``previewable()``."""
    app.jinja_env.globals.update(
        in_wechat=in_wechat,
        share_image_url=share_image_url,
        indexable=indexable,
        previewable=previewable,
        share_image_size=SHARE_IMAGE_SIZE,
    )
    app.after_request(_vary)
