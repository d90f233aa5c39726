"""Every interface string has a real Chinese translation, and all domains are live at runtime."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from flask_babel import get_translations, gettext

from prescreen.translate import TARGET_LOCALES, domain_of, extract, po_path
from prescreen.web.i18n import DOMAINS

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]")


def _strings(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _placeholders(value: str | tuple[str, ...] | list[str] | None) -> set[str]:
    return {name for text in _strings(value) for name in PLACEHOLDER.findall(text)}


def _key(message: Message) -> tuple[str, str | None]:
    first = message.id if isinstance(message.id, str) else message.id[0]
    return first, message.context


@pytest.fixture(scope="module")
def fresh_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Catalog]:
    """Extract every domain from the source into a temp dir, as `translate extract` does."""
    out = tmp_path_factory.mktemp("pot")
    catalogs = {}
    for domain, catalog in extract(ROOT).items():
        with open(out / f"{domain}.pot", "wb") as fh:
            write_po(fh, catalog)
        with open(out / f"{domain}.pot", "rb") as fh:
            catalogs[domain] = read_po(fh)
    return catalogs


@pytest.mark.parametrize("locale", TARGET_LOCALES)
@pytest.mark.parametrize("domain", DOMAINS)
def test_every_source_string_is_translated(fresh_templates: dict[str, Catalog], domain: str, locale: str) -> None:
    template = fresh_templates[domain]
    path = po_path(ROOT / "translations", locale, domain)
    if not len(template):
        return
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: run `prescreen translate update`"
    with open(path, "rb") as fh:
        translated = {_key(m): m for m in read_po(fh, locale=locale) if m.id}
    problems = []
    for message in template:
        if not message.id:
            continue
        where = ", ".join(f"{f}:{n}" for f, n in message.locations)
        entry = translated.get(_key(message))
        if entry is None:
            problems.append(f"missing ({where}): {message.id!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy ({where}): {message.id!r}")
        elif not all(s.strip() for s in _strings(entry.string)) or not _strings(entry.string):
            problems.append(f"empty ({where}): {message.id!r}")
        elif _placeholders(entry.string) != _placeholders(entry.id):
            problems.append(f"placeholders differ ({where}): {message.id!r} -> {entry.string!r}")
    assert not problems, f"{path.relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("path", "domain"),
    [
        ("templates/base.html", "messages"),
        ("templates/errors/404.html", "messages"),
        ("prescreen/forms.py", "messages"),
        ("templates/public/chat.html", "public"),
        ("prescreen/public.py", "public"),
        ("prescreen/auth.py", "coordinator"),
        ("templates/coordinator/queue.html", "coordinator"),
        ("prescreen/mail.py", "volunteer"),
        ("templates/email/confirm.txt", "volunteer"),
        ("templates/volunteer/signup.html", "volunteer"),
        ("prescreen/engine/flow.py", None),
        ("prescreen/web/forms.py", "messages"),
        ("prescreen/public/chat.py", "public"),
        ("prescreen/auth/views.py", "coordinator"),
        ("prescreen/coordinator/family.py", "coordinator"),
        ("prescreen/volunteer/views.py", "volunteer"),
        ("prescreen/mail/send.py", "volunteer"),
    ],
)
def test_each_source_file_feeds_its_areas_domain(path: str, domain: str | None) -> None:
    assert domain_of(path) == domain


def _catalogue(directory: Path, domain: str, msgid: str, msgstr: str) -> None:
    catalog = Catalog(locale="zh", domain=domain, fuzzy=False)
    catalog.add(msgid, msgstr)
    path = directory / "zh" / "LC_MESSAGES" / f"{domain}.mo"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        write_mo(fh, catalog)


def test_all_domains_are_merged_at_runtime(make_app, tmp_path: Path) -> None:
    directory = tmp_path / "translations"
    for domain in DOMAINS:
        _catalogue(directory, domain, f"hello from {domain}", f"{domain} 你好")
    app = make_app(TRANSLATIONS_DIR=str(directory))
    with app.test_request_context("/?lang=zh"):
        for domain in DOMAINS:
            assert gettext(f"hello from {domain}") == f"{domain} 你好"
    with app.test_request_context("/?lang=en"):
        assert gettext("hello from public") == "hello from public"


def test_catalogues_are_loaded_once_per_process(app) -> None:
    with app.test_request_context("/?lang=zh"):
        first = get_translations()
    with app.test_request_context("/?lang=zh"):
        assert get_translations() is first


def test_wtforms_own_messages_follow_the_request_language_and_load_once(app) -> None:
    """WTForms' built-in messages ("Not a valid choice") come in the family's language."""
    from prescreen.web.forms import TextForm

    with app.test_request_context("/?lang=zh"):
        translations = TextForm(meta={"csrf": False}).meta.get_translations(None)
        assert translations.gettext("Not a valid choice.") == "不是有效的选择。"
        first = translations._current()
    with app.test_request_context("/?lang=en"):
        assert translations.gettext("Not a valid choice.") == "Not a valid choice."
    with app.test_request_context("/?lang=zh"):
        assert translations._current() is first
