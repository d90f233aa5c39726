"""The app factory: health, configuration, security headers, error pages, languages."""

from __future__ import annotations

import logging
import re
import secrets
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask, g, render_template_string
from flask.testing import FlaskClient

from prescreen import ConfigError, create_app
from prescreen.cli import main
from prescreen.config import DEFAULTS
from prescreen.store import connect, insert, transaction
from tests.helpers.staff import count_rows

# -- health ---------------------------------------------------------------------------------


def test_healthz_answers_ok_once_the_database_opens(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok"


def test_healthz_answers_503_when_the_database_cannot_open(app: Flask, tmp_path: Path) -> None:
    app.config["DATABASE"] = str(tmp_path / "missing-dir" / "db.sqlite3")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503


def test_startup_creates_and_migrates_the_database(app: Flask) -> None:
    db = connect(app.config["DATABASE"])
    assert "m0001_base" in {r["version"] for r in db.query("SELECT version FROM schema_migrations")}


# -- configuration --------------------------------------------------------------------------


#: 32 random bytes in hex, as the README tells operators to make one.
STRONG_KEY = "3c9e1f7a5d2b8c4e6f0a1d3b5c7e9f2a4b6d8e0c1f3a5b7d9e2c4f6a8b0d1e3f"
HTTPS_URL = "https://prescreen.test"


def _production_app(tmp_path: Path, **extra: object) -> Flask:
    extra.setdefault("PUBLIC_URL", HTTPS_URL)
    extra.setdefault("STUDY_CONTACT_PHONE", "+86 10 5555 0100")  # a recruiting study's team must be reachable
    return create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE": str(tmp_path / "p.sqlite3"), **extra})


def test_config_defaults(tmp_path: Path) -> None:
    app = _production_app(tmp_path, SECRET_KEY=STRONG_KEY)
    assert app.config["RESUME_DAYS"] == 30
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert Path(app.config["QUESTIONS_DIR"]).is_absolute()


def test_database_defaults_to_the_instance_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRESCREEN_INSTANCE_PATH", str(tmp_path / "inst"))
    app = create_app({"SECRET_KEY": STRONG_KEY, "PUBLIC_URL": HTTPS_URL, "STUDY_CONTACT_PHONE": "+86 10 5555 0100"})
    assert app.config["DATABASE"] == str(tmp_path / "inst" / "prescreen.sqlite3")
    assert Path(app.config["DATABASE"]).exists()


@pytest.mark.parametrize(
    ("instance_file", "env", "expected"),
    [
        (None, None, 30),  # the default
        ("RESUME_DAYS = 7\n", None, 7),  # instance/config.py over the default
        ("RESUME_DAYS = 7\n", "9", 9),  # PRESCREEN_* over instance/config.py
        (None, "12", 12),
    ],
)
def test_config_precedence_defaults_then_instance_file_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, instance_file: str | None, env: str | None, expected: int
) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    if instance_file:
        (instance / "config.py").write_text(instance_file)
    if env:
        monkeypatch.setenv("PRESCREEN_RESUME_DAYS", env)
    monkeypatch.setenv("PRESCREEN_SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("PRESCREEN_PUBLIC_URL", HTTPS_URL)
    monkeypatch.setenv("PRESCREEN_STUDY_CONTACT_PHONE", "+86 10 5555 0100")
    app = create_app({"INSTANCE_PATH": str(instance), "DATABASE": str(tmp_path / "db.sqlite3")})
    assert app.config["RESUME_DAYS"] == expected
    assert app.config["SECRET_KEY"] == STRONG_KEY


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PRESCREEN_SECRET_KEY"):
        _production_app(tmp_path)


def test_cli_refusal_is_one_clean_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["db", "init"], env={"PRESCREEN_INSTANCE_PATH": str(tmp_path / "i")})
    assert result.exit_code != 0
    output = result.output.strip()
    assert "PRESCREEN_SECRET_KEY is not set" in output
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output


def test_development_generates_a_private_secret_key_once(tmp_path: Path) -> None:
    config = {
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE": str(tmp_path / "d.sqlite3"),
        "ENV": "development",
    }
    first = create_app(config)
    key_file = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.config["SECRET_KEY"]) >= 32
    assert create_app(config).config["SECRET_KEY"] == first.config["SECRET_KEY"]


