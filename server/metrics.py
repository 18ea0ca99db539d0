"""Prometheus metrics at ``/metrics``, for the operator's dashboard (deploy/grafana-dashboard.json).

gunicorn runs several worker processes, each counting its own requests; prometheus-client's
multiprocess mode has each write its samples to files in ``PROMETHEUS_MULTIPROC_DIR`` and the
scrape, whichever worker answers it, adds them up (``gunicorn_conf.py`` makes the folder and
tells the client when a worker dies). Without that folder (the test client, a single process)
the process's own registry is read.

``/metrics`` is never public: it answers only a request bearing the operator's token
(``WARDSYNC_METRICS_TOKEN``; only its digest is kept), and is absent (404) when none is set.
It reads no database and no session, so a scrape during an outage still answers.

No label takes a value a client chose freely: forms and statuses come from closed sets, the
campaign from a stored submission, so a hostile phone cannot blow up the series count.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator

from flask import Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from sync.forms.fastcheck import FORM_NAMES as FORMS
from sync.store import locks

PUSH_ITEMS = Counter(
    "wardsync_push_items_total", "Forms answered by push, by result and form", ["status", "form"]
)
PUSHES = Counter("wardsync_pushes_total", "Push requests by path and HTTP status", ["path", "code"])
BATCH_SIZE = Histogram(
    "wardsync_push_batch_size",
    "Forms per push request",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500),
)
PUSH_SECONDS = Histogram(
    "wardsync_push_duration_seconds",
    "Push request latency, from the request's start to its answer",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LOCK_WAIT = Histogram(
    "wardsync_lock_wait_seconds",
    "Time a writer waited for its advisory locks (PostgreSQL)",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
DATABASE_ERRORS = Counter(
    "wardsync_database_errors_total", "Database errors answered by a request", ["kind"]
)
UNAVAILABLE = Counter(
    "wardsync_unavailable_total",
    "503 answers, by reason (database, busy, limits, disk_full)",
    ["reason"],
)
THROTTLED = Counter("wardsync_throttled_total", "Requests refused by a rate limit", ["limit"])
PULL_CHANGES = Counter("wardsync_pull_changes_total", "Changes served by pull")
PULLS = Counter("wardsync_pulls_total", "Pull pages served")
EXPORT_BYTES = Counter("wardsync_export_bytes_total", "Bytes of exports sent", ["export", "format"])
EXPORTS = Counter("wardsync_exports_total", "Exports served", ["export", "format"])
STORED = Counter(
    "wardsync_submissions_stored_total",
    "Submissions stored (applied or conflict), by campaign",
    ["campaign"],
)

MIN_TOKEN = 24
STORED_STATUSES = frozenset({"applied", "conflict"})
KNOWN_STATUSES = frozenset({"applied", "duplicate", "conflict", "rejected"})


def init_app(app: Flask) -> None:
    token = app.config.get("METRICS_TOKEN")
    if token and len(token) < MIN_TOKEN:
        raise ValueError(f"WARDSYNC_METRICS_TOKEN must be at least {MIN_TOKEN} characters")
    app.config["METRICS_TOKEN_DIGEST"] = _digest(token) if token else None
    app.add_url_rule("/metrics", "metrics", _metrics, methods=["GET"])
    if _observe_locks not in locks.observers:
        locks.observers.append(_observe_locks)


def push_answered(path: str, code: int, items: list, results: list[dict] | None) -> None:
    """One push's figures, once its answer is final (``server.request_log``)."""
    PUSHES.labels(path, str(code)).inc()
    PUSH_SECONDS.observe(time.perf_counter() - g.get("request_started", time.perf_counter()))
    if results is None:
        return
    BATCH_SIZE.observe(len(results))
    forms = Tally()
    stored = Tally()
    for item, result in zip(items, results, strict=False):
        form = item.get("form") if isinstance(item, dict) else None
        form = form if isinstance(form, str) and form in FORMS else "other"
        status = result.get("status")
        status = status if isinstance(status, str) and status in KNOWN_STATUSES else "other"
        forms[(status, form)] += 1
        if (
            status in STORED_STATUSES
            and isinstance(item, dict)
            and isinstance(item.get("campaign"), str)
        ):
            stored[item["campaign"]] += 1
    for (status, form), n in forms.items():
        PUSH_ITEMS.labels(status, form).inc(n)
    for campaign, n in stored.items():
        STORED.labels(campaign).inc(n)


def counted(export: str, fmt: str, body: Iterable) -> Iterator:
    """The export's body as it is sent, its bytes counted."""
    EXPORTS.labels(export, fmt).inc()
    for chunk in body:
        EXPORT_BYTES.labels(export, fmt).inc(len(chunk))
        yield chunk


def _observe_locks(seconds: float, _count: int) -> None:
    LOCK_WAIT.observe(seconds)


def _metrics() -> Response:
    """The operator's metrics; 404 unless a token is configured and presented."""
    digest = current_app.config.get("METRICS_TOKEN_DIGEST")
    sent = request.headers.get("Authorization", "")
    if not digest:
        abort(404)
    if not sent.startswith("Bearer ") or not hmac.compare_digest(
        _digest(sent.removeprefix("Bearer ")), digest
    ):
        return Response(
            "A metrics token is required.\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
