#!/bin/sh
# The image's entrypoint.
#
# 1. Secrets may come as files (docker secrets): WARDSYNC_<NAME>_FILE=/run/secrets/... sets
#    WARDSYNC_<NAME> to the file's content, for the settings that hold a secret. Setting both
#    the variable and its _FILE is refused (which one would win is not obvious).
# 2. The configuration is checked (wardsync-check-env): no placeholder or short secret.
# 3. With no arguments: migrate, then hand the process over to gunicorn (PID 1 receives the
#    signals). With arguments: run them instead, with the same environment, e.g.
#    docker compose run --rm wardsync wardsync create-user admin --role admin --password-stdin
set -eu

for name in SECRET_KEY DATABASE_URL JWT_KEYS CITIZEN_ID_KEY REDIS_URL METRICS_TOKEN; do
  eval "file=\${WARDSYNC_${name}_FILE:-}"
  [ -n "$file" ] || continue
  eval "given=\${WARDSYNC_${name}:-}"
  if [ -n "$given" ]; then
    echo "wardsync: both WARDSYNC_${name} and WARDSYNC_${name}_FILE are set; keep one." >&2
    exit 64
  fi
  if [ ! -r "$file" ]; then
    echo "wardsync: WARDSYNC_${name}_FILE=$file cannot be read by uid $(id -u)." >&2
    exit 66
  fi
  value=$(cat "$file")
  export "WARDSYNC_${name}=$value"
  unset "WARDSYNC_${name}_FILE"
done

wardsync-check-env

if [ "$#" -gt 0 ]; then
  exec "$@"
fi

wardsync db upgrade
exec wardsync serve --bind "${WARDSYNC_BIND:-0.0.0.0:8000}"