def test_production_refuses_to_start_in_debug_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``flask run`` starts the Werkzeug debugger from FLASK_DEBUG whatever ``app.debug`` says."""
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(ConfigError, match="debug mode"):
        _production_app(tmp_path, SECRET_KEY=STRONG_KEY)
    monkeypatch.delenv("FLASK_DEBUG")
    with pytest.raises(ConfigError, match="debug mode"):
        _production_app(tmp_path, SECRET_KEY=STRONG_KEY, DEBUG=True)


def test_cli_refuses_debug_mode_in_production_in_one_clean_line(tmp_path: Path) -> None:
    env = {
        "PRESCREEN_INSTANCE_PATH": str(tmp_path / "i"),
        "PRESCREEN_SECRET_KEY": STRONG_KEY,
        "PRESCREEN_PUBLIC_URL": HTTPS_URL,
        "FLASK_DEBUG": "1",
    }
    result = CliRunner().invoke(main, ["routes"], env=env)
    assert result.exit_code != 0
    output = result.output.strip()
    assert "debug mode" in output and "Traceback" not in output
    assert len(output.splitlines()) == 1, output


@pytest.mark.parametrize(
    "key",
    ["x", "changeme", "changeme" * 8, "s" * 32, "p" * 64, "0123456789abcdef" * 4, "a1b2c3d4e5f60718" * 2],
)
def test_production_refuses_a_weak_secret_key_without_showing_it(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError, match="PRESCREEN_SECRET_KEY is too weak") as caught:
        _production_app(tmp_path, SECRET_KEY=key)
    assert key not in str(caught.value).replace("secrets.token_hex(32)", "")
    assert len(str(caught.value).splitlines()) == 1


@pytest.mark.parametrize("make_key", [lambda: secrets.token_hex(32), lambda: secrets.token_urlsafe(32)])
def test_production_accepts_a_key_of_32_random_bytes(tmp_path: Path, make_key) -> None:  # type: ignore[no-untyped-def]
    assert _production_app(tmp_path, SECRET_KEY=make_key()).config["ENV"] == "production"


@pytest.mark.parametrize("url", ["http://localhost:5000", "http://prescreen.example", "https://", "prescreen.example"])
def test_production_refuses_a_public_url_that_is_not_https(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="PRESCREEN_PUBLIC_URL must be the site's https://"):
        _production_app(tmp_path, SECRET_KEY=STRONG_KEY, PUBLIC_URL=url)


def test_development_keeps_its_short_key_http_url_and_debugger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = _production_app(tmp_path, ENV="development", SECRET_KEY="x", PUBLIC_URL="http://localhost:5000")
    assert app.debug is True


def test_production_session_cookie_is_secure_and_host_prefixed(tmp_path: Path) -> None:
    app = _production_app(tmp_path, SECRET_KEY=STRONG_KEY)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    missing = [key for key in DEFAULTS if f"PRESCREEN_{key}" not in readme]
    assert not missing, f"README.md does not document {missing}"


# -- security headers, cookies and CSRF ----------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/healthz", "/no-such-page", "/static/app.css"])
def test_security_headers_on_every_response(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    response.close()
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "charset=utf-8" in response.headers["Content-Type"]


def _app_with_form(make_app, **config: object) -> Flask:
    """A test app with one form that writes a row, to check CSRF and cookies end to end."""
    app = make_app(**config)

    @app.route("/_form", methods=["GET", "POST"])
    def form() -> str:
        from prescreen.store import get_db

        if app.config.get("TESTING") and __import__("flask").request.method == "POST":
            with transaction(get_db()):
                insert(get_db(), "audit", {"at": "now", "actor": "t", "action": "post", "record_type": "x"})
            return "saved"
        return render_template_string('{% import "_forms.html" as p %}<form method="post">{{ p.csrf_field() }}</form>')

    return app


def test_post_without_csrf_token_is_refused_and_writes_nothing(make_app, csrf_token) -> None:
    app = _app_with_form(make_app)
    client = app.test_client()
    response = client.post("/_form", data={"x": "1"})
    assert response.status_code == 400
    assert "Werkzeug" not in response.get_data(as_text=True)
    other = app.test_client()
    foreign = csrf_token(other, "/_form")  # a token from someone else's session
    assert client.post("/_form", data={"csrf_token": foreign}).status_code == 400
    assert count_rows(connect(app.config["DATABASE"]), "audit") == 0
    token = csrf_token(client, "/_form")
    assert client.post("/_form", data={"csrf_token": token}).status_code == 200
    assert count_rows(connect(app.config["DATABASE"]), "audit") == 1


def test_session_cookie_is_httponly_and_samesite(make_app) -> None:
    client = _app_with_form(make_app).test_client()
    cookie = client.get("/_form").headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_oversized_post_gets_the_413_page(make_app) -> None:
    response = _app_with_form(make_app).test_client().post("/_form", data={"x": "a" * (70 * 1024)})
    assert response.status_code == 413
    assert "<h1>" in response.get_data(as_text=True)


def test_wrong_method_gets_the_405_page(client: FlaskClient) -> None:
    response = client.post("/healthz")
    assert response.status_code == 405
    assert "<h1>" in response.get_data(as_text=True)


# -- error pages ----------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "heading"), [("en", "We cannot find this page"), ("zh", "找不到这个页面")])
def test_404_page_is_translated(client: FlaskClient, lang: str, heading: str) -> None:
    response = client.get(f"/no-such-page?lang={lang}")
    assert response.status_code == 404
    assert heading in response.get_data(as_text=True)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_500_page_shows_an_incident_id_and_no_traceback(make_app, caplog: pytest.LogCaptureFixture, lang: str) -> None:
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    @app.get("/_boom")
    def boom() -> str:
        raise RuntimeError("secret internal detail")

    with caplog.at_level(logging.ERROR):
        response = app.test_client().get(f"/_boom?lang={lang}")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    for leak in ("Traceback", "Werkzeug", "werkzeug", "secret internal detail", "RuntimeError"):
        assert leak not in body
    incident = re.search(r'class="incident-id">([A-Z0-9]{8})<', body)
    assert incident, body
    assert any(incident.group(1) in r.getMessage() and r.exc_info for r in caplog.records)
    assert ("抱歉" in body) == (lang == "zh")


# -- languages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "html_lang"),
    [
        ("zh-CN,zh;q=0.9", "zh-CN"),
        ("zh-TW,en;q=0.5", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("zh", "zh-CN"),
        ("en-GB,zh;q=0.3", "en"),
        ("fr-FR,de;q=0.8", "en"),
        ("", "en"),
    ],
)
def test_accept_language_chooses_zh_or_en(client: FlaskClient, accept: str, html_lang: str) -> None:
    body = client.get("/", headers={"Accept-Language": accept}).get_data(as_text=True)
    assert f'<html lang="{html_lang}">' in body


def test_explicit_choice_is_remembered_over_accept_language(client: FlaskClient) -> None:
    zh = {"Accept-Language": "zh-CN"}
    assert '<html lang="en">' in client.get("/?lang=en", headers=zh).get_data(as_text=True)
    assert '<html lang="en">' in client.get("/", headers=zh).get_data(as_text=True)
    assert '<html lang="zh-CN">' in client.get("/?lang=zh").get_data(as_text=True)


def test_screening_locale_comes_before_accept_language(make_app) -> None:
    app = make_app()

    @app.get("/_screening")
    def screening() -> str:
        g.screening_locale = "zh"
        return render_template_string('<html lang="{{ html_lang() }}">')

    client = app.test_client()
    assert client.get("/_screening", headers={"Accept-Language": "en"}).get_data(as_text=True) == '<html lang="zh-CN">'
    client.get("/?lang=en")
    assert client.get("/_screening").get_data(as_text=True) == '<html lang="en">'


def test_language_switch_links_to_the_same_page_in_the_other_language(client: FlaskClient) -> None:
    body = client.get("/no-such-page?a=1&lang=en").get_data(as_text=True)
    assert '<a href="/no-such-page?a=1&amp;lang=zh" lang="zh-CN" hreflang="zh-CN">中文</a>' in body
    assert '<span lang="en" aria-current="true">English</span>' in body


@pytest.mark.parametrize("path", ["/", "/no-such-page"])
def test_pages_load_nothing_from_another_origin(client: FlaskClient, path: str) -> None:
    body = client.get(path).get_data(as_text=True)
    for url in re.findall(r'(?:src|href|action)="([^"]*)"', body):
        assert not re.match(r"^(?:[a-z]+:)?//", url, re.I), url
