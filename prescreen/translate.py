"""``prescreen translate extract|update|compile``: one gettext domain per area.

Each area's strings go to its own catalogue so the engineers (and translators)
of the chat, the coordinator pages and the volunteer mails never edit the same
``.po`` file. English is the msgid; ``zh`` is the only catalogue. The ``.pot``
templates are build products (written to ``translations/``, ignored by git):
they are regenerated from source on every ``extract``, and the test suite
extracts its own fresh copy, so a committed one could only ever be stale.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path

import click
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.util import pathmatch

from .web.i18n import DOMAINS, translations_dir

ROOT = Path(__file__).resolve().parent.parent
TARGET_LOCALES = ("zh",)
KEYWORDS = {
    "_": None,
    "_l": None,
    "gettext": None,
    "lazy_gettext": None,
    "ngettext": (1, 2),
    "lazy_ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "lazy_pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "lazy_npgettext": ((1, "c"), 2, 3),
}
COMMENT_TAGS = ("TRANSLATORS:",)
HEADER_COMMENT = """\
# Interface translations of prescreen, domain '{domain}', locale '{locale}'.
# English is the msgid. Fill in msgstr only; keep every %(name)s placeholder.
# After changing source strings run `prescreen translate update`; the tests fail
# while an entry here is missing, empty or fuzzy."""


def _area(names: Iterable[str]) -> list[str]:
    """Source patterns of one area: its modules (or package) and its template folders."""
    patterns: list[str] = []
    for name in names:
        patterns += [f"prescreen/{name}.py", f"prescreen/{name}_*.py", f"prescreen/{name}/**.py"]
        patterns += [f"templates/{name}/**"]
    return patterns


#: Which source files feed which domain; anything unlisted goes to ``messages``.
AREAS: dict[str, list[str]] = {
    "public": _area(["public"]),
    "coordinator": _area(["coordinator", "auth"]),
    "volunteer": _area(["volunteer", "volunteers", "mail", "email"]),
}
#: Never scanned: the engine is pure Python and has no interface strings.
IGNORED = ["prescreen/engine/**", "prescreen/static/**"]


def domain_of(relpath: str) -> str | None:
    """Return the domain a source file belongs to, or None if it is not scanned."""
    if any(pathmatch(p, relpath) for p in IGNORED):
        return None
    for domain, patterns in AREAS.items():
        if any(pathmatch(p, relpath) for p in patterns):
            return domain
    return "messages"


def source_files(root: Path = ROOT) -> Iterable[tuple[str, Path, str]]:
    """Yield ``(relative path, path, extraction method)`` for every scanned file."""
    for top, suffixes, method in (
        ("prescreen", {".py"}, "python"),
        ("templates", {".html", ".txt", ".xml"}, "jinja2"),
    ):
        for path in sorted((root / top).rglob("*")):
            if path.suffix in suffixes and path.is_file() and "__pycache__" not in path.parts:
                yield path.relative_to(root).as_posix(), path, method


def extract(root: Path = ROOT) -> dict[str, Catalog]:
    """Extract every domain's messages from the source tree into fresh catalogues."""
    catalogs = {d: Catalog(project="prescreen", fuzzy=False) for d in DOMAINS}
    options = {"jinja2": {"trimmed": "true"}, "python": {}}
    for relpath, path, method in source_files(root):
        domain = domain_of(relpath)
        if domain is None:
            continue
        results = extract_from_file(method, path, KEYWORDS, COMMENT_TAGS, options[method], strip_comment_tags=True)
        for lineno, message, comments, context in results:
            catalogs[domain].add(
                message,
                None,
                [(relpath, lineno)],
                auto_comments=comments,
                context=context,
                flags=("python-format",) if _has_placeholder(message) else (),
            )
    return catalogs


def _has_placeholder(message: str | tuple[str, ...]) -> bool:
    texts = message if isinstance(message, tuple) else (message,)
    return any("%(" in t for t in texts if t)


def po_path(directory: Path, locale: str, domain: str) -> Path:
    """Return the path of *domain*'s catalogue for *locale*."""
    return directory / locale / "LC_MESSAGES" / f"{domain}.po"


@click.group("translate")
def translate_cli() -> None:
    """Extract, update and compile the interface translations (gettext)."""


@translate_cli.command("extract")
def extract_command() -> None:
    """Write translations/<domain>.pot from the source (templates and Python)."""
    directory = translations_dir()
    directory.mkdir(exist_ok=True)
    for domain, catalog in extract().items():
        with open(directory / f"{domain}.pot", "wb") as fh:
            write_po(fh, catalog, width=100, sort_by_file=True)
        click.echo(f"translations/{domain}.pot: {len(catalog)} messages")


@translate_cli.command("update")
def update_command() -> None:
    """Extract, then merge new messages into each zh .po (no fuzzy guesses)."""
    directory = translations_dir()
    for domain, template in extract().items():
        for locale in TARGET_LOCALES:
            path = po_path(directory, locale, domain)
            if path.exists():
                with open(path, "rb") as fh:
                    catalog = read_po(fh, locale=locale, domain=domain)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                catalog = Catalog(
                    locale=locale,
                    domain=domain,
                    header_comment=HEADER_COMMENT.format(domain=domain, locale=locale),
                    project="prescreen",
                    version="1",
                    copyright_holder="the prescreen team",
                    last_translator="the prescreen team",
                    language_team=f"{locale} (prescreen)",
                    fuzzy=False,
                )
            # A fuzzy guess looks translated to a reviewer skimming the file
            # but is not shown at runtime; better an honest empty entry.
            catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
            with open(path, "wb") as fh:
                write_po(fh, catalog, width=100, sort_by_file=True, ignore_obsolete=True)
            missing = sum(1 for m in catalog if m.id and not m.string)
            click.echo(f"{path.relative_to(ROOT)}: {len(catalog)} messages, {missing} untranslated")


@translate_cli.command("compile")
def compile_command() -> None:
    """Compile every translations/*/LC_MESSAGES/*.po into a .mo (skipping fuzzy entries)."""
    count = 0
    for path in sorted(translations_dir().glob("*/LC_MESSAGES/*.po")):
        with open(path, "rb") as fh:
            catalog = read_po(fh)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        target = path.with_suffix(".mo")
        # A running server (or a test beside `make run`) may be reading the catalogue right now:
        # write a whole new file and swap it in, so no reader ever sees half of one.
        if not target.exists() or target.read_bytes() != buffer.getvalue():
            partial = target.with_suffix(f".mo.{os.getpid()}.tmp")
            partial.write_bytes(buffer.getvalue())
            os.replace(partial, target)
        count += 1
    click.echo(f"compiled {count} catalogues")
