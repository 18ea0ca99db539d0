"""The ``wardsync`` command: database, users, serving and the demo, on the server machine."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from migrations import api as migrations_api
from sync.accounts import api_keys, users
from sync.admin import campaigns
from sync.admin import demo as demo_data
from sync.errors import DomainError
from sync.progress import verify

from . import db
from .app import create_app


@click.group(
    cls=FlaskGroup,
    create_app=lambda: create_app(),
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)
def main() -> None:
    """wardsync: the sync server for door-to-door volunteer campaigns."""


@main.group("db")
def db_group() -> None:
    """The database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    migrations_api.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (``base`` empties the database)."""
    migrations_api.downgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


@main.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["admin", "hq", "lead", "volunteer"]))
@click.option("--org-unit", "org_units", multiple=True, help="Org unit code (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create_user(username: str, role: str, org_units: tuple[str, ...], password_stdin: bool):
    """Create a user. Without --password-stdin you are prompted for the password."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    session = db.session()
    try:
        users.create(session, username, role, org_units, password=password)
    except DomainError as exc:
        raise click.ClickException(_describe(exc)) from exc
    session.commit()
    click.echo(f"created {role} {username}")


@main.command("demo")
@with_appcontext
def demo() -> None:
    """Load the demo campaign (once) and print its credentials."""
    session = db.session()
    saved = Path(current_app.instance_path) / "demo-credentials.txt"
    if demo_data.is_loaded(session):
        click.echo("The demo is already loaded; its data is kept.")
        if saved.exists():
            click.echo(saved.read_text(), nl=False)
        _print_enrolment_codes(session)
        return
    made = demo_data.load(session)
    session.commit()
    lines = ["Demo credentials (username / role / password / org units):"]
    lines += [
        f"  {c.username:<16} {c.role:<10} {c.password:<18} {' '.join(c.org_units)}" for c in made
    ]
    text = "\n".join(lines) + "\n"
    saved.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    click.echo(text, nl=False)
    click.echo(f"(saved in {saved})")
    _print_enrolment_codes(session)


def _print_enrolment_codes(session) -> None:
    codes = demo_data.enrolment_codes(session)
    session.commit()
    click.echo("Enrolment codes for the volunteers' phones (one use each, valid 24 h):")
    for username, ward, code in codes:
        click.echo(f"* {username:<10} {ward:<16} {code}")
    click.echo(
        "Enrol a phone: open http://<this machine>:8000/app/#enroll=<code> on it (the lead's"
        " /devices page shows it as a QR code),"
    )
    click.echo("or: wardsync-client enroll --server http://127.0.0.1:8000 --code <code>")


@main.group("api-key")
def api_key_group() -> None:
    """API keys for export scripts."""


@api_key_group.command("create")
@click.argument("name")
@click.option("--scope", type=click.Choice(["export"]), required=True)
@click.option("--org-unit", "org_units", multiple=True, help="Org unit code (repeatable).")
@with_appcontext
def api_key_create(name: str, scope: str, org_units: tuple[str, ...]) -> None:
    """Create an API key and print it (once: only its hash is kept)."""
    session = db.session()
    try:
        key, secret = api_keys.create(session, name, list(org_units), None, scope)
    except DomainError as exc:
        raise click.ClickException(_describe(exc)) from exc
    session.commit()
    click.echo(f"API key {key.id} ({name}, {scope}): {secret}")


@main.command("verify")
@click.option("--campaign", default=None, help="Campaign code (default: every campaign).")
@with_appcontext
def verify_counters(campaign: str | None) -> None:
    """Recount every progress counter from the stored submissions; exit 1 on any difference."""
    session = db.session()
    if campaign is not None and campaigns.get(session, campaign) is None:
        raise click.ClickException(f"No campaign '{campaign}'.")
    differences = verify.verify(session, campaign)
    for d in differences:
        click.echo(
            f"{d.campaign} org_unit={d.org_unit_id} {d.metric} {d.day}: "
            f"stored {d.stored}, recounted {d.recounted}"
        )
    if differences:
        raise SystemExit(1)
    click.echo("counters agree with a recount of the stored submissions")


@main.command("serve")
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", type=int, default=None, help="Default: 2 x cores + 1.")
def serve(bind: str, workers: int | None) -> None:
    """Serve the app with gunicorn."""
    conf = Path(__file__).with_name("gunicorn_conf.py")
    argv = [sys.executable, "-m", "gunicorn", "-c", str(conf), "--bind", bind]
    if workers:
        argv += ["--workers", str(workers)]
    argv.append("server.wsgi:app")
    os.execv(sys.executable, argv)  # noqa: S606 - replaces this process with gunicorn


def _describe(exc: DomainError) -> str:
    if exc.errors:
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
    return exc.detail


if __name__ == "__main__":
    main()
