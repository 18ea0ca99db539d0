"""gunicorn settings for phones on slow, flaky links.

Threaded workers, so one phone trickling a 5 MiB batch over 2G does not hold a whole worker;
a generous timeout for those uploads; keep-alive so a phone's next batch reuses its connection;
workers recycled now and then so no slow leak can build up. For the open internet, put a
buffering proxy (nginx) in front as gunicorn's documentation advises.
"""

import multiprocessing
import os
import shutil
import tempfile

from server import logjson

bind = os.environ.get("WARDSYNC_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WARDSYNC_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("WARDSYNC_THREADS", 4))
timeout = 120
graceful_timeout = 30
keepalive = 15
max_requests = 5000
max_requests_jitter = 500
limit_request_line = 8190
limit_request_fields = 100
# JSON lines on stderr, the access log's included, each with its request's X-Request-ID
# (server/logjson.py). An OpenRosa device's key is in its URL: every line shows it as
# [redacted].
logconfig_dict = logjson.config(os.environ.get("WARDSYNC_LOG_LEVEL", "INFO").upper())
logger_class = "server.redact.RedactingLogger"
forwarded_allow_ips = os.environ.get("WARDSYNC_FORWARDED_ALLOW_IPS", "127.0.0.1")


def pre_request(worker, req):
    # An answer given before a request's body was read must also close its connection.
    from server.transport import remember_gunicorn_request

    remember_gunicorn_request(req)


# Metrics (server/metrics.py): each worker writes its samples to files in this folder and a
# scrape adds them up. Made fresh at each start, before any worker imports prometheus-client.
_OWN_METRICS_DIR = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _OWN_METRICS_DIR = tempfile.mkdtemp(prefix="wardsync-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _OWN_METRICS_DIR


def on_starting(server):
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(folder, ignore_errors=True)  # no samples of an earlier run
    os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _OWN_METRICS_DIR:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)
