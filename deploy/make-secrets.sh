#!/bin/sh
# Writes the secrets deploy/compose.yaml reads, once: deploy/secrets/{postgres_password,
# wardsync_secret_key,wardsync_database_url}. A file that exists is kept (the secret key and
# the citizen-id key derived from it must never change once data exists), so running it again
# only adds what is missing.
#
# The folder is 0700 (no other user of this machine reads it); the files are 0444 because the
# containers read them as their own non-root users (postgres, and wardsync as uid 10001)
# through bind mounts. Usage: deploy/make-secrets.sh [FOLDER]   (default: deploy/secrets)
set -eu

dir=${1:-$(dirname "$0")/secrets}
umask 077
mkdir -p "$dir"
chmod 0700 "$dir"

random() { # 48 random bytes as URL-safe base64 (64 characters): nothing to escape in a URL
  head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

write() { # NAME VALUE
  if [ -e "$dir/$1" ]; then
    echo "kept    $dir/$1"
    return
  fi
  printf '%s\n' "$2" > "$dir/$1"
  chmod 0444 "$dir/$1"
  echo "wrote   $dir/$1"
}

write postgres_password "$(random)"
write wardsync_secret_key "$(random)"
password=$(cat "$dir/postgres_password")
write wardsync_database_url "postgresql://wardsync:${password}@postgres:5432/wardsync"
