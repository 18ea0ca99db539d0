# wardsync server image: gunicorn on PostgreSQL (set WARDSYNC_DATABASE_URL and WARDSYNC_SECRET_KEY).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    WARDSYNC_INSTANCE_PATH=/var/lib/wardsync \
    WARDSYNC_BIND=0.0.0.0:8000

WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY server ./server
COPY sync ./sync
COPY migrations ./migrations
COPY clients ./clients
RUN pip install . \
    && useradd --system --home-dir /var/lib/wardsync --create-home wardsync

COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER wardsync
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
