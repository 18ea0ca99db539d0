"""The application factory: configuration, then a plain list of ``init_app`` calls."""

from __future__ import annotations

from typing import Any

from flask import Flask

from . import (
    api_docs,
    app_shell,
    config,
    db,
    errors,
    gate,
    metrics,
    openapi,
    openrosa,
    request_log,
    throttle,
    transport,
    web,
)
from .api import (
    api_keys,
    campaigns,
    conflicts,
    devices,
    enrollment_codes,
    exports,
    forms,
    health,
    orgunits,
    progress,
    records,
    users,
)
from .api import sync as sync_api
from .auth import views as auth_views

API_BLUEPRINTS = (
    auth_views.blp,
    orgunits.blp,
    campaigns.blp,
    users.blp,
    enrollment_codes.blp,
    devices.blp,
    sync_api.blp,
    progress.blp,
    conflicts.blp,
    records.blp,
    exports.blp,
    api_keys.blp,
    forms.blp,
)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    instance = config.instance_path()
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=False)
    app.config.update(config.load(instance=instance))
    app.config.update(
        API_TITLE="wardsync",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    app.config.update(overrides or {})
    api_docs.configure(app)

    request_log.init_app(app)
    db.init_app(app)
    metrics.init_app(app)
    transport.init_app(app)
    gate.init_app(app)
    throttle.init_app(app)
    api = openapi.init_api(app)
    for blueprint in API_BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(health.blp)
    api_docs.init_app(app)
    web.init_app(app)
    app_shell.init_app(app)
    openrosa.init_app(app)
    # After Api(): flask-smorest registers its own error handler, which ours replaces.
    errors.init_app(app)
    return app
