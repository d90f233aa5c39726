"""prescreen: a bilingual (zh/en) pre-screener for paediatric clinical trials."""

from __future__ import annotations

import os
from typing import Any

import click
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import auth, config, coordinator, public, store, studies, team, volunteer
from .auth.cli import users_cli
from .config import ROOT, ConfigError
from .coordinator.sources import sources_cli
from .coordinator.weekly import reports_cli
from .engine import StudyError
from .extensions import csrf
from .mail.notify import studies_cli
from .mail.send import mail_cli
from .purge import purge_command
from .store import db_cli
from .store.audit import audit_cli
from .web import assets, compression, display, errors, home, i18n, logsafe, security, wechat

__all__ = ["ConfigError", "create_app"]

#: Each audience's package: its blueprint ``bp`` and its ``init_app(app)``, in this order.
AREAS = (public, auth, coordinator, volunteer)
#: The ``prescreen`` commands that need the app (the ones that do not are in :mod:`prescreen.cli`).
CLI_GROUPS: tuple[click.Command, ...] = (
    db_cli,
    audit_cli,
    users_cli,
    mail_cli,
    studies_cli,
    purge_command,
    reports_cli,
    sources_cli,
)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app; raise :class:`ConfigError` when it must not start.

    ``test_config`` (and the environment variable ``PRESCREEN_INSTANCE_PATH``)
    may name ``INSTANCE_PATH``, so tests and servers keep data outside the checkout.
    """
    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get("PRESCREEN_INSTANCE_PATH")
    app = errors.PrescreenFlask(
        __name__,
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
    )
    config.load(app, test_config)
    if app.config["TRUSTED_PROXIES"]:
        n = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    try:
        loaded = studies.load(app.config["QUESTIONS_DIR"])
    except StudyError as exc:
        raise ConfigError(f"a study fails its check:\n{exc}") from None
    try:
        taxonomy = studies.load_taxonomy(app.config["QUESTIONS_DIR"])
    except StudyError as exc:
        raise ConfigError(f"questions/categories.csv has problems:\n{exc}") from None
    studies.install(app, loaded, taxonomy)

    i18n.init_app(app)
    csrf.init_app(app)
    store.init_app(app)
    studies.init_app(app)  # after the migration: uploaded versions published in the app
    team.init_app(app)  # after the studies and the migration: which studies are recruiting
    security.init_app(app)
    compression.init_app(app)
    assets.init_app(app)
    display.init_app(app)
    wechat.init_app(app)
    errors.init_app(app)
    logsafe.init_app(app)
    app.register_blueprint(home.bp)
    app.register_blueprint(display.bp)
    for area in AREAS:
        app.register_blueprint(area.bp)
        area.init_app(app)
    for command in CLI_GROUPS:
        app.cli.add_command(command)
    return app
