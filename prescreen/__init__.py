"""prescreen: a bilingual (zh/en) pre-screener for paediatric clinical trials."""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from . import assets, compression, config, errors, home, i18n, logsafe, security, store, studies
from .config import ROOT, ConfigError
from .engine import StudyError

__all__ = ["ConfigError", "create_app"]

#: Area blueprints, registered when their module exists; each exposes ``bp``
#: and may expose ``init_app(app)`` for its own set-up.
AREA_MODULES = ("public", "auth", "coordinator", "volunteer")

csrf = CSRFProtect()


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
        app.extensions["studies"] = studies.load(app.config["QUESTIONS_DIR"])
    except StudyError as exc:
        raise ConfigError(f"a study fails its check:\n{exc}") from None

    i18n.init_app(app)
    csrf.init_app(app)
    store.init_app(app)
    security.init_app(app)
    compression.init_app(app)
    assets.init_app(app)
    errors.init_app(app)
    logsafe.init_app(app)
    app.register_blueprint(home.bp)
    for name in AREA_MODULES:
        if importlib.util.find_spec(f"{__name__}.{name}") is not None:
            module = importlib.import_module(f"{__name__}.{name}")
            app.register_blueprint(module.bp)
            if hasattr(module, "init_app"):
                module.init_app(app)
    return app
