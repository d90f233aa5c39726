"""Load the study sheets once per process, not once per app.

Loading a study runs the full validator (every path is walked), and tests
build a fresh app for each test; the sheets only change when someone edits
them, so the result is reused while every file under ``QUESTIONS_DIR`` keeps
its size and modification time.
"""

from __future__ import annotations

import threading
from pathlib import Path

from .engine import Study, load_studies

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
