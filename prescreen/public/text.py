"""Cheap interface text for the chat pages: one catalogue lookup per request, not per string.

Flask-Babel's ``_()`` costs about 20 µs a call here (context, locale and domain look-ups each
time), more than rendering a whole 30-string chat page. The public pages instead take the
merged catalogue of the request's locale once (Flask-Babel caches it per process) and give the
templates ``_``/``gettext``/``ngettext`` that call it directly, with Jinja's own new-style
semantics (autoescape, ``%(name)s`` placeholders). Also here: dates in the family's locale, and
the versions of the consent texts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from typing import Any

from babel.dates import format_date, format_skeleton
from babel.support import NullTranslations
from flask import current_app, render_template
from flask_babel import force_locale, get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from ..engine import Month

BABEL_LOCALE = {"en": "en", "zh": "zh_Hans_CN"}


#: The msgctxt of a Chinese text said to the patient (你) where the parent's says 您 and the English
#: is the same for both (:mod:`prescreen.public.voice` lists them).
PATIENT = "patient"


def teen_entries(tr: NullTranslations) -> tuple[dict[str, str], frozenset[str]]:
    """The catalogue's patient-voice texts: ``{msgid: msgstr}``, and the msgids of plural ones.

    Read once per catalogue (Flask-Babel keeps one per locale for the life of the process).
    """
    cached = getattr(tr, "_prescreen_teen", None)
    if cached is None:
        prefix = PATIENT + "\x04"
        catalog = getattr(tr, "_catalog", {})
        singular = {k[len(prefix) :]: v for k, v in catalog.items() if isinstance(k, str) and k.startswith(prefix)}
        plural = frozenset(
            k[0][len(prefix) :] for k in catalog if isinstance(k, tuple) and str(k[0]).startswith(prefix)
        )
        cached = (singular, plural)
        tr._prescreen_teen = cached  # type: ignore[attr-defined]
    return cached


def template_i18n(
    translations: NullTranslations | None = None, voice: str = "guardian"
) -> dict[str, Callable[..., Any]]:
    """``_``, ``gettext`` and ``ngettext`` for a template, bound to one catalogue and one voice.

    In the patient's voice a text that has a ``patient`` variant in the catalogue (the same
    English, 你 for 您 in Chinese) is said that way; every other text is looked up as usual.
    """
    tr = translations or get_translations()
    lookup = tr.gettext
    nlookup = tr.ngettext
    if voice == PATIENT:
        teen, teen_plural = teen_entries(tr)
        if teen or teen_plural:

            def lookup(message: str) -> str:
                found = teen.get(message)
                return found if found else tr.gettext(message)

            def nlookup(one: str, many: str, num: int) -> str:
                return tr.npgettext(PATIENT, one, many, num) if one in teen_plural else tr.ngettext(one, many, num)

    @pass_context
    def gettext(context: Context, message: str, **variables: Any) -> str:
        rv: str = lookup(message)
        if context.eval_ctx.autoescape:
            rv = Markup(rv)  # noqa: S704 (catalogue text, % escapes variables) # nosec B704
        return rv % variables

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        rv: str = nlookup(singular, plural, num)
        if context.eval_ctx.autoescape:
            rv = Markup(rv)  # noqa: S704 (catalogue text, % escapes variables) # nosec B704
        return rv % variables

    @pass_context
    def pgettext(context: Context, msgctxt: str, message: str, **variables: Any) -> str:
        rv: str = tr.pgettext(msgctxt, message)
        if context.eval_ctx.autoescape:
            rv = Markup(rv)  # noqa: S704 (catalogue text, % escapes variables) # nosec B704
        return rv % variables

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext, "pgettext": pgettext}


def translations_for(lang: str) -> NullTranslations:
    """The merged catalogue of *lang* (cached by Flask-Babel for the life of the process)."""
    with force_locale(lang):
        return get_translations()


def render_in(lang: str, template: str, **context: Any) -> str:
    """Render *template* in *lang* (and the context's ``voice``) whatever the request's locale.

    For the print summary and the consent hash.
    """
    i18n = template_i18n(translations_for(lang), context.get("voice", "guardian"))
    return render_template(template, lang=lang, family_voice=context.get("voice", "guardian"), **i18n, **context)


def long_date(day: date | str | None, lang: str) -> str:
    """A date as families write it: ``2027年4月1日`` / ``1 April 2027``."""
    if day is None:
        return ""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    if lang == "zh":
        return format_date(day, "long", locale=BABEL_LOCALE["zh"])
    return format_date(day, "d MMMM y", locale="en")


def month_text(value: str | Month, lang: str) -> str:
    """A ``YYYY-MM`` answer as ``2014年3月`` / ``March 2014``."""
    month = value if isinstance(value, Month) else Month(int(str(value)[:4]), int(str(value)[5:7]))
    return format_skeleton("yMMMM", date(month.year, month.month, 1), locale=BABEL_LOCALE[lang])


def consent_version(kind: str) -> str:
    """A short hash of a consent text as shown in BOTH languages (``health`` or ``share``).

    It changes whenever the wording, a translation or a contact named in it changes, so each
    consent row names exactly the text that was agreed to. Computed once per process.
    """
    cache: dict[str, str] = current_app.extensions.setdefault("consent_versions", {})
    if kind not in cache:
        template = {"health": "public/_notice.html", "share": "public/_share_notice.html"}[kind]
        digest = hashlib.sha256()
        for lang in ("zh", "en"):
            guardian = render_in(lang, template, **notice_context())
            digest.update(guardian.encode())
            # A text with a wording of its own for a patient sending their own details is
            # versioned with it (a text the same in both voices keeps the version it had).
            patient = render_in(lang, template, voice="patient", **notice_context())
            if patient != guardian:
                digest.update(patient.encode())
        cache[kind] = f"{kind}-{digest.hexdigest()[:16]}"
    return cache[kind]


def notice_context() -> dict[str, Any]:
    """What the privacy notice names: contacts from configuration, never invented."""
    config = current_app.config
    return {
        "privacy_contact": config.get("PRIVACY_CONTACT") or "",
        "incomplete_days": int(config.get("RETENTION_INCOMPLETE_DAYS") or config["RESUME_DAYS"]),
        "closed_days": int(config.get("RETENTION_CLOSED_REFERRAL_DAYS") or 180),
        # The same settings `prescreen purge` applies, so the notice says what the purge does.
        "finished_days": int(config["RETENTION_SCREENING_DAYS"]),
        "open_days": int(config["RETENTION_OPEN_REFERRAL_DAYS"]),
    }
