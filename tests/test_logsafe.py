"""No bearer token (resume, withdraw, volunteer links) ever reaches a log line of ours.

Whoever can read a server's log must not be able to open a family's screening from it.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.helpers.public import raw_connection

TOKEN = "Zq3xSECRETtokenOFaFAMILY0123456789abcdefgh"


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(RATELIMIT_ENABLED=False, PROPAGATE_EXCEPTIONS=False)


def test_a_crash_on_a_token_route_logs_the_route_not_the_token(app, caplog):
    app.test_client().get("/")  # the schema exists
    conn = raw_connection(app)
    conn.execute("ALTER TABLE screenings RENAME TO gone")  # every lookup of a resume link now fails
    conn.commit()
    conn.close()
    with caplog.at_level(logging.INFO):
        response = app.test_client().get(f"/r/{TOKEN}")
    assert response.status_code == 500
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "incident" in logged and "/r/<token>" in logged
    assert TOKEN not in logged


@pytest.mark.parametrize(
    "path",
    [f"/r/{TOKEN}", f"/withdraw/{TOKEN}", f"/volunteer/confirm/{TOKEN}", f"/volunteer/unsubscribe/{TOKEN}"],
)
def test_the_development_servers_request_lines_hide_tokens(app, caplog, path):
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=10).close()  # noqa: S310
            except urllib.error.HTTPError:
                pass  # an unknown token is a 404 page; the request line is what matters
    finally:
        server.shutdown()
        thread.join(timeout=10)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any(path.rsplit("/", 1)[0] + "/…" in line for line in lines), lines
    assert not any(TOKEN in line for line in lines), lines
