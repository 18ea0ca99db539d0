"""``wardsync-client``: a phone's outbox and sync from the command line, and headquarters'
incremental exports.

A device's state (credentials, queued forms, what it pulled) is one SQLite file in
``--state-dir``; ``record`` works offline, ``sync`` sends and fetches when there is signal.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from . import sync as syncing
from .api import ApiError, AuthError, Connection, Tokens
from .exports import ExportStateError, IncrementalExport
from .outbox import DeviceStore

# Form fields that are numbers; every other field is text (a citizen id keeps its zeros).
NUMBER_FIELDS = {"quantity", "hours", "volunteers", "count", "value_vnd"}


def _store(state_dir: str) -> DeviceStore:
    return DeviceStore(Path(state_dir) / "device.sqlite3")


def _enrolled(state_dir: str) -> DeviceStore:
    store = _store(state_dir)
    if store.device_id is None:
        raise click.ClickException("Not enrolled: run `wardsync-client enroll` first.")
    return store


def _fail(exc: ApiError) -> click.ClickException:
    if isinstance(exc, AuthError):
        return click.ClickException(
            f"{exc}. The server refused this device's credentials: if it was revoked or "
            "its session ended, ask your ward lead for a new enrolment code."
        )
    return click.ClickException(str(exc))


@click.group()
@click.option(
    "--state-dir", default=".wardsync-client", show_default=True, envvar="WARDSYNC_CLIENT_STATE"
)
@click.pass_context
def main(ctx: click.Context, state_dir: str) -> None:
    """A wardsync device: record forms offline, sync them when online; or export as HQ."""
    ctx.obj = state_dir


@main.command()
@click.option("--server", required=True, help="Base URL, e.g. http://127.0.0.1:8000")
@click.option("--code", required=True, help="The enrolment code from your ward lead.")
@click.option("--name", default="phone", show_default=True)
@click.pass_obj
def enroll(state_dir: str, server: str, code: str, name: str) -> None:
    """Enrol this device with a one-use code."""
    store = _store(state_dir)
    if store.device_id and store.queued_count():
        raise click.ClickException(
            f"This device has {store.queued_count()} forms still to send: sync them first."
        )
    try:
        device_id = syncing.enroll(store, server, code, name)
    except ApiError as exc:
        raise _fail(exc) from exc
    click.echo(f"enrolled as device {device_id}")


def _field(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{text!r} is not FIELD=VALUE")
    if key in NUMBER_FIELDS:
        try:
            return key, int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError as exc:
            raise click.BadParameter(f"{key} must be a number") from exc
    return key, value


@main.command()
@click.argument("form", type=click.Choice(["activation", "household_help", "gift", "void"]))
@click.argument("fields", nargs=-1)
@click.option("--campaign", required=True)
@click.option("--org-unit", required=True, help="The ward's code.")
@click.option("--data", "data_json", help="The fields as a JSON object (FIELD=VALUE add to it).")
@click.option("--at", "recorded_at", help="When it was recorded (RFC 3339); default: now.")
@click.option("--record", "record_id", help="An activation record seen on this phone: a revisit.")
@click.option("--id", "submission_id", help="The submission id (default: a new UUID).")
@click.pass_obj
def record(
    state_dir: str,
    form: str,
    fields: tuple[str, ...],
    campaign: str,
    org_unit: str,
    data_json: str | None,
    recorded_at: str | None,
    record_id: str | None,
    submission_id: str | None,
) -> None:
    """Queue a form (works offline). FIELDS are FIELD=VALUE, e.g. status=activated."""
    store = _enrolled(state_dir)
    try:
        data = json.loads(data_json) if data_json else {}
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--data") from exc
    if not isinstance(data, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--data")
    data.update(_field(text) for text in fields)
    when = None
    if recorded_at:
        try:
            when = datetime.fromisoformat(recorded_at)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--at") from exc
        if when.tzinfo is None:
            raise click.BadParameter("needs a time zone offset, e.g. +07:00", param_hint="--at")
    base_version = None
    if record_id:
        base_version = store.record_version(record_id)
        if base_version is None:
            raise click.BadParameter("this phone has not pulled that record", param_hint="--record")
    sid = store.record(
        form,
        campaign,
        org_unit,
        data,
        recorded_at=when,
        base_version=base_version,
        submission_id=submission_id,
    )
    click.echo(sid)


@main.command()
@click.option("--batch-size", default=syncing.BATCH_SIZE, show_default=True)
@click.option("--no-pull", is_flag=True, help="Only send the outbox.")
@click.pass_obj
def sync(state_dir: str, batch_size: int, no_pull: bool) -> None:
    """Send every queued form in batches, then fetch what changed in this device's wards."""
    store = _enrolled(state_dir)
    connection = syncing.connect(store)
    report = syncing.SyncReport()
    try:
        queued = store.queued_count()
        with click.progressbar(length=queued, label="Sending", show_pos=True) as bar:
            syncing.push(
                store, connection, batch_size=batch_size, report=report, on_batch=bar.update
            )
        if not no_pull:
            with click.progressbar(iter(()), label="Fetching", show_pos=True) as bar:
                syncing.pull(store, connection, report=report, on_page=bar.update)
            store.set(last_sync=syncing.utc_now())
    except ApiError as exc:
        raise _fail(exc) from exc
    click.echo(report.summary())
    rejected = len(store.rejected())
    if rejected:
        click.echo(f"{rejected} forms were rejected: see `wardsync-client status`.", err=True)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable.")
