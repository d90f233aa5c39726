"""Locale selection and the language switch.

Locales are ``en`` and ``zh`` (not ``zh_Hans``: with that, Babel's matching
misses ``zh-CN`` and families silently get English). Translations come from
four gettext domains (``messages``, ``public``, ``coordinator``,
``volunteer``) so the people writing each area never edit the same ``.po``
file; Flask-Babel 4 merges them when ``BABEL_DOMAIN`` and
``BABEL_TRANSLATION_DIRECTORIES`` are parallel ``;``-separated lists, and
caches the merged catalogue per locale on its ``Domain`` object, i.e. once
per process (see :func:`init_app`).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, Response, g, has_request_context, request
from flask_babel import Babel, get_locale
from markupsafe import Markup

from ..config import ROOT
from . import cookies

LOCALES = ("en", "zh")
DEFAULT_LOCALE = "en"
DOMAINS = ("messages", "public", "coordinator", "volunteer")
#: The cookie remembering an explicit ?lang= choice. A cookie of its own, not
#: the session, so the session cookie carries nothing but what it must.
LANG_COOKIE = "lang"
#: The value for ``<html lang>`` and ``hreflang``: mainland Simplified Chinese.
HTML_LANG = {"en": "en", "zh": "zh-CN"}
#: Each language's name written in itself, for the switch.
ENDONYM = {"en": "English", "zh": "中文"}


def primary_locale(tag: str | None) -> str | None:
    """Map a language tag (``zh-Hans-CN``, ``zh_TW``, ``EN-gb``) to one of :data:`LOCALES`."""
    if not tag:
        return None
    primary = tag.replace("_", "-").split("-", 1)[0].strip().lower()
    return primary if primary in LOCALES else None


def accept_language_locale() -> str | None:
    """Pick the client's most preferred language that we have.

    Werkzeug's ``best_match`` tries exact tags before primary subtags, so
    ``zh-TW, en;q=0.5`` would give English; we walk the client's own order
    (highest quality first) and compare primary subtags only.
    """
    for tag, quality in request.accept_languages:
        locale = primary_locale(tag)
        if locale and quality > 0:
            return locale
    return None


def select_locale() -> str:
    """Choose the request's locale: ?lang= (remembered), the screening's, Accept-Language, en."""
    if not has_request_context():
        return DEFAULT_LOCALE
    explicit = primary_locale(request.args.get("lang"))
    if explicit:
        g.lang_chosen = explicit
        return explicit
    remembered = primary_locale(request.cookies.get(LANG_COOKIE))
    if remembered:
        return remembered
    screening = primary_locale(g.get("screening_locale"))
    if screening:
        return screening
    return accept_language_locale() or DEFAULT_LOCALE


def current_locale() -> str:
    """Return ``'en'`` or ``'zh'`` for the current request."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LOCALE


def html_lang() -> str:
    """Return the value for ``<html lang>``: ``zh-CN`` or ``en``."""
    return HTML_LANG[current_locale()]


def switch_url(locale: str) -> str:
    """Return the current page's URL with ``lang`` set to *locale* (a GET link).

    A page rendered by a POST to an address with no GET (the chat's ``/answer``) names the
    address that shows it in ``g.page_path``; the link must never lead to a 405.
    """
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    args.append(("lang", locale))
    return f"{g.get('page_path') or request.path}?{urlencode(args)}"


def lang_switch() -> Markup:
    """Render the 中文 / English switch; the current language is plain text, not a link."""
    here = current_locale()
    parts = []
    for locale in ("zh", "en"):
        lang = HTML_LANG[locale]
        if locale == here:
            part = Markup('<span lang="{}" aria-current="true">{}</span>')
            parts.append(part.format(lang, ENDONYM[locale]))
        else:
            link = Markup('<a href="{}" lang="{}" hreflang="{}">{}</a>')
            parts.append(link.format(switch_url(locale), lang, lang, ENDONYM[locale]))
    return Markup('<span class="lang-switch">{}</span>').format(Markup(" / ").join(parts))


def remember_choice(response: Response) -> Response:
    """Store an explicit ?lang= choice in its cookie for a year."""
    chosen = g.get("lang_chosen")
    if chosen and request.cookies.get(LANG_COOKIE) != chosen:
        cookies.remember(response, LANG_COOKIE, chosen)
    return response


def translations_dir() -> Path:
    """Return the top-level ``translations/`` folder of the checkout."""
    return ROOT / "translations"


def init_app(app: Flask) -> None:
    """Configure Flask-Babel with all domains merged, and the template helpers."""
    directory = app.config.get("TRANSLATIONS_DIR") or str(translations_dir())
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config["BABEL_DOMAIN"] = ";".join(DOMAINS)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join([directory] * len(DOMAINS))
    # One Babel per app: its Domain caches the merged catalogues per locale
    # for the life of the process, and tests get a fresh cache per app.
    Babel(app, locale_selector=select_locale)
    # {% trans %} blocks are extracted trimmed (see prescreen.translate); render them the same way.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.globals.update(lang_switch=lang_switch, html_lang=html_lang, current_locale=current_locale)
    app.after_request(remember_choice)
