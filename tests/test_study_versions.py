"""Study versions (issue 20): upload → check → draft → publish, without a restart, on every worker.

Real SQLite, the real Flask client, the real study exported to a workbook with the engine's own
writer and changed cell by cell as a study nurse would in Excel.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from prescreen import studies
from prescreen.engine import export_workbook
from tests.helpers.public import BASE, STUDY, Family, likely_answers, rows
from tests.helpers.staff import Staff, add_referral, csrf, download

QUESTIONS = Path(__file__).resolve().parent.parent / "questions"
VERSIONS = f"/coordinator/studies/{STUDY}/versions"
OLD_DOB = "In what month and year was your child born?"
NEW_DOB = "NEW V2: Which month and year was your child born in?"
NEW_DOB_ZH = "新版：孩子的出生年月是？"


def set_cell(sheet: Any, row_id: str, column: str, value: str) -> int:
    """Change one cell of the row whose id is *row_id*; returns the sheet row number."""
    header = [cell.value for cell in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == row_id:
            row[header.index(column)].value = value
            return int(row[0].row)
    raise KeyError(row_id)


def workbook(tmp_path: Path, name: str, edit: Callable[[Any], None] | None = None) -> bytes:
    """The real study as a workbook (the engine's export), changed by *edit*."""
    target = tmp_path / name
    export_workbook(QUESTIONS / STUDY, target)
    if edit is not None:
        book = load_workbook(target)
        edit(book)
        book.save(target)
    return target.read_bytes()


def version_two(book: Any) -> None:
    """New wording for the first question, and a new age rule: 12 to 18 instead of 5 to 18."""
    set_cell(book["questions"], "dob", "text::guardian::en", NEW_DOB)
    set_cell(book["questions"], "dob", "text::guardian::zh", NEW_DOB_ZH)
    set_cell(book["criteria"], "inc_age_5_18", "not_met_if", "age(dob) < 12 or months_since(dob) > 228")
    set_cell(book["criteria"], "inc_age_5_18", "met_if", "age(dob) >= 12 and months_since(dob) <= 228")
    set_cell(book["criteria"], "inc_age_5_18", "recheck", "dob + 143")


def upload(client: FlaskClient, data: bytes, filename: str = "v2.xlsx", page: str = VERSIONS, **fields: str):  # type: ignore[no-untyped-def]
    form = {
        "csrf_token": csrf(client, page),
        "label": "V2.0",
        "approved_on": "2026-11-20",
        **fields,
        "upload": (io.BytesIO(data), filename),
    }
    return client.post(page, data=form, content_type="multipart/form-data")


def stored(app: Flask) -> list[tuple[Any, ...]]:
    return rows(app, "SELECT study_id, version, state, label, approved_on FROM study_versions ORDER BY id")


def version_id(app: Flask) -> int:
    return int(rows(app, "SELECT max(id) FROM study_versions")[0][0])


def publish(client: FlaskClient, vid: int):  # type: ignore[no-untyped-def]
    page = f"{VERSIONS}/{vid}/publish"
    confirm = client.get(page)
    assert confirm.status_code == 200
    return client.post(page, data={"csrf_token": csrf(client, page), "confirm": "yes"})


def chat_text(client: FlaskClient) -> str:
    return client.get(f"{BASE}/chat").get_data(as_text=True)


@pytest.fixture
def admin(app: Flask, staff: Staff) -> FlaskClient:
    staff.add("admin@pumch.example", role="admin")
    client = app.test_client()
    staff.login(client, "admin@pumch.example")
    return client


def test_a_workbook_with_mistakes_lists_each_with_sheet_row_and_column_and_stores_nothing(
    app: Flask, admin: FlaskClient, tmp_path: Path
) -> None:
    def mistakes(book: Any) -> None:
        set_cell(book["questions"], "diagnosis", "type", "singel")
        set_cell(book["criteria"], "exc_hiv", "not_met_if", "hcv_hiv == (")

    response = upload(admin, workbook(tmp_path, "mistakes.xlsx", mistakes), "V2 有错.xlsx")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "V2 有错.xlsx:questions:3: column &#39;type&#39;: unknown type &#39;singel&#39;" in page
    assert "V2 有错.xlsx:criteria:22: column &#39;not_met_if&#39;: syntax error" in page
    assert "2 problems to fix" in page
    assert stored(app) == []
    assert rows(app, "SELECT count(*) FROM audit WHERE action LIKE 'study_version.%'") == [(0,)]


def test_upload_publish_serves_the_new_version_without_restart_while_an_old_screening_finishes_on_its_own(
    make_app: Callable[..., Flask], app: Flask, admin: FlaskClient, tmp_path: Path
) -> None:
    other_worker = make_app(STUDY_REFRESH_SECONDS=0)  # a second process on the same database file
    early = Family(app.test_client())
    early.start()
    assert OLD_DOB in chat_text(early.client)
    early.answer(likely_answers()["dob"])  # a 10-year-old, answered on the folder's version

    response = upload(admin, workbook(tmp_path, "v2.xlsx", version_two))
    assert response.status_code == 303
    [(study_id, v2, state, label, approved)] = stored(app)
    assert (study_id, state, label, approved) == (STUDY, "draft", "V2.0", "2026-11-20")
    assert studies.version  # noqa: B018 — the lookup the preview page uses
    with app.test_request_context():
        assert studies.of(app).studies[STUDY].version != v2
        found = studies.version(STUDY, v2)
        assert found is not None and found.question("dob").text("guardian", "en") == NEW_DOB
    drafted = Family(app.test_client())
    drafted.start()
    assert OLD_DOB in chat_text(drafted.client) and NEW_DOB not in chat_text(drafted.client)  # a draft is not served

    confirm = admin.get(f"{VERSIONS}/{version_id(app)}/publish").get_data(as_text=True)
    assert "Families who have already started finish on the version they started with." in confirm
    assert NEW_DOB in confirm  # the change, for the ethics submission
    assert publish(admin, version_id(app)).status_code == 303
    assert [r[2] for r in stored(app)] == ["live"]

    fresh = Family(app.test_client())
    fresh.start()
    assert NEW_DOB in chat_text(fresh.client)
    zh = Family(other_worker.test_client())
    zh.start(lang="zh")
    assert NEW_DOB_ZH in chat_text(zh.client)  # the other worker took it up, no restart

    page = chat_text(early.client)
    assert OLD_DOB in page and NEW_DOB not in page  # wording of the version they started on
    early.walk(likely_answers())  # the old rules: 5 to 18
    assert rows(app, "SELECT outcome, version != ? FROM screenings WHERE id = 1", v2) == [("likely_eligible", 1)]

    fresh.walk(likely_answers())
    assert rows(app, "SELECT outcome, version FROM screenings WHERE id = 3") == [("not_eligible", v2)]  # 12 to 18 now

    log = admin.get("/coordinator/log").get_data(as_text=True)
    assert "V2.0, 2026-11-20" in log
    actions = [r[0] for r in rows(app, "SELECT action FROM audit WHERE action LIKE 'study_version.%' ORDER BY id")]
    assert actions == ["study_version.upload", "study_version.publish"]


def test_retiring_the_live_version_goes_back_to_the_folder(app: Flask, admin: FlaskClient, tmp_path: Path) -> None:
    assert upload(admin, workbook(tmp_path, "v2.xlsx", version_two)).status_code == 303
    vid = version_id(app)
    publish(admin, vid)
    page = f"{VERSIONS}/{vid}/retire"
    assert "go back to the version in the study folder" in admin.get(page).get_data(as_text=True)
    assert admin.post(page, data={"csrf_token": csrf(admin, page), "confirm": "yes"}).status_code == 303
    family = Family(app.test_client())
    family.start()
    assert OLD_DOB in chat_text(family.client)
    actions = [r[0] for r in rows(app, "SELECT action FROM audit WHERE action LIKE 'study_version.%' ORDER BY id")]
    assert actions == ["study_version.upload", "study_version.publish", "study_version.retire"]


def test_only_admins_of_the_study_and_only_with_a_csrf_token(
    app: Flask, staff: Staff, admin: FlaskClient, tmp_path: Path
) -> None:
    data = workbook(tmp_path, "v2.xlsx", version_two)
    staff.add("coord@pumch.example")
    staff.add("other-admin@pumch.example", role="admin", studies=["another-study"])
    for email in ("coord@pumch.example", "other-admin@pumch.example"):
        client = app.test_client()
        staff.login(client, email)
        assert client.get(VERSIONS).status_code == 403
        assert client.get("/coordinator/studies/new").status_code == 403
    no_token = admin.post(
        VERSIONS,
        data={"label": "V2.0", "approved_on": "2026-11-20", "upload": (io.BytesIO(data), "v2.xlsx")},
        content_type="multipart/form-data",
    )
    assert no_token.status_code == 400
    publish_without_token = admin.post(f"{VERSIONS}/1/publish", data={"confirm": "yes"})
    assert publish_without_token.status_code == 400
    hostile = admin.post(
        VERSIONS,
        data={"csrf_token": csrf(admin, VERSIONS), "label": (io.BytesIO(b"x"), "a.txt"), "approved_on": "x"},
        content_type="multipart/form-data",
    )
    assert hostile.status_code == 400  # a file where text belongs: "fill this in", not a crash
    assert admin.post(VERSIONS, json={"label": 5, "approved_on": 7}).status_code == 400
    assert stored(app) == []
    anonymous = app.test_client().get(VERSIONS)
    assert anonymous.status_code in (302, 401)


def csv_zip(names: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in names.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def test_a_csv_zip_is_taken_but_never_a_path_or_a_zip_bomb(app: Flask, admin: FlaskClient) -> None:
    sheets = {f"{n}.csv": (QUESTIONS / STUDY / f"{n}.csv").read_bytes() for n in ("study", "criteria", "questions")}
    choices = (QUESTIONS / STUDY / "choices.csv").read_bytes()

    traversal = upload(admin, csv_zip({**sheets, "../choices.csv": choices}), "v2.zip")
    assert traversal.status_code == 400
    assert "The zip holds “../choices.csv”" in traversal.get_data(as_text=True)
    bomb = upload(admin, csv_zip({**sheets, "choices.csv": choices + b"\n" * (3 * 1024 * 1024)}), "v2.zip")
    assert bomb.status_code == 400
    assert "unpacks to far more" in bomb.get_data(as_text=True)
    assert stored(app) == []

    zipped = csv_zip({**sheets, "choices.csv": choices})
    good = upload(admin, zipped, "v2.zip", label="V1.0")
    assert good.status_code == 303
    original = admin.get(f"{VERSIONS}/{version_id(app)}/file")
    assert original.data == zipped  # kept byte for byte, to edit into the next version
    assert f"{STUDY}-V1.0.zip" in original.headers["Content-Disposition"]
    [(_sid, version, state, label, _approved)] = stored(app)
    with app.test_request_context():
        assert version == studies.of(app).folder[STUDY].version  # the same sheets: the same fingerprint
    assert (state, label) == ("draft", "V1.0")
    referral = add_referral(app)  # answered on the folder's version, now labelled by this upload
    log_csv = download(admin, "/coordinator/log.csv").get_data(as_text=True)
    assert "V1.0, 2026-11-20" in log_csv
    record = download(
        admin, f"/coordinator/referrals/{referral['id']}/export.json", f"/coordinator/referrals/{referral['id']}"
    )
    assert record.get_json()["screening"]["version_label"] == "V1.0, 2026-11-20"


def test_a_large_upload_is_read_past_the_apps_64_kb_form_limit_and_a_workbook_bomb_is_refused(
    app: Flask, admin: FlaskClient
) -> None:
    folder = QUESTIONS / STUDY
    stored_zip = io.BytesIO()
    with zipfile.ZipFile(stored_zip, "w", zipfile.ZIP_STORED) as archive:  # not compressed: 300 kB on the wire
        for sheet in ("study", "criteria", "questions"):
            archive.writestr(f"{sheet}.csv", (folder / f"{sheet}.csv").read_bytes())
        archive.writestr("choices.csv", (folder / "choices.csv").read_bytes() + b"\n" * 300_000)
    assert len(stored_zip.getvalue()) > 64 * 1024
    assert upload(admin, stored_zip.getvalue(), "v2.zip").status_code == 303

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<" * (30 * 1024 * 1024))
    response = upload(admin, bomb.getvalue(), "bomb.xlsx", label="V9")
    assert response.status_code == 400
    assert "unpacks to far more" in response.get_data(as_text=True)
    assert [r[3] for r in stored(app)] == ["V2.0"]


def test_a_new_study_id_is_checked_against_the_study_sheet(app: Flask, admin: FlaskClient, tmp_path: Path) -> None:
    page = "/coordinator/studies/new"
    response = upload(admin, workbook(tmp_path, "v2.xlsx"), page=page, study_id="pumch-new-study")
    assert response.status_code == 400
    assert re.search(
        r"column &#39;id&#39;: &#39;pumch-pediatric-sjogren&#39; must equal the folder name",
        response.get_data(as_text=True),
    )
    assert stored(app) == []


def test_the_family_page_reads_a_referral_in_the_version_the_family_answered(
    app: Flask, admin: FlaskClient, tmp_path: Path
) -> None:
    referral = add_referral(app)  # answered in Chinese on the folder's version
    assert upload(admin, workbook(tmp_path, "v2.xlsx", version_two)).status_code == 303
    publish(admin, version_id(app))
    page = admin.get(f"/coordinator/referrals/{referral['id']}").get_data(as_text=True)
    assert "孩子是哪年哪月出生的？" in page
    assert NEW_DOB_ZH not in page
    # Its FHIR answers name the version answered and carry that version's question wording.
    path = f"/coordinator/referrals/{referral['id']}/questionnaire-response.json"
    response = admin.post(path, data={"csrf_token": csrf(admin, f"/coordinator/referrals/{referral['id']}")})
    resource = response.get_json(force=True)
    assert resource["questionnaire"].endswith("|" + referral["screening"]["version"])
    assert resource["item"][0] == {**resource["item"][0], "linkId": "dob", "text": OLD_DOB}


def test_a_new_study_is_uploaded_listed_and_on_its_first_publication_opens_with_a_public_page(
    app: Flask, admin: FlaskClient, tmp_path: Path
) -> None:
    new_id = "pumch-new-study"
    data = workbook(tmp_path, "new.xlsx", lambda book: set_cell(book["study"], STUDY, "id", new_id))
    assert upload(admin, data, page="/coordinator/studies/new", study_id=new_id).status_code == 303
    assert app.test_client().get(f"/s/{new_id}/").status_code == 404  # a draft is not served
    listing = admin.get("/coordinator/studies").get_data(as_text=True)
    assert f'href="/coordinator/studies/{new_id}/versions"' in listing

    page = f"/coordinator/studies/{new_id}/versions/{version_id(app)}/publish"
    assert "first publication" in admin.get(page).get_data(as_text=True)
    assert admin.post(page, data={"csrf_token": csrf(admin, page), "confirm": "yes"}).status_code == 303
    assert app.test_client().get(f"/s/{new_id}/").status_code == 200
    assert rows(app, "SELECT status, published_at IS NOT NULL FROM study_states WHERE study_id = ?", new_id) == [
        ("recruiting", 1)
    ]
    actions = [r[0] for r in rows(app, "SELECT action FROM audit WHERE record_id = ? ORDER BY id", new_id)]
    assert actions == ["study_version.upload", "study_version.publish", "study.recruiting", "study.publish"]


def test_a_criterion_only_an_earlier_version_has_keeps_its_reason_in_the_log(
    app: Flask, admin: FlaskClient, tmp_path: Path
) -> None:
    from prescreen.coordinator.shared import criterion_reason

    def rename(book: Any) -> None:
        set_cell(book["criteria"], "exc_hiv", "id", "exc_hiv_v2")
        set_cell(book["questions"], "hcv_hiv", "criteria", "exc_hcv_ab;exc_hiv_v2")

    assert upload(admin, workbook(tmp_path, "v2.xlsx", rename)).status_code == 303
    publish(admin, version_id(app))
    with app.test_request_context():
        folder = studies.of(app).folder[STUDY]
        assert "exc_hiv" not in {c.id for c in studies.get(STUDY).criteria}
        assert criterion_reason(STUDY, "exc_hiv", "en") == folder.criterion("exc_hiv").reason("en")


def test_the_preview_link_of_a_draft_shows_its_new_wording(app: Flask, admin: FlaskClient, tmp_path: Path) -> None:
    assert upload(admin, workbook(tmp_path, "v2.xlsx", version_two)).status_code == 303
    [(_sid, v2, *_rest)] = stored(app)
    page = admin.get(VERSIONS).get_data(as_text=True)
    link = f"/coordinator/studies/{STUDY}/preview/{v2}"
    assert f'href="{link}' in page
    preview = admin.get(link + "?language=en&voice=guardian")
    assert preview.status_code == 200
    assert NEW_DOB in preview.get_data(as_text=True)


def test_a_drafts_branching_picture_shows_its_own_wording_to_admins_only(
    app: Flask, admin: FlaskClient, staff: Staff, tmp_path: Path
) -> None:
    assert upload(admin, workbook(tmp_path, "v2.xlsx", version_two)).status_code == 303
    [(_sid, v2, *_rest)] = stored(app)
    page = admin.get(VERSIONS).get_data(as_text=True)
    link = f"/coordinator/studies/{STUDY}/branching?version={v2}"
    assert f'href="{link}"' in page  # the draft's row links its own picture
    picture = admin.get(link, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert NEW_DOB in picture and OLD_DOB not in picture
    live = admin.get(f"/coordinator/studies/{STUDY}/branching", headers={"Accept-Language": "en"})
    assert OLD_DOB in live.get_data(as_text=True)  # the live study until the draft is published
    assert admin.get(f"/coordinator/studies/{STUDY}/branching?version=0000").status_code == 404
    staff.add("crc@pumch.example", role="coordinator")
    crc = app.test_client()
    staff.login(crc, "crc@pumch.example")
    assert crc.get(f"/coordinator/studies/{STUDY}/branching").status_code == 200
    assert crc.get(link).status_code == 403  # drafts are the admins' to look at
