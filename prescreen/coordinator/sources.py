"""Sources and QR codes (admins): one link per place the study is handed out, and its QR code.

A CRC makes a source per poster, clinic or parents' WeChat group ("儿科门诊海报", "家长微信群 A");
each gets a ``/q/<code>`` link (see :mod:`prescreen.public.source_link`) and a QR code of it as a
PNG made here by segno (nothing fetched), an A4 poster (PDF) and a share image for WeChat groups
(:mod:`.posters`, :mod:`.share_image`). The page counts the screenings each source started, so the
team can see which place brings families; a source no longer used is taken out of use (its link
then opens the home page and tags nothing) and can be put back. ``prescreen sources add``,
``list``, ``deactivate`` and ``activate`` do the same from a shell.
"""

from __future__ import annotations

import io

import click
import segno
from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
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
from . import posters, share_image
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


def visible_source(source_id: int) -> source_store.Source:
    """The source, for an admin of a study they see (404 for any other, as for an unknown id)."""
    require_admin()
    source = source_store.by_id(get_db(), source_id)
    if source is None or source.study_id not in visible_studies():
        abort(404)
    return source


def source_qr(source_id: int) -> ResponseReturnValue:
    """The QR code of a source's link as a PNG download (admins, for a study they see)."""
    source = visible_source(source_id)
    return send_file(
        io.BytesIO(qr_png(link_of(source.code))),
        mimetype="image/png",
        as_attachment=True,
        download_name=f"qr-{source.study_id}-{source.code}.png",
    )


def source_poster(source_id: int) -> ResponseReturnValue:
    """The source's A4 poster as a PDF download; without a Chinese font, a message on the sources page."""
    source = visible_source(source_id)
    font = posters.find_font()
    if font is None:
        return no_font()
    text = posters.texts(studies.of().studies[source.study_id], link_of(source.code))
    try:
        pdf = posters.poster_pdf(text, font)
    except posters.PosterOverflow:
        flash(
            _(
                "The study's title is too long to fit on one A4 poster. "
                "Shorten its plain title in the study sheet and upload it again."
            ),
            "error",
        )
        return redirect(url_for("coordinator.sources_page"), code=303)
    name = f"poster-{source.study_id}-{source.code}.pdf"
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", as_attachment=True, download_name=name)


def source_share_image(source_id: int) -> ResponseReturnValue:
    """The source's share image for WeChat groups (PNG, 1080×1350) as a download."""
    source = visible_source(source_id)
    font = posters.find_font()
    if font is None:
        return no_font()
    text = posters.texts(studies.of().studies[source.study_id], link_of(source.code))
    png = share_image.share_png(text, font)
    name = f"share-{source.study_id}-{source.code}.png"
    return send_file(io.BytesIO(png), mimetype="image/png", as_attachment=True, download_name=name)


def no_font() -> ResponseReturnValue:
    """Back to the sources page with what to do: a poster without a Chinese font would show boxes."""
    flash(
        _(
            "The poster and share image need a Chinese font, and the server has none. Ask whoever runs the"
            " server to install the fonts-wqy-microhei package (make run does it) or to set PRESCREEN_POSTER_FONT."
        ),
        "error",
    )
    return redirect(url_for("coordinator.sources_page"), code=303)


def set_source_active(source_id: int) -> ResponseReturnValue:
    """Take a source out of use, or put it back (a POST with the CSRF token; audited)."""
    source = visible_source(source_id)
    action = request.form.get("action")
    if action not in ("deactivate", "activate"):
        abort(400)
    source_store.set_active(get_db(), source.id, action == "activate", current_user.actor)
    if action == "activate":
        flash(_("“%(label)s” is in use again: its link and QR code open the study page.", label=source.label), "info")
    else:
        flash(
            _(
                "“%(label)s” is out of use: its link and QR code now open the home page and count nothing."
                " You can put it back in use at any time.",
                label=source.label,
            ),
            "info",
        )
    return redirect(url_for("coordinator.sources_page"), code=303)


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


@sources_cli.command("deactivate")
@click.argument("code")
def deactivate_command(code: str) -> None:
    """Take the source CODE out of use: its link then opens the home page and tags nothing."""
    set_active_by_code(code, False)


@sources_cli.command("activate")
@click.argument("code")
def activate_command(code: str) -> None:
    """Put the source CODE back in use."""
    set_active_by_code(code, True)


def set_active_by_code(code: str, active: bool) -> None:
    """The CLI's deactivate and activate: audited as the actor ``cli``; an unknown code is a usage error."""
    db = connect(current_app.config["DATABASE"])
    try:
        source = source_store.by_code(db, code, inactive_too=True)
        if source is None:
            raise click.BadParameter(f"no source with code {code!r}", param_hint="CODE")
        changed = source_store.set_active(db, source.id, active, "cli")
    finally:
        db.close()
    state = "active" if active else "inactive"
    click.echo(f"{source.code} {state}" + ("" if changed else " (already)"))
