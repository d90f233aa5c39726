"""The studies, their flows and the category taxonomy: one registry per app, read through this module.

Every view and command asks here (``studies.get(id)``, ``studies.all()``, ``studies.flow(study)``,
``studies.categories()``) instead of reaching into ``app.extensions``, so there is one place that
knows where they live and one cached :class:`~prescreen.engine.Flow` per study version for the whole app.

Loading a study runs the full validator (every path is walked), and tests build a fresh app for
each test; the sheets only change when someone edits them, so :func:`load` reuses the result
while every file under ``QUESTIONS_DIR`` keeps its size and modification time.

Studies also change without a developer (issue 20): admins upload a version in the coordinator
area (table ``study_versions``) and publish it. A *live* uploaded version replaces the folder's
study of the same id for new screenings (``studies.get``); :func:`version` finds any version a
screening may carry (the folder's, a live, draft or retired upload), parsed once per process.
Every worker notices a publication by comparing the database's set of live versions with its
own, at most every ``STUDY_REFRESH_SECONDS`` (2 s) from a ``before_request`` hook: one tiny query,
never one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import sqlite_utils
from flask import Flask, current_app

from .engine import Category, Flow, Study, StudyError, load_categories, load_studies

#: Where :func:`install` keeps the registry on the app.
EXTENSION_KEY = "prescreen.studies"
#: How often (seconds) a worker asks the database whether another one published a version.
REFRESH_SECONDS = 2.0

log = logging.getLogger(__name__)

_cache: dict[tuple[str, tuple[tuple[str, int, int], ...]], dict[str, Study]] = {}
_lock = threading.Lock()
#: Uploaded versions parsed in this process, by (study id, version hash): the hash is of the content.
_parsed: dict[tuple[str, str], Study] = {}


def _fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    files = []
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            st = path.stat()
            files.append((path.relative_to(directory).as_posix(), st.st_mtime_ns, st.st_size))
    return tuple(files)


def load(directory: str | Path) -> dict[str, Study]:
    """Return ``{study id: Study}`` for *directory*; raises the engine's ``StudyError``."""
    root = Path(directory).resolve()
    key = (str(root), _fingerprint(root))
    with _lock:
        if key not in _cache:
            studies = load_studies(root)
            _cache.clear()  # keep only the current version of the sheets
            _cache[key] = studies
        return dict(_cache[key])


def load_taxonomy(directory: str | Path) -> list[Category]:
    """The category taxonomy (``categories.csv`` in *directory*, none if absent); raises ``StudyError``."""
    path = Path(directory) / "categories.csv"
    return load_categories(path) if path.exists() else []


class Registry:
    """The app's studies by id, each version's flow (built once, read-only, so threads share it), the categories.

    ``folder``: the studies of ``QUESTIONS_DIR``; ``studies``: the live ones (the folder's, each
    replaced by its live upload if it has one), swapped whole when a publication is noticed.
    """

    def __init__(self, studies: Mapping[str, Study], categories: list[Category], questions_dir: str = "") -> None:
        self.folder: dict[str, Study] = dict(studies)
        self.studies: dict[str, Study] = dict(studies)
        self.categories = list(categories)
        self.questions_dir = questions_dir
        self.versions: dict[tuple[str, str], Study] = {(s.id, s.version): s for s in self.folder.values()}
        # Built up front: the flows are then only read, so no request ever needs a lock.
        self.flows: dict[tuple[str, str], Flow] = {key: Flow(study) for key, study in self.versions.items()}
        self.live: tuple[tuple[str, str], ...] = ()
        self.checked_at = float("-inf")
        self.missing: set[tuple[str, str]] = set()
        self.lock = threading.Lock()

    def flow(self, study: Study) -> Flow:
        """The flow for *study* (a study not from this registry gets its own, uncached)."""
        key = (study.id, study.version)
        flow = self.flows.get(key)
        if flow is not None and flow.study is study:
            return flow
        if self.versions.get(key) is not study:
            return Flow(study)
        with self.lock:
            flow = self.flows.get(key)
            if flow is None or flow.study is not study:
                flow = self.flows[key] = Flow(study)
            return flow


def install(app: Flask, studies: Mapping[str, Study], categories: list[Category]) -> Registry:
    """Store the registry on *app*, once, at start-up."""
    registry = app.extensions[EXTENSION_KEY] = Registry(studies, categories, str(app.config.get("QUESTIONS_DIR", "")))
    return registry


def of(app: Flask | None = None) -> Registry:
    """The registry of *app* (default: the current app); tests reach it through their app object."""
    registry: Registry = (app or current_app).extensions[EXTENSION_KEY]
    return registry


