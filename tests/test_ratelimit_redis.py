"""Rate limits counted in a real Redis server, shared by every app node (issue 21).

``PRESCREEN_RATELIMIT_STORAGE_URI=redis://…`` puts Flask-Limiter's counters in Redis (its own Redis
storage, through the ``limits`` library), so a family whose posts a load balancer spreads over two
nodes meets one limit, not one per node. When Redis goes away the family's answers still go
through (uncounted) and are saved. Two app objects on one database stand in for two nodes; the
Redis server is real, started by :mod:`tests.helpers.servers`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import servers
from tests.helpers.public import answer, current, likely_answers, start
from tests.test_ratelimit_storage import answers_saved


@pytest.fixture(scope="module")
def redis_server() -> Iterator[servers.Redis]:
    with servers.redis() as server:
        yield server


def post_next(client: FlaskClient, node: Flask) -> tuple[str, int]:
    """The family answers the question on screen, with the request landing on *node*."""
    client.application = node  # the load balancer sends this request to that node
    asked = current(client)
    assert asked is not None
    return asked[0], answer(client, likely_answers()[asked[0]]).status_code


def test_two_nodes_share_one_limit_through_redis(
    redis_server: servers.Redis, make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRESCREEN_RATELIMIT_STORAGE_URI", redis_server.url(1))
    node_a = make_app(PUBLIC_POST_LIMIT="2 per minute")
    node_b = make_app(PUBLIC_POST_LIMIT="2 per minute")
    assert node_a.config["RATELIMIT_STORAGE_URI"] == redis_server.url(1)
    client = node_a.test_client()
    start(client)  # post 1, on node A
    codes = [post_next(client, node)[1] for node in (node_b, node_a, node_b)]
    # Each node alone saw at most 2 answers (within "2 per minute"); counted together in Redis, the third is refused.
    assert codes == [303, 303, 429]
    assert not list(Path(node_a.instance_path).glob("ratelimit.sqlite3*")), "nothing counted in a node's own file"


def test_with_redis_gone_the_family_still_answers_and_it_is_saved(
    redis_server: servers.Redis, make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    with servers.redis() as doomed:
        app = make_app(RATELIMIT_STORAGE_URI=doomed.url(), PUBLIC_POST_LIMIT="50 per minute")
        client = app.test_client()
        start(client)
        first, code = post_next(client, app)
        assert code == 303 and first in answers_saved(app)
        doomed.stop()
        caplog.set_level(logging.WARNING)
        second, code = post_next(client, app)
    assert code == 303, "a family is never refused because the counters are unreachable"
    assert second in answers_saved(app)
    assert any("rate limit" in r.getMessage().lower() for r in caplog.records), "the outage is logged"
    assert "127.0.0.1 -" not in caplog.text and second not in caplog.text
