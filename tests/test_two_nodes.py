"""Nothing a request needs is kept in one node's memory or files (issue 21).

Two app objects stand in for two nodes behind a load balancer: each has its own instance folder
(a node's own disk) and shares only the database and the secret key, as two servers would. Every
request of a family or a coordinator goes to the next node in turn, so each step reads what the
step before wrote on the other node: the family's chat and result, a staff sign-in and sign-out,
a continue code, and a study version uploaded on one node and published on the other.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.public import BASE, answer, body, current, likely_answers, rows, start, walk
from tests.helpers.staff import add_user, login
from tests.test_study_versions import NEW_DOB, OLD_DOB, publish, upload, version_id, version_two, workbook

ADMIN = "admin@pumch.example"


class RoundRobin(FlaskClient):
    """A browser behind a load balancer: each request goes to the next node."""

    nodes: Iterator[Flask]

    def open(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.application = next(self.nodes)
        return super().open(*args, **kwargs)


@pytest.fixture
def nodes(make_app: Callable[..., Flask], tmp_path: Path, database: str) -> tuple[Flask, Flask]:
    shared = {"DATABASE": database, "RATELIMIT_ENABLED": False, "STUDY_REFRESH_SECONDS": 0}
    return (
        make_app(INSTANCE_PATH=str(tmp_path / "node-a"), **shared),
        make_app(INSTANCE_PATH=str(tmp_path / "node-b"), **shared),
    )


def browser(nodes: tuple[Flask, Flask], first: int = 0) -> RoundRobin:
    client = RoundRobin(nodes[first], nodes[first].response_class, use_cookies=True)
    client.nodes = itertools.cycle(nodes[first:] + nodes[:first])
    return client


def test_a_family_answers_on_both_nodes_and_every_answer_is_kept(nodes: tuple[Flask, Flask]) -> None:
    family = browser(nodes)
    start(family)
    asked = walk(family, likely_answers())
    assert len(asked) >= 10
    assert "result-likely_eligible" in body(family, f"{BASE}/result")
    [(outcome, answers)] = rows(nodes[1], "SELECT outcome, answers FROM screenings")
    assert outcome == "likely_eligible" and all(f'"{q}"' in answers for q in asked)


def test_a_staff_sign_in_and_sign_out_hold_on_every_node(nodes: tuple[Flask, Flask]) -> None:
    add_user(nodes[0], ADMIN, "admin")
    desk = browser(nodes)
    assert login(desk, ADMIN).status_code == 302  # node A
    for _ in range(2):  # B, then A
        assert desk.get("/coordinator/").status_code == 200
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body(desk, "/coordinator/"))  # B
    assert token is not None
    assert desk.post("/staff/logout", data={"csrf_token": token.group(1)}).status_code in (302, 303)  # A
    signed_out = desk.get("/coordinator/")  # B
    assert signed_out.status_code == 302 and "/staff/login" in signed_out.headers["Location"]


def test_a_continue_code_made_on_one_node_works_on_the_other(nodes: tuple[Flask, Flask]) -> None:
    family = browser(nodes)
    start(family)
    dob = likely_answers()["dob"]
    answer(family, dob)
    match = re.search(r'<p class="code"[^>]*>([A-Z0-9 ]+)</p>', body(family, f"{BASE}/chat"))
    assert match
    other = browser(nodes, first=1)
    page = "/resume"
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body(other, page))
    assert token is not None
    first = other.post(page, data={"csrf_token": token.group(1), "step": "code", "code": match.group(1), "month": dob})
    assert first.status_code == 200
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', first.get_data(as_text=True))
    assert token is not None
    moved = other.post(
        page,
        data={"csrf_token": token.group(1), "step": "continue", "code": match.group(1), "month": dob, "agree": "y"},
    )
    assert moved.status_code == 303
    asked = current(other)
    assert asked is not None and asked[0] != "dob"  # the answer given on the first device came along


def test_a_version_uploaded_on_one_node_and_published_on_the_other_is_served_by_both(
    nodes: tuple[Flask, Flask], tmp_path: Path
) -> None:
    add_user(nodes[0], ADMIN, "admin")
    admin = browser(nodes)
    login(admin, ADMIN)
    assert upload(admin, workbook(tmp_path, "v2.xlsx", version_two)).status_code == 303
    assert publish(admin, version_id(nodes[0])).status_code == 303
    for first in (0, 1):
        family = browser(nodes, first=first)
        start(family)
        page = body(family, f"{BASE}/chat")
        assert NEW_DOB in page and OLD_DOB not in page
