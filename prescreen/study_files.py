"""An uploaded study file (one ``.xlsx`` workbook or a ``.zip`` of the four CSV sheets) → a checked Study.

The engine reads study folders, and stays pure: this module writes the upload's bytes into a
temporary ``questions/<study id>/`` folder (with a copy of the app's ``categories.csv`` beside it,
so categories are checked as for the folder's studies) and asks the engine to load it, so an
upload is checked exactly as a folder is, and each problem names sheet, row and column.

Uploads come from staff browsers, but a file can still be hostile or broken: the size is capped,
a zip may hold only the four sheet names (no folders, no ``../``), and no member, nor a workbook's
parts together, may unpack beyond a fixed size (a zip bomb stops at the header check, and the
read itself is capped in case a header lies).
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from .engine import Study, load_study
from .engine.cells import STUDY_ID_RE
from .engine.sheets import SHEETS

#: The largest upload taken (bytes); the real study's workbook is about 40 kB.
MAX_UPLOAD = 2 * 1024 * 1024
#: The most one CSV sheet may unpack to (bytes).
MAX_MEMBER = 2 * 1024 * 1024
#: The most a workbook's parts may unpack to together (bytes): a study's sheets are text.
MAX_UNPACKED = 20 * 1024 * 1024
#: The most parts a workbook may hold (a saved workbook has a dozen or two).
MAX_PARTS = 200
#: The names a CSV zip may hold, and nothing else.
CSV_NAMES = tuple(f"{name}.csv" for name in SHEETS)
#: The formats stored in ``study_versions.format``.
FORMATS = ("xlsx", "csv-zip")


class UploadError(Exception):
    """An upload refused before the engine reads it; ``code`` is translated by the page, ``name`` is a member's name."""

    def __init__(self, code: str, name: str = "") -> None:
        super().__init__(f"{code}: {name}" if name else code)
        self.code = code
        self.name = name


def format_of(filename: str) -> str:
    """``xlsx`` or ``csv-zip`` from the file's name; raises ``UploadError('bad_type')`` otherwise."""
    lower = filename.lower().strip()
    if lower.endswith(".xlsx"):
        return "xlsx"
    if lower.endswith(".zip"):
        return "csv-zip"
    raise UploadError("bad_type")


def shown_name(filename: str, study_id: str) -> str:
    """The workbook's name as problems show it: the team's own file name, made safe for a folder."""
    name = re.sub(r"[^\w.\- ]", "_", Path(filename.replace("\\", "/")).name).lstrip(".~$ ")[:100]
    return name if name.lower().endswith(".xlsx") and len(name) > len(".xlsx") else f"{study_id}.xlsx"


def _archive(data: bytes) -> zipfile.ZipFile:
    if len(data) > MAX_UPLOAD:
        raise UploadError("too_big")
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UploadError("not_zip") from None


def csv_members(data: bytes) -> dict[str, bytes]:
    """The CSV sheets in a zip, by name; only the four sheet names, each unpacking to at most ``MAX_MEMBER``."""
    members: dict[str, bytes] = {}
    with _archive(data) as archive:
        infos = archive.infolist()
        if len(infos) > len(CSV_NAMES):
            raise UploadError("too_many")
        for info in infos:
            if info.filename not in CSV_NAMES:
                raise UploadError("member_name", info.filename[:80])
            if info.filename in members:
                raise UploadError("duplicate", info.filename)
            if info.flag_bits & 0x1:
                raise UploadError("encrypted", info.filename)
            if info.file_size > MAX_MEMBER:
                raise UploadError("member_big", info.filename)
            try:
                with archive.open(info) as handle:
                    body = handle.read(MAX_MEMBER + 1)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
                raise UploadError("not_zip") from None
            if len(body) > MAX_MEMBER:
                raise UploadError("member_big", info.filename)
            members[info.filename] = body
    return members


def check_workbook_archive(data: bytes) -> None:
    """Refuse a workbook whose parts would unpack beyond ``MAX_UNPACKED`` (before openpyxl reads it)."""
    with _archive(data) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_PARTS or sum(info.file_size for info in infos) > MAX_UNPACKED:
            raise UploadError("member_big", "")


def load_upload(study_id: str, fmt: str, data: bytes, questions_dir: str | Path, filename: str = "") -> Study:
    """The study in an uploaded file, checked by the engine as a folder's would be.

    :raises UploadError: the file is refused before reading (size, type, zip members).
    :raises StudyError: every problem in the sheets, each with sheet, row and column.
    """
    if not STUDY_ID_RE.match(study_id) or len(study_id) > 80:
        raise UploadError("bad_id")
    if fmt not in FORMATS:
        raise UploadError("bad_type")
    files = csv_members(data) if fmt == "csv-zip" else {shown_name(filename, study_id): data}
    if fmt == "xlsx":
        check_workbook_archive(data)
    with tempfile.TemporaryDirectory(prefix="prescreen-upload-") as tmp:
        root = Path(tmp) / "questions"
        folder = root / study_id
        folder.mkdir(parents=True)
        categories = Path(questions_dir) / "categories.csv"
        if categories.is_file():
            shutil.copyfile(categories, root / "categories.csv")
        for name, body in files.items():
            (folder / name).write_bytes(body)
        return load_study(folder)
