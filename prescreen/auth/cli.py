"""``prescreen users``: create, disable, enable and change study-team accounts from the server's shell.

There is no sign-up page and no password-reset e-mail: whoever can run commands on the server
vouches for the person (admins do the same in the app: ``prescreen.coordinator.accounts``).
``create`` with the address of a disabled account re-creates it. Passwords are asked twice with
hidden input (or read from standard input with ``--stdin``, for scripts) and never shown, logged
or stored in plain text.
"""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from .. import clock, studies
from ..store import get_db, users
from . import passwords, totp_seal


def valid_email(email: str) -> str:
    """The address, trimmed; a ClickException when it cannot be one."""
    email = email.strip()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise click.ClickException(f"{email!r} is not an e-mail address")
    return email


def ask_password(email: str, from_stdin: bool) -> str:
    """A new password that passes :func:`passwords.problem`, asked twice or read from stdin."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    reason = passwords.problem(password, email)
    if reason:
        raise click.ClickException(reason)
    return password


@click.group("users", cls=AppGroup)
def users_cli() -> None:
    """Create, disable and change study-team accounts (there is no sign-up page)."""


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(users.ROLES), required=True, help="coordinator or admin")
@click.option("--study", "study_ids", multiple=True, help="limit a coordinator to this study (repeatable)")
@click.option("--stdin", "from_stdin", is_flag=True, help="read the password from standard input")
def create_user_command(email: str, role: str, study_ids: tuple[str, ...], from_stdin: bool) -> None:
    """Create an account (or re-create a disabled one); the password is asked twice, never shown or stored."""
    email = valid_email(email)
    known = studies.all()
    for study in study_ids:
        if study not in known:
            raise click.ClickException(f"unknown study {study!r}; known: {', '.join(sorted(known))}")
    password = ask_password(email, from_stdin)
    try:
        users.create(get_db(), email, passwords.hash_password(password), role, list(study_ids), "cli")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    limit = f" for {', '.join(study_ids)}" if study_ids else ""
    click.echo(f"created {role} {email}{limit}")
    if role == "admin" and current_app.config["ADMIN_TOTP_REQUIRED"]:
        click.echo(f"admins sign in with an authenticator code: run `prescreen users totp {email}` next")


@users_cli.command("disable")
@click.argument("email")
def disable_user_command(email: str) -> None:
    """Disable an account and end its sessions at once."""
    if not users.disable(get_db(), email, "cli"):
        raise click.ClickException(f"no account for {email}")
    click.echo(f"disabled {email}")


@users_cli.command("enable")
@click.argument("email")
def enable_user_command(email: str) -> None:
    """Enable a disabled account again (it signs in with its old password)."""
    user = users.by_email(get_db(), valid_email(email))
    if user is None:
        raise click.ClickException(f"no account for {email}")
    if not users.set_active(get_db(), user["id"], True, "cli"):
        raise click.ClickException(f"{email} is already enabled")
    click.echo(f"enabled {email}")


@users_cli.command("password")
@click.argument("email")
@click.option("--stdin", "from_stdin", is_flag=True, help="read the password from standard input")
def password_command(email: str, from_stdin: bool) -> None:
    """Set a new password (same rules as create); ends open sessions and clears a lockout."""
    email = valid_email(email)
    if users.by_email(get_db(), email) is None:
        raise click.ClickException(f"no account for {email}")
    password = ask_password(email, from_stdin)
    if not users.set_password(get_db(), email, passwords.hash_password(password), "cli"):
        raise click.ClickException(f"no account for {email}")
    click.echo(f"changed the password of {email}; its sessions have ended")


@users_cli.command("totp")
@click.argument("email")
def totp_command(email: str) -> None:
    """Enrol an authenticator app: shows the secret once, then asks for a code to check it.

    Nothing is fetched from anywhere: type the secret into the app, or make a QR code of the
    ``otpauth://`` line on your own computer. Running it again replaces the secret (a new phone).
    """
    email = valid_email(email)
    if users.by_email(get_db(), email) is None:
        raise click.ClickException(f"no account for {email}")
    secret = passwords.new_totp_secret()
    click.echo("Add this account to the authenticator app (shown only now):")
    click.echo(f"  secret: {secret}")
    click.echo(f"  {passwords.totp_uri(secret, email)}")
    code = click.prompt("Code the app shows now")
    step = passwords.totp_step(secret, code, clock.now())
    if step is None:
        raise click.ClickException("that code does not match; nothing was changed, run the command again")
    users.set_totp(get_db(), email, totp_seal.seal(secret, current_app.secret_key or ""), "cli", used_step=step)
    click.echo(f"{email} now signs in with an authenticator code; its sessions have ended")


@users_cli.command("seal-totp")
def seal_totp_command() -> None:
    """Seal every authenticator secret enrolled before sealing existed (safe to run again)."""
    db = get_db()
    sealed = 0
    for row in users.with_totp(db):
        if not totp_seal.is_sealed(row["totp_secret"]):
            new = totp_seal.seal(row["totp_secret"], current_app.secret_key or "")
            sealed += users.reseal_totp(db, row["id"], row["totp_secret"], new)
    click.echo(f"sealed {sealed} authenticator secret(s)")
