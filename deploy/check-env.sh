#!/bin/sh
# Refuses to start a production server on a configuration that is unsafe or unfinished.
# Run by the image's entrypoint and by wardsync.service (ExecStartPre) before migrations.
#
# wardsync itself starts with no environment at all (a SQLite file and a secret generated
# into the instance folder: the embedded `make run` setup). A deployment must not: on several
# hosts each would generate its own secret and refuse the others' tokens. So here:
#   - WARDSYNC_SECRET_KEY and WARDSYNC_DATABASE_URL must be set;
#   - no secret may still hold the examples' CHANGE-ME placeholder, and the secret key (and
#     the citizen-id key, when given) must be at least 32 characters;
#   - SQLite, or session cookies without Secure, only earn a warning.
# Exit status 78 (EX_CONFIG) on refusal: wardsync.service does not restart on it.
set -u

status=0
refuse() {
  echo "wardsync: $1" >&2
  status=78
}

placeholder() {
  case $(printf '%s' "$1" | tr '[:upper:]' '[:lower:]') in
    *change-me* | *changeme* | *change_me*) return 0 ;;
  esac
  return 1
}

check_secret() { # NAME VALUE: a secret that, when given, must be long and not a placeholder
  if placeholder "$2"; then
    refuse "$1 still holds the CHANGE-ME placeholder; generate one (deploy/README.md)."
  elif [ "${#2}" -lt 32 ]; then
    refuse "$1 is shorter than 32 characters."
  fi
}

if [ -z "${WARDSYNC_SECRET_KEY:-}" ]; then
  refuse "WARDSYNC_SECRET_KEY is not set (every host must share one; deploy/README.md)."
else
  check_secret WARDSYNC_SECRET_KEY "$WARDSYNC_SECRET_KEY"
fi

if [ -n "${WARDSYNC_CITIZEN_ID_KEY:-}" ]; then
  check_secret WARDSYNC_CITIZEN_ID_KEY "$WARDSYNC_CITIZEN_ID_KEY"
fi

# Entries are kid=secret; wardsync itself refuses a secret under 32 characters.
if placeholder "${WARDSYNC_JWT_KEYS:-}"; then
  refuse "WARDSYNC_JWT_KEYS still holds the CHANGE-ME placeholder."
fi

case ${WARDSYNC_DATABASE_URL:-} in
  "") refuse "WARDSYNC_DATABASE_URL is not set (postgresql://user:password@host:5432/db)." ;;
  sqlite*) echo "wardsync: warning: SQLite serves one host only; use PostgreSQL to scale out." >&2 ;;
esac
if placeholder "${WARDSYNC_DATABASE_URL:-}"; then
  refuse "WARDSYNC_DATABASE_URL still holds the CHANGE-ME placeholder password."
fi
# wardsync itself refuses a metrics token under 24 characters.
if placeholder "${WARDSYNC_METRICS_TOKEN:-}"; then
  refuse "WARDSYNC_METRICS_TOKEN still holds the CHANGE-ME placeholder."
fi
if placeholder "${WARDSYNC_REDIS_URL:-}"; then
  refuse "WARDSYNC_REDIS_URL still holds the CHANGE-ME placeholder password."
fi

if [ "${WARDSYNC_SESSION_COOKIE_SECURE:-1}" = "0" ]; then
  echo "wardsync: warning: WARDSYNC_SESSION_COOKIE_SECURE=0 sends session cookies over HTTP." >&2
fi

exit "$status"
