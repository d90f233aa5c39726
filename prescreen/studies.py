"""The studies, their flows and the category taxonomy: one registry per app, read through this module.

Every view and command asks here (``studies.get(id)``, ``studies.all()``, ``studies.flow(study)``,
``studies.categories()``) instead of reaching into ``app.extensions``, so there is one place that
knows where they live and one cached :class:`~prescreen.engine.Flow` per study for the whole app.

Loading a study runs the full validator (every path is walked), and tests build a fresh app for
each test; the sheets only change when someone edits them, so :func:`load` reuses the result
while every file under ``QUESTIONS_DIR`` keeps its size and modification time.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from flask import Flask, current_app

from .engine import Category, Flow, Study, load_categories, load_studies

#: Where :func:`install` keeps the registry on the app.
EXTENSION_KEY = "prescreen.studies"

_cache: dict[tuple[str, tuple[tuple[str, int, int], ...]], dict[str, Study]] = {}
_lock = threading.Lock()


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
    """The app's studies by id, each study's flow (built once, read-only, so threads share it), the categories."""

    def __init__(self, studies: Mapping[str, Study], categories: list[Category]) -> None:
        self.studies: dict[str, Study] = dict(studies)
        self.categories = list(categories)
        # Built up front: the flows are then only read, so no request ever needs a lock.
        self.flows: dict[str, Flow] = {sid: Flow(study) for sid, study in self.studies.items()}

    def flow(self, study: Study) -> Flow:
        """The flow for *study* (a study not from this registry gets its own, uncached)."""
        flow = self.flows.get(study.id)
        return flow if flow is not None and flow.study is study else Flow(study)


def install(app: Flask, studies: Mapping[str, Study], categories: list[Category]) -> Registry:
    """Store the registry on *app*, once, at start-up."""
    registry = app.extensions[EXTENSION_KEY] = Registry(studies, categories)
    return registry


def of(app: Flask | None = None) -> Registry:
    """The registry of *app* (default: the current app); tests reach it through their app object."""
    registry: Registry = (app or current_app).extensions[EXTENSION_KEY]
    return registry


def get(study_id: str) -> Study | None:
    """The loaded study with this id, or None."""
    return of().studies.get(study_id)


def all() -> dict[str, Study]:  # read as ``studies.all()``; the builtin is not needed here
    """Every loaded study, by id (a copy: callers may filter it)."""
    return dict(of().studies)


def flow(study: Study) -> Flow:
    """The study's cached flow."""
    return of().flow(study)


def categories() -> list[Category]:
    """The category taxonomy (``questions/categories.csv``)."""
    return of().categories
