"""A coordinator of one study never reaches another study's family, whichever page they try.

Issue 18 added many routes about one family (visit booking, checklist checks, PI sign-off,
print views, assignment, erasure) and new lists that gather families (call list, search,
visits this week, reports). Each is walked here, from the app's own URL map so a route added
later is walked too, by a signed-in coordinator of another study: no page shows the family's
reference, name or phone, and nothing the family owns changes.
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from openpyxl import load_workbook

from tests.helpers.public import raw_connection, table_names
from tests.helpers.staff import STUDY_ID, add_referral, add_user, csrf, login
from tests.helpers.study import write_study

ROOT = Path(__file__).resolve().parent.parent
PHONE = "+8613911112222"
NAME = "林晓红家长"


@pytest.fixture
def app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    questions = tmp_path / "questions"
    shutil.copytree(ROOT / "questions" / STUDY_ID, questions / STUDY_ID)
    write_study(tmp_path, "demo")
    return make_app(QUESTIONS_DIR=str(questions), RATELIMIT_ENABLED=False)


def snapshot(app: Flask) -> list[tuple]:
    """Everything stored about the families: referrals, attempts, notes and the outbox."""
    conn = raw_connection(app)
    try:
        tables = table_names(conn)
        wanted = [
            t for t in tables if t.startswith(("referral", "contact_attempt", "note", "outbox", "visit", "check"))
        ]
        return [(t, conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()) for t in sorted(wanted)]  # noqa: S608
    finally:
        conn.close()


def family_routes(app: Flask) -> list[tuple[str, str]]:
    """Every study-team route about one family: (path pattern, method)."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/coordinator/") and "referral_id" in rule.arguments:
            for method in sorted((rule.methods or set()) & {"GET", "POST"}):
                found.append((rule.rule, method))
    return found


def test_every_family_route_hides_another_studys_family(app: Flask) -> None:
    family = add_referral(app, phone=PHONE, name=NAME)
    add_user(app, "demo@pumch.example", studies=["demo"])
    client = app.test_client()
    login(client, "demo@pumch.example")
    token = csrf(client, "/coordinator/")
    before = snapshot(app)
    routes = family_routes(app)
    assert len(routes) >= 12, routes  # the family page, contact, attempts, status, erase, visit, checks, print...
    secrets_of_the_family = (family["reference"], NAME, PHONE, "139 1111 2222")
    for pattern, method in routes:
        path = re.sub(r"<[^>]*referral_id>", str(family["id"]), pattern)
        if method == "GET":
            response = client.get(path)
        else:
            form = {"csrf_token": token, "confirm": family["reference"], "reference": family["reference"]}
            response = client.post(path, data=form, headers={"X-CSRFToken": token})
        assert response.status_code in (403, 404), (path, method, response.status_code)
        body = response.get_data(as_text=True)
        assert not [s for s in secrets_of_the_family if s in body], (path, method)
    assert snapshot(app) == before  # nothing about the family changed


def test_lists_and_downloads_never_gather_another_studys_family(app: Flask) -> None:
    family = add_referral(app, phone=PHONE, name=NAME)
    add_user(app, "demo@pumch.example", studies=["demo"])
    client = app.test_client()
    login(client, "demo@pumch.example")
    token = csrf(client, "/coordinator/")
    secrets_of_the_family = (family["reference"], NAME, PHONE, "139 1111 2222")

    for query in (PHONE, "139 1111 2222", NAME, family["reference"]):  # a parent calling back
        body = client.post("/coordinator/", data={"csrf_token": token, "q": query}).get_data(as_text=True)
        shown = body.replace(f'value="{query}"', "")  # the search box keeps what was typed
        assert not [s for s in secrets_of_the_family if s in shown], query
        assert f'href="/coordinator/referrals/{family["id"]}"' not in body, query
    for page in ("/coordinator/?status=all", "/coordinator/visits", "/coordinator/reports", "/coordinator/log"):
        response = client.get(page)
        assert response.status_code in (200, 403), page
        assert not [s for s in secrets_of_the_family if s in response.get_data(as_text=True)], page

    # The call list, asked for by id: the other study's family is not in the workbook.
    response = client.post(
        "/coordinator/export/call-list.xlsx", data={"csrf_token": token, "ids": str(family["id"]), "status": "all"}
    )
    if response.status_code == 200 and response.mimetype.endswith("sheet"):
        sheet = load_workbook(io.BytesIO(response.data)).active
        cells = " ".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None)
        assert not [s for s in secrets_of_the_family if s in cells]
    else:
        assert response.status_code in (302, 303, 400, 404)  # refused, or back to the list
        assert not [s for s in secrets_of_the_family if s in response.get_data(as_text=True)]


def test_the_same_routes_do_reach_the_familys_own_coordinator(app: Flask) -> None:
    """The walk above is not vacuous: the family's own coordinator opens the same pages."""
    family = add_referral(app, phone=PHONE, name=NAME)
    add_user(app, "own@pumch.example", studies=[STUDY_ID])
    client = app.test_client()
    login(client, "own@pumch.example")
    gets = [p for p, m in family_routes(app) if m == "GET"]
    assert gets
    for pattern in gets:
        path = re.sub(r"<[^>]*referral_id>", str(family["id"]), pattern)
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert family["reference"] in response.get_data(as_text=True), path
