"""``wardsync-client``: a phone's sync from the command line (the full field CLI is issue 5)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .api import ApiError, Connection, Tokens


def _state_path(state_dir: str) -> Path:
    return Path(state_dir) / "device.json"


def _load(state_dir: str) -> tuple[str, Tokens]:
    path = _state_path(state_dir)
    if not path.exists():
        raise click.ClickException("Not enrolled: run `wardsync-client enroll` first.")
    data = json.loads(path.read_text())
    return data["server"], Tokens(**data["tokens"])


def _save(state_dir: str, server: str, tokens: Tokens) -> None:
    path = _state_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"server": server, "tokens": tokens.__dict__}))
    path.chmod(0o600)


@click.group()
@click.option(
    "--state-dir", default=".wardsync-client", show_default=True, envvar="WARDSYNC_CLIENT_STATE"
)
@click.pass_context
def main(ctx: click.Context, state_dir: str) -> None:
    """Talk to a wardsync server as an enrolled device."""
    ctx.obj = state_dir


@main.command()
@click.option("--server", required=True, help="Base URL, e.g. http://127.0.0.1:8000")
@click.option("--code", required=True, help="The enrolment code from your ward lead.")
@click.option("--name", default="phone", show_default=True)
@click.pass_obj
def enroll(state_dir: str, server: str, code: str, name: str) -> None:
    """Enrol this device with a one-use code."""
    try:
        tokens = Connection(server).enroll(code, name)
    except ApiError as exc:
        raise click.ClickException(str(exc)) from exc
    _save(state_dir, server, tokens)
    click.echo(f"enrolled as device {tokens.device_id}")


@main.command()
@click.argument("file", type=click.File("r"), default="-")
@click.pass_obj
def push(state_dir: str, file) -> None:
    """Push a JSON list of submissions (from FILE or standard input); print the results."""
    server, tokens = _load(state_dir)
    connection = Connection(server, tokens, on_tokens=lambda t: _save(state_dir, server, t))
    try:
        answer = connection.push(json.load(file))
    except ApiError as exc:
        raise click.ClickException(str(exc)) from exc
    json.dump(answer, sys.stdout, ensure_ascii=False, indent=2)
    click.echo()


@main.command()
@click.option("--cursor", default=None)
@click.option("--limit", default=500, show_default=True)
@click.pass_obj
def pull(state_dir: str, cursor: str | None, limit: int) -> None:
    """Print one page of changes after CURSOR."""
    server, tokens = _load(state_dir)
    connection = Connection(server, tokens, on_tokens=lambda t: _save(state_dir, server, t))
    try:
        answer = connection.pull(cursor, limit)
    except ApiError as exc:
        raise click.ClickException(str(exc)) from exc
    json.dump(answer, sys.stdout, ensure_ascii=False, indent=2)
    click.echo()
