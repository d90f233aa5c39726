"""The ``prescreen`` command: a Flask CLI group (``prescreen run``, ``prescreen db init`` …)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from . import ConfigError
from .study_cli import questions_cli, screen_command
from .translate import translate_cli


def _create_app() -> Flask:
    """Build the app for a command; a configuration problem is one clean line, not a traceback."""
    from . import create_app

    try:
        return create_app()
    except ConfigError as exc:
        # Not NoAppException: Flask would add "No such command" after our line.
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(1) from None


main = FlaskGroup(create_app=_create_app, help="prescreen: pre-screening for clinical trials.")
# Commands that must work before the app can start (no secret key, broken study).
main.add_command(translate_cli)
main.add_command(questions_cli)
main.add_command(screen_command)
