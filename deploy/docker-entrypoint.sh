#!/bin/sh
# Migrate, then hand the process over to gunicorn (PID 1 receives the signals).
set -e
wardsync db upgrade
exec python -m gunicorn -c "$(python -c 'import server, os; print(os.path.join(os.path.dirname(server.__file__), "gunicorn_conf.py"))')" server.wsgi:app