@click.pass_obj
def status(state_dir: str, as_json: bool) -> None:
    """What is waiting to be sent, what was rejected and why, and what this phone knows."""
    store = _enrolled(state_dir)
    rejected = store.rejected()
    facts = {
        "device_id": store.device_id,
        "server": store.get("server"),
        "last_sync": store.get("last_sync"),
        "queued": store.queued_count(),
        "rejected": [item.__dict__ for item in rejected],
        "sent": store.sent_counts(),
        "pulled": store.pulled_counts(),
    }
    if as_json:
        click.echo(json.dumps(facts, ensure_ascii=False, indent=2))
        return
    click.echo(f"device {facts['device_id']} at {facts['server']}")
    click.echo(f"last sync: {facts['last_sync'] or 'never'}")
    click.echo(f"queued: {facts['queued']}")
    sent = ", ".join(f"{n} {s}" for s, n in sorted(facts["sent"].items())) or "none"
    click.echo(f"sent: {sent}")
    pulled = ", ".join(f"{n} {e}" for e, n in sorted(facts["pulled"].items())) or "none"
    click.echo(f"known here: {pulled}")
    click.echo(f"rejected: {len(rejected)}")
    for item in rejected:
        click.echo(f"  {item.id} {item.form} recorded {item.recorded_at}")
        for field, messages in item.errors.items():
            click.echo(f"    {field or '(form)'}: {'; '.join(map(str, messages))}")


@main.command()
@click.argument("submission_id")
@click.pass_obj
def discard(state_dir: str, submission_id: str) -> None:
    """Drop a rejected form from the outbox (queued forms cannot be dropped)."""
    if not _enrolled(state_dir).discard(submission_id):
        raise click.ClickException(f"no rejected form {submission_id}")
    click.echo(f"discarded {submission_id}")


@main.command()
@click.option("--server", required=True, envvar="WARDSYNC_SERVER")
@click.option("--api-key", required=True, envvar="WARDSYNC_API_KEY", help="An export API key.")
@click.option("--campaign", required=True)
@click.option("--org-unit")
@click.option("--form", type=click.Choice(["activation", "household_help", "gift", "void"]))
@click.option("--format", "fmt", type=click.Choice(["csv", "ndjson", "xlsx"]), default="csv")
@click.option("--out-dir", default="exports", show_default=True, type=click.Path())
@click.option(
    "--state-file",
    type=click.Path(),
    help="Where the cursor is kept (default: in OUT_DIR, named after the export).",
)
def export(
    server: str,
    api_key: str,
    campaign: str,
    org_unit: str | None,
    form: str | None,
    fmt: str,
    out_dir: str,
    state_file: str | None,
) -> None:
    """Fetch the submissions committed since the last run into a new file in OUT_DIR."""
    state = state_file or Path(out_dir) / (
        f".state-{campaign}-{org_unit or 'all'}-{form or 'all'}-{fmt}.json"
    )
    job = IncrementalExport(
        Connection(server, Tokens(api_key)),
        state,
        campaign=campaign,
        org_unit=org_unit,
        form=form,
        format=fmt,
    )
    try:
        with click.progressbar(iter(()), label="Exporting", show_pos=True) as bar:

            def progress(rows: int, size: int) -> None:
                bar.update((rows or size) - bar.pos)

            result = job.run(out_dir, on_progress=progress)
    except (ApiError, ExportStateError) as exc:
        raise click.ClickException(str(exc)) from exc
    if result.path is None:
        click.echo("nothing new since the last export")
    else:
        rows = "" if result.rows is None else f"{result.rows} rows "
        click.echo(f"{rows}written to {result.path}")
