"""The ward lead's web pages: server-rendered, no script or font from anywhere else."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from . import i18n, numbers, overview, review  # noqa: F401 - their routes join bp
from .views import bp

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    # CSRF is checked for the pages' forms only (in the blueprint); the JSON API takes bearer
    # tokens, which a cross-site form cannot send.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    csrf.init_app(app)
    i18n.init_app(app)
    numbers.init_app(app)
    app.register_blueprint(bp)
