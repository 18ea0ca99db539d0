"""The ``wardsync`` command: database, users, serving and the demo, on the server machine."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from migrations import api as migrations_api
from sync.accounts import api_keys, users
from sync.admin import backup as backups
from sync.admin import campaigns, orgunits
from sync.admin import demo as demo_data
from sync.errors import DomainError
from sync.progress import reads, verify

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
@click.option(
    "--empty", is_flag=True, help="Only the wards, campaign, targets and users: no forms."
)
@click.option(
    "--seed", type=int, default=demo_data.SEED, show_default=True, help="The month's random seed."
)
@click.option(
    "--wave",
    type=click.IntRange(1, 300),
    default=demo_data.WAVE,
    show_default=True,
    help="Volunteers a day (about), each with a phone.",
)
@click.option(
    "--days",
    type=click.IntRange(1, len(demo_data.month.DAYS)),
    default=None,
    help="Only the first DAYS of the campaign's ten weekend days.",
)
@with_appcontext
def demo(empty: bool, seed: int, wave: int, days: int | None) -> None:
    """Load the demo campaign (once) and print its credentials.

    The first run creates Thuận An's wards, the campaign, its targets and users, then pushes a
    month of the volunteers' weekends through the push path (unless --empty). Later runs keep
    the data as it is (an interrupted month is finished) and print the credentials again, with
    fresh enrolment codes.
    """
    started = time.perf_counter()
    session = db.session()
    saved = Path(current_app.instance_path) / "demo-credentials.txt"
    if demo_data.is_loaded(session):
        click.echo("The demo is already loaded; its data is kept.")
        if saved.exists():
            click.echo(saved.read_text(), nl=False)
        if demo_data.wanted(session) is not None and not demo_data.is_complete(session):
            click.echo(
                "Its month was not loaded to the end: sending it again (resends change nothing)."
            )
            _load_month(session, started)
        _print_enrolment_codes(session)
        return
    month = None if empty else {"seed": seed, "wave": wave, "days": days}
    made = demo_data.load(session, month=month)
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
    if month is not None:
        _load_month(session, started)
    _print_enrolment_codes(session)


def _load_month(session, started: float) -> None:
    params = demo_data.wanted(session)
    days = params["days"] or len(demo_data.month.DAYS)
    click.echo(
        f"Pushing a month of the campaign: {days} weekend days, about {params['wave']} volunteers"
        f" a day (seed {params['seed']}), day by day as the phones sent it:"
    )
    loaded = demo_data.load_wanted(session, current_app.config["CITIZEN_ID_KEY"], click.echo)
    forms = loaded.forms
    click.echo(
        f"Loaded in {loaded.seconds:.1f} s: {sum(forms.values()):,} forms"
        f" ({forms['activation']:,} activations, {forms['household_help']:,} help visits,"
        f" {forms['gift']:,} gifts, {forms['void']:,} voids) in {loaded.pushes:,} pushes"
        f" from {loaded.phones:,} phones; the whole command took"
        f" {time.perf_counter() - started:.1f} s."
    )
    campaign = campaigns.require(session, demo_data.CAMPAIGN[0])
    city = orgunits.require(session, demo_data.CITY[0])
    totals = reads.progress(session, campaign, city)["totals"]
    shown = {
        "citizens_reached": "citizens reached",
        "accounts_activated": "accounts activated",
        "no_smartphone": "without a smartphone",
        "households_helped": "households helped",
        "gifts_delivered": "gifts",
        "gift_value_vnd": "worth (đồng)",
        "suspected_doubles": "suspected doubles",
        "open_conflicts": "open conflicts",
    }
    click.echo(
        f"{demo_data.CITY[1]}: "
        + ", ".join(f"{label} {totals[m]['value']:,}" for m, label in shown.items())
        + "."
    )
    session.commit()


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


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup(path: Path) -> None:
    """Write a consistent copy of the SQLite database to PATH, while the server serves."""
    try:
        info = backups.backup(current_app.config["DATABASE_URL"], path)
    except DomainError as exc:
        raise click.ClickException(_describe(exc)) from exc
    click.echo(
        f"backed up {info.submissions} submissions (schema {info.revision}, "
        f"{info.bytes:,} bytes) to {info.path}"
    )


@main.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask: the server is stopped.")
@with_appcontext
def restore(path: Path, yes: bool) -> None:
    """Replace the SQLite database with the backup at PATH. Stop the server first.

    The schema is then brought up to this version's migrations; phones resend what they sent
    after the backup was taken once they see the server's receipt fall short.
    """
    url = current_app.config["DATABASE_URL"]
    try:
        database = backups.sqlite_path(url)
        if not yes:
            click.confirm(f"Replace {database} with {path}? Is the server stopped?", abort=True)
        info = backups.restore(path, url)
    except DomainError as exc:
        raise click.ClickException(_describe(exc)) from exc
    db.engine().dispose()
    migrations_api.upgrade(url)
    click.echo(f"restored {info.submissions} submissions (schema {info.revision}) from {info.path}")


@main.command("serve")
@click.option("--bind", envvar="WARDSYNC_BIND", default="127.0.0.1:8000", show_default=True)
@click.option(
    "--workers", envvar="WARDSYNC_WORKERS", type=int, default=None, help="Default: 2 x cores + 1."
)
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
