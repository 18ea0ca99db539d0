"""The volunteer's phone app: plain ES modules, a hand-written service worker, IndexedDB.

Shipped as package data so the server can serve it at ``/app/`` from an installed wheel. No
Python runs on the phone; this module only tells the server where the files are and which of
them make up the app shell (what the service worker precaches and the version hashes).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent

# Everything the app needs offline, relative to /app/. The icons are drawn by ``icons``.
FILES = (
    "index.html",
    "style.css",
    "manifest.webmanifest",
    "core.js",
    "store.js",
    "net.js",
    "sync.js",
    "app.js",
    "i18n.js",
    "forms.js",
    "ui.js",
    "views.js",
    "record.js",
    "places.js",
)
ICONS = {
    "icons/icon-192.png": (192, False),
    "icons/icon-512.png": (512, False),
    "icons/maskable-512.png": (512, True),
    "icons/apple-touch-icon.png": (180, False),
}
WORKER = "sw.js"