def get(study_id: str) -> Study | None:
    """The live study with this id (what a new screening starts on), or None."""
    return of().studies.get(study_id)


def all() -> dict[str, Study]:  # read as ``studies.all()``; the builtin is not needed here
    """Every live study, by id (a copy: callers may filter it)."""
    return dict(of().studies)


def flow(study: Study) -> Flow:
    """The study's cached flow."""
    return of().flow(study)


def categories() -> list[Category]:
    """The category taxonomy (``questions/categories.csv``)."""
    return of().categories


def version(study_id: str, version_hash: str | None, db: sqlite_utils.Database | None = None) -> Study | None:
    """Any known version of a study: the folder's, or an upload (live, draft or retired); None if unknown.

    A screening finishes on the version it started with; a preview shows a draft. Parsed from
    the stored bytes once per process. ``db`` defaults to the request's connection.
    """
    registry = of()
    if not version_hash:
        return None
    key = (study_id, version_hash)
    found = registry.versions.get(key)
    if found is not None or key in registry.missing:
        return found
    if db is None:
        from .store import get_db  # noqa: PLC0415 — the store imports nothing from here; kept lazy all the same

        db = get_db()
    return _stored(registry, db, study_id, version_hash)


def of_screening(row: Mapping[str, object]) -> Study | None:
    """The study as a screening (or its referral) was answered: its own version, else the live one.

    The study team reads a family's answers and criteria in the wording and rules the family had.
    """
    study_id = str(row.get("study_id") or "")
    started = row.get("version")
    found = version(study_id, started) if isinstance(started, str) and started else None
    return found or get(study_id)


def _stored(registry: Registry, db: sqlite_utils.Database, study_id: str, version_hash: str) -> Study | None:
    """Parse a stored upload (once per process), remember it on the registry; None when absent or unusable."""
    from .store import MISSING_SCHEMA, study_versions  # noqa: PLC0415
    from .study_files import UploadError, load_upload  # noqa: PLC0415

    key = (study_id, version_hash)
    with registry.lock:
        study = _parsed.get(key)
    if study is None:
        try:
            stored = study_versions.content_of(db, study_id, version_hash)
        except MISSING_SCHEMA:  # not migrated yet (MIGRATE_ON_START off)
            stored = None
        if stored is None:
            registry.missing.add(key)
            return None
        try:
            study = load_upload(study_id, stored[0], stored[1], registry.questions_dir)
        except (StudyError, UploadError) as error:  # e.g. an engine update now refuses an old upload
            log.error("stored study version %s %s no longer loads: %s", study_id, version_hash, error)
            registry.missing.add(key)
            return None
        with registry.lock:
            study = _parsed.setdefault(key, study)
    registry.versions[key] = study
    return study


def refresh(db: sqlite_utils.Database, app: Flask | None = None, *, force: bool = False) -> bool:
    """Take up versions published or retired since the last look (by any worker); returns whether any changed.

    Without ``force``, looks at most every ``STUDY_REFRESH_SECONDS``.
    """
    from .store import MISSING_SCHEMA, study_versions  # noqa: PLC0415

    registry = of(app)
    now = time.monotonic()
    interval = float((app or current_app).config.get("STUDY_REFRESH_SECONDS", REFRESH_SECONDS))
    if not force and now - registry.checked_at < interval:
        return False
    registry.checked_at = now
    registry.missing.clear()  # a version asked for before its upload is looked for again
    try:
        live = study_versions.live(db)
    except MISSING_SCHEMA:  # not migrated yet
        return False
    if live == registry.live:
        return False
    current = dict(registry.folder)
    for study_id, version_hash in live:
        study = registry.versions.get((study_id, version_hash)) or _stored(registry, db, study_id, version_hash)
        if study is not None:
            current[study_id] = study
    registry.studies = current  # swapped whole: a request reads either the old set or the new one
    registry.live = live
    return True


def _tick() -> None:
    """``before_request``: every few seconds, see whether another worker published (see :func:`refresh`)."""
    registry = of()
    interval = float(current_app.config.get("STUDY_REFRESH_SECONDS", REFRESH_SECONDS))
    if time.monotonic() - registry.checked_at < interval:
        return
    from .store import get_db  # noqa: PLC0415

    refresh(get_db())


def init_app(app: Flask) -> None:
    """After the migration: take up the live uploaded versions, and look for new ones every few seconds."""
    from .store import connect  # noqa: PLC0415

    app.before_request(_tick)
    if not app.config.get("MIGRATE_ON_START"):
        return  # the database may not exist yet (`prescreen db init` makes it): the first request looks
    db = connect(app.config["DATABASE"])
    try:
        refresh(db, app, force=True)
    finally:
        db.close()
