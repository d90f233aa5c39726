"""Sources and QR codes (admins): one link per place the study is handed out, and its QR code.

A CRC makes a source per poster, clinic or parents' WeChat group ("儿科门诊海报", "家长微信群 A");
each gets a ``/q/<code>`` link (see :mod:`prescreen.public.source_link`) and a QR code of it as a
PNG made here by segno (no image library, nothing fetched). The page counts the screenings each
source started, so the team can see which place brings families. ``prescreen sources add`` and
``prescreen sources list`` do the same from a shell.
"""

from __future__ import annotations

import io

import click
import segno
from flask import abort, current_app, flash, redirect, render_template, send_file, url_for
from flask.cli import AppGroup
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from .. import studies
from ..store import connect, get_db
from ..store import sources as source_store
from ..web.forms import TextForm
from ..web.i18n import current_locale
from .shared import require_admin, visible_studies

#: Pixels per QR module in the PNG: about 4 cm wide at 300 dpi for a typical link, sharp when printed.
QR_SCALE = 10


class SourceForm(TextForm):
    """A new source: which study, and the team's own name for the place."""

    study = SelectField(_l("Study"), validators=[DataRequired()])
    label = StringField(
        _l("Where the link or QR code goes"),
        validators=[DataRequired(_l("Say where this link will be used.")), Length(max=source_store.LABEL_MAX)],
        render_kw={"maxlength": source_store.LABEL_MAX},
    )


def link_of(code: str) -> str:
    """The full ``/q/`` link of a code, from ``PUBLIC_URL`` (what the QR code holds)."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + "/q/" + code


def qr_png(url: str) -> bytes:
    """A PNG of *url*'s QR code (error correction M: survives a crease or a smudge on a poster)."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=QR_SCALE, border=4)
    return out.getvalue()


def sources_page() -> ResponseReturnValue:
    """Every source of the studies this admin sees, with its link and screenings; and the add form."""
    require_admin()
    visible = visible_studies()
    form = SourceForm()
    form.study.choices = [(sid, s.text("title", current_locale())) for sid, s in visible.items()]
    db = get_db()
    if form.validate_on_submit():
        source = source_store.add(db, form.study.data or "", form.label.data or "", current_user.actor)
        flash(_("Source added. Its link: %(link)s", link=link_of(source.code)), "info")
        return redirect(url_for("coordinator.sources_page"), code=303)
    rows = source_store.listing(db, list(visible))
    page = render_template(
        "coordinator/sources.html", form=form, rows=rows, studies=visible, links={r.id: link_of(r.code) for r in rows}
    )
    return (page, 400) if form.errors else page


def source_qr(source_id: int) -> ResponseReturnValue:
    """The QR code of a source's link as a PNG download (admins, for a study they see)."""
    require_admin()
    source = source_store.by_id(get_db(), source_id)
    if source is None or source.study_id not in visible_studies():
        abort(404)
    return send_file(
        io.BytesIO(qr_png(link_of(source.code))),
        mimetype="image/png",
        as_attachment=True,
        download_name=f"qr-{source.study_id}-{source.code}.png",
    )


@click.group("sources", cls=AppGroup)
def sources_cli() -> None:
    """Sources: one /q/ link (and QR code) per place a study is handed out."""


@sources_cli.command("add")
@click.argument("study_id")
@click.argument("label")
def add_command(study_id: str, label: str) -> None:
    """Make a source for STUDY_ID called LABEL; print its code and full link."""
    if studies.get(study_id) is None:
        raise click.BadParameter(f"no study {study_id!r}", param_hint="STUDY_ID")
    if not label.strip() or len(label.strip()) > source_store.LABEL_MAX:
        raise click.BadParameter(f"1 to {source_store.LABEL_MAX} characters", param_hint="LABEL")
    db = connect(current_app.config["DATABASE"])
    try:
        source = source_store.add(db, study_id, label, "cli")
    finally:
        db.close()
    click.echo(f"{source.code} {link_of(source.code)}")


@sources_cli.command("list")
@click.argument("study_id", required=False)
def list_command(study_id: str | None) -> None:
    """List sources (of STUDY_ID, or all): code, study, screenings started, active, label, link."""
    db = connect(current_app.config["DATABASE"])
    try:
        rows = source_store.listing(db, None if study_id is None else [study_id])
    finally:
        db.close()
    for row in rows:
        state = "active" if row.active else "inactive"
        click.echo(f"{row.code}\t{row.study_id}\t{row.started}\t{state}\t{row.label}\t{link_of(row.code)}")
