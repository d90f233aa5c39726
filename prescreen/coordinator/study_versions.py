"""A study's versions (admins): upload a workbook or CSV zip, check it, keep it as a draft, publish, retire.

Studies change without a developer or a restart (issue 20). An upload is checked by the engine
exactly as a study folder is (:mod:`prescreen.study_files`); every problem is listed with sheet,
row and column and nothing is stored until it passes. A passing upload becomes a *draft* (previewed
as a family would see it, never served). Publishing, after a confirmation page that says what
changes, makes it *live*: new screenings start on it, on this worker at once and on every other
within a few seconds (:func:`prescreen.studies.refresh`); screenings under way finish on the version
they started with. The first publication of a new study tells the volunteers who asked to hear
about studies like it, as ``prescreen studies publish`` does. Every upload, publication and
retirement is audited (``study_version.*``).

Who: admins whose account is not limited to other studies; a new study id needs an admin with
access to all studies.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField
from werkzeug.datastructures import CombinedMultiDict, MultiDict
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from .. import studies
from ..config import ConfigError
from ..engine import Study, StudyError
from ..engine.diff import diff
from ..extensions import csrf
from ..mail import notify
from ..store import audit, get_db, transaction
from ..store import study_versions as version_store
from ..study_files import MAX_UPLOAD, UploadError, format_of, load_upload
from ..web.forms import TextForm
from ..web.i18n import current_locale
from .shared import actor_label
from .version_labels import version_label

#: What the request may carry: the file and a few text fields (the app's usual limit is 64 kB).
MAX_REQUEST = MAX_UPLOAD + 64 * 1024

#: Why an upload was refused before its sheets were read, in the team's language.
UPLOAD_ERRORS = {
    "bad_type": _l("Upload an Excel workbook (.xlsx) or a .zip of the four CSV sheets."),
    "too_big": _l("The file is larger than 2 MB. A study's sheets are much smaller: check it is the right file."),
    "not_zip": _l("The file cannot be opened. Save it again from Excel or WPS (.xlsx), or zip the CSV files again."),
    "too_many": _l(
        "The zip holds more than the four sheets: only study.csv, criteria.csv, questions.csv and choices.csv."
    ),
    "member_name": _l(
        "The zip holds “%(name)s”: only study.csv, criteria.csv, questions.csv and choices.csv, not in a folder."
    ),
    "duplicate": _l("The zip holds “%(name)s” twice."),
    "encrypted": _l("“%(name)s” in the zip has a password. Zip the files again without one."),
    "member_big": _l("The file unpacks to far more than a study's sheets. Check it is the right file."),
    "bad_id": _l("A study id is lower-case letters, digits and “-”, like pumch-pediatric-sjogren."),
}
#: The table of changes between two versions (another engineer's partial), used once it exists.
DIFF_PARTIAL = "coordinator/_version_diff.html"
#: The states of a version, as the page names them.
STATE_LABELS = {
    "draft": _l("Draft"),
    "live": _l("Live"),
    "retired": _l("Retired"),
    "folder": _l("From the study folder"),
}


class UploadForm(TextForm):
    """One upload: the file and the ethics-approved label and date typed in by the team."""

    upload = FileField(_l("Workbook (.xlsx) or zip of the CSV sheets"))
    label = StringField(
        _l("Ethics-approved version"),
        validators=[DataRequired(_l("Type the version number the ethics committee approved.")), Length(max=40)],
    )
    approved_on = DateField(
        _l("Date approved"), validators=[DataRequired(_l("Type the date the ethics committee approved it."))]
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if request.method == "POST":  # the text fields, and the one file field (a file posted as "label" is ignored)
            files = MultiDict([("upload", storage) for storage in request.files.getlist("upload")[:1]])
            kwargs.setdefault("formdata", CombinedMultiDict((files, request.form)))
        super().__init__(*args, **kwargs)


class NewStudyForm(UploadForm):
    """An upload for a study not yet in the app: its id too (it must match the study sheet's ``id``)."""

    study_id = StringField(
        _l("Study id"),
        validators=[
            DataRequired(_l("Type the study id, as in the study sheet.")),
            Length(max=80),
            Regexp(r"^[a-z0-9][a-z0-9-]*$", message=UPLOAD_ERRORS["bad_id"]),
        ],
    )


# -- who may do what ---------------------------------------------------------------------------
def may_manage(study_id: str) -> bool:
    """An admin whose account is for this study (or for every study)."""
    return bool(current_user.is_admin) and (not current_user.studies or study_id in current_user.studies)


def may_add_study() -> bool:
    """An admin with access to every study: only they may bring in a new study id."""
    return bool(current_user.is_admin) and not current_user.studies


def known_study(study_id: str) -> bool:
    """A study in the folder, live, or with a stored version."""
    registry = studies.of()
    return study_id in registry.folder or study_id in registry.studies or study_id in version_store.study_ids(get_db())


def unpublished_studies() -> list[str]:
    """Ids of studies with stored versions but none live and no folder: not on the studies list yet."""
    registry = studies.of()
    return sorted(version_store.study_ids(get_db()) - set(registry.studies) - set(registry.folder))


def require_manager(study_id: str) -> None:
    """Admins of this study only; an unknown study is a 404 (for anyone who may manage it)."""
    if not may_manage(study_id):
        abort(403)
    if not known_study(study_id):
        abort(404)


# -- helpers the pages share -------------------------------------------------------------------
def title_of(study_id: str, rows: list[dict[str, Any]]) -> str:
    """The study's title: the live one, else the folder's, else that of its newest loadable upload."""
    lang = current_locale()
    study = studies.get(study_id) or studies.of().folder.get(study_id)
    for row in rows:
        if study is not None:
            break
        study = studies.version(study_id, row["version"])
    return study.text("title", lang) if study is not None else study_id


def preview_url(study_id: str, version: str) -> str:
    """The preview of a version as a family would see it (:mod:`.study_preview`)."""
    return url_for("coordinator.study_preview", study_id=study_id, version=version)


def picture_url(study_id: str, version: str) -> str:
    """The branching picture of a version (:mod:`.branching_page`; the live one needs no version)."""
    live = studies.get(study_id)
    extra = {} if live is not None and live.version == version else {"version": version}
    return url_for("coordinator.branching_page", study_id=study_id, **extra)


def folder_row(study_id: str, live_upload: bool) -> dict[str, Any] | None:
    """The study folder's version as a row of the table (it stays live until an upload is published)."""
    study = studies.of().folder.get(study_id)
    if study is None:
        return None
    return {
        "id": None,
        "version": study.version,
        "label": study.meta.get("version_label", "") or "",
        "approved_on": "",
        "state": "retired" if live_upload else "live",
        "source": "folder",
    }


def render_versions(study_id: str, form: UploadForm, problems: list[str] | None = None, status: int = 200) -> Any:
    db = get_db()
    rows = version_store.of_study(db, study_id)
    live_upload = any(row["state"] == "live" for row in rows)
    accounts = [int(row["uploaded_by"][5:]) for row in rows if row["uploaded_by"].startswith("user:")]
    emails = audit.emails_of(db, sorted(set(accounts)))
    for row in rows:  # who uploaded it, as the team knows them (their e-mail)
        account = row["uploaded_by"][5:]
        row["uploader"] = actor_label(row["uploaded_by"], emails.get(int(account)) if account.isdigit() else None)
    page = render_template(
        "coordinator/study_versions.html",
        study_id=study_id,
        title=title_of(study_id, rows),
        rows=rows,
        folder=folder_row(study_id, live_upload),
        form=form,
        problems=problems,
        state_labels=STATE_LABELS,
        preview_url=preview_url,
        picture_url=picture_url,
        new_study=False,
    )
    return page, status


def take_upload(study_id: str, form: UploadForm) -> tuple[int | None, list[str]]:
    """Check the posted file and keep it as a draft; returns (the new version's id, problems)."""
    storage = form.upload.data
    if storage is None or not getattr(storage, "filename", ""):
        form.upload.errors = [_("Choose the file to upload.")]
        return None, []
    try:
        fmt = format_of(storage.filename)
        data = storage.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise UploadError("too_big")
        study = load_upload(study_id, fmt, data, current_app.config["QUESTIONS_DIR"], storage.filename)
    except UploadError as error:
        form.upload.errors = [str(UPLOAD_ERRORS.get(error.code, UPLOAD_ERRORS["not_zip"])) % {"name": error.name}]
        return None, []
    except StudyError as error:
        return None, [str(problem) for problem in error.problems]
    approved = form.approved_on.data
    version_id = version_store.add_draft(
        get_db(),
        study_id=study_id,
        version=study.version,
        fmt=fmt,
        content=data,
        label=(form.label.data or "").strip(),
        approved_on=approved.isoformat() if isinstance(approved, dt.date) else str(approved),
        actor=current_user.actor,
    )
    if version_id is None:
        form.upload.errors = [_("This exact version is already stored below: nothing new was kept.")]
    return version_id, []


# -- the pages ---------------------------------------------------------------------------------
@csrf.exempt
def study_versions(study_id: str) -> ResponseReturnValue:
    """The versions of one study, and the upload form (admins of the study).

    Exempt from the app-wide CSRF check only so that check does not read a 2 MB body under the
    app's 64 kB limit before this view raises it; the form checks the CSRF token itself.
    """
    require_manager(study_id)
    request.max_content_length = MAX_REQUEST
    form = UploadForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            if form.csrf_token.errors:
                abort(400)
            return render_versions(study_id, form, status=400)
        version_id, problems = take_upload(study_id, form)
        if version_id is None:
            return render_versions(study_id, form, problems, status=400)
        flash(_("Checked and kept as a draft. Preview it, then publish it when it is ready."), "info")
        return redirect(url_for("coordinator.study_versions", study_id=study_id), 303)
    return render_versions(study_id, form)


@csrf.exempt
def new_study() -> ResponseReturnValue:
    """Upload the first version of a study the app does not have yet (admins with access to every study)."""
    if not may_add_study():
        abort(403)
    request.max_content_length = MAX_REQUEST
    form = NewStudyForm()
    problems: list[str] | None = None
    if request.method == "POST":
        if not form.validate_on_submit():
            if form.csrf_token.errors:
                abort(400)
        else:
            study_id = (form.study_id.data or "").strip()
            if known_study(study_id):
                form.study_id.errors = [_("This study is already in the app: upload its new version on its own page.")]
            else:
                version_id, problems = take_upload(study_id, form)
                if version_id is not None:
                    flash(_("Checked and kept as a draft. Preview it, then publish it when it is ready."), "info")
                    return redirect(url_for("coordinator.study_versions", study_id=study_id), 303)
    page = render_template(
        "coordinator/study_versions.html",
        study_id="",
        title="",
        rows=[],
        folder=None,
        form=form,
        problems=problems,
        state_labels=STATE_LABELS,
        preview_url=preview_url,
        picture_url=picture_url,
        new_study=True,
    )
    return (page, 400) if request.method == "POST" else page


def stored_version(study_id: str, version_id: int) -> dict[str, Any]:
    """The stored version with this id of this study, or a 404."""
    row = version_store.by_id(get_db(), version_id)
    if row is None or row["study_id"] != study_id:
        abort(404)
    return row


def publish_version(study_id: str, version_id: int) -> ResponseReturnValue:
    """Publish a draft (or go back to a retired version) after a confirmation page that says what changes."""
    require_manager(study_id)
    row = stored_version(study_id, version_id)
    db = get_db()
    study = studies.version(study_id, row["version"])
    if study is None:
        abort(404)
    first = study_id not in studies.of().folder and not version_store.ever_published(db, study_id)
    if request.method != "POST" or request.form.get("confirm") != "yes" or row["state"] == "live":
        return confirm_publish(row, study, first)
    try:
        with transaction(db):
            published = version_store.publish(db, version_id, current_user.actor)
            queued = notify.publish_study(db, study, current_user.actor) if first and published else 0
    except ConfigError:  # production: families could not reach the team; nothing changed
        flash(_("Not published: set the study team's phone, e-mail or WeChat first."), "error")
        return redirect(url_for("coordinator.study_versions", study_id=study_id), 303)
    studies.refresh(db, force=True)  # this worker at once; the others within a few seconds
    if published is not None:
        flash(_("Published: new screenings use %(label)s.", label=row["label"]), "info")
        if first:
            flash(_("Notifications queued for volunteers: %(n)d", n=queued), "info")
    return redirect(url_for("coordinator.study_versions", study_id=study_id), 303)


def confirm_publish(row: dict[str, Any], study: Study, first: bool) -> str:
    """What publishing will do: which version new screenings start on, what changed, who is e-mailed."""
    db = get_db()
    current = studies.get(row["study_id"])
    changes = None
    if current is not None and current.version != study.version:
        changes = diff(current, study)
    return render_template(
        "coordinator/study_version_confirm.html",
        action="publish",
        row=row,
        study=study,
        current=current,
        current_label=version_label(current.id, current.version) if current else "",
        first=first,
        volunteers=notify.would_notify(db, study) if first else 0,
        changes=changes,
        diff_partial=DIFF_PARTIAL in current_app.jinja_env.list_templates(),
        already=row["state"] == "live",
    )


def retire_version(study_id: str, version_id: int) -> ResponseReturnValue:
    """Retire a draft or the live version, after a confirmation page."""
    require_manager(study_id)
    row = stored_version(study_id, version_id)
    db = get_db()
    if request.method != "POST" or request.form.get("confirm") != "yes" or row["state"] == "retired":
        falls_back = studies.of().folder.get(study_id)
        return render_template(
            "coordinator/study_version_confirm.html",
            action="retire",
            row=row,
            study=None,
            current=None,
            folder=falls_back,
            first=False,
            volunteers=0,
            changes=None,
            already=row["state"] == "retired",
        )
    if version_store.retire(db, version_id, current_user.actor):
        studies.refresh(db, force=True)
        flash(_("Retired: %(label)s is no longer offered.", label=row["label"]), "info")
    return redirect(url_for("coordinator.study_versions", study_id=study_id), 303)


def version_file(study_id: str, version_id: int) -> ResponseReturnValue:
    """The file as uploaded, byte for byte: the team edits it into the next version (admins of the study)."""
    require_manager(study_id)
    row = stored_version(study_id, version_id)
    stored = version_store.content_of(get_db(), study_id, row["version"])
    if stored is None:
        abort(404)
    fmt, content = stored
    suffix = "xlsx" if fmt == "xlsx" else "zip"
    label = re.sub(r"[^\w.-]+", "_", row["label"]).strip("._") or row["version"][:8]
    mimetype = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if fmt == "xlsx" else "application/zip"
    )
    return send_file(
        io.BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=f"{study_id}-{label}.{suffix}"
    )


def add_routes(bp: Any) -> None:
    """The versions pages on the coordinator blueprint, and ``version_label()`` for its templates."""
    bp.add_app_template_global(version_label, "version_label")
    bp.add_app_template_global(unpublished_studies, "unpublished_studies")
    bp.add_url_rule("/studies/new", view_func=new_study, methods=["GET", "POST"])
    bp.add_url_rule("/studies/<study_id>/versions", view_func=study_versions, methods=["GET", "POST"])
    bp.add_url_rule(
        "/studies/<study_id>/versions/<id:version_id>/publish", view_func=publish_version, methods=["GET", "POST"]
    )
    bp.add_url_rule("/studies/<study_id>/versions/<id:version_id>/file", view_func=version_file, methods=["GET"])
    bp.add_url_rule(
        "/studies/<study_id>/versions/<id:version_id>/retire", view_func=retire_version, methods=["GET", "POST"]
    )
