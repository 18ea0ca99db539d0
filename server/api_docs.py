"""Readable API docs at ``/api/v1/docs``: Swagger UI over the served ``openapi.json``.

Headquarters' script writers read the contract there. The UI's files come from the
``swagger-ui-bundle`` package (installed with wardsync, never copied into the repository) and
are served by wardsync itself, so the page works on a closed network and loads nothing from a
CDN. flask-smorest renders the page; this module only serves the files it names.
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, Flask, abort, send_from_directory

DOCS_PATH = "docs"  # under OPENAPI_URL_PREFIX, /api/v1
ASSETS_URL = "/api/v1/docs/assets/"
ASSETS = Path(swagger_ui_bundle.swagger_ui_path)
# Only what the page loads: the UI's own index.html and initializer point at a petstore.
SERVED = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"}
    | {"favicon-16x16.png", "favicon-32x32.png"}
)

bp = Blueprint("api_docs", __name__)


def configure(app: Flask) -> None:
    """Settings flask-smorest reads when the Api is made (call before ``init_api``)."""
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", DOCS_PATH)
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", ASSETS_URL)
    app.config.setdefault(
        "OPENAPI_SWAGGER_UI_CONFIG",
        {"deepLinking": True, "displayRequestDuration": True, "tryItOutEnabled": False},
    )


@bp.get(ASSETS_URL + "<name>")
def asset(name: str):
    """A file of Swagger UI, cached for a day (it changes only with the package)."""
    if name not in SERVED:
        abort(404)
    return send_from_directory(ASSETS, name, max_age=86400)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
