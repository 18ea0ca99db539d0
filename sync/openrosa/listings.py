"""The OpenRosa Form List API's ``xformsList`` and a form's ``xformsManifest``: what a device
is offered, and the hashes by which it knows when to download again."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from sync.openrosa.xmldoc import leaf, serialize

FORM_LIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"


@dataclass(frozen=True)
class FormListEntry:
    form_id: str
    name: str
    version: str
    hash: str
    download_url: str
    manifest_url: str | None = None


@dataclass(frozen=True)
class MediaFile:
    """One file of a form's manifest (a CSV of households, say)."""

    filename: str
    hash: str  # "md5:<hex>", as form_hash gives
    download_url: str


def form_hash(xml: bytes) -> str:
    """The hash the form list and manifest give for a document: ``md5:<hex>`` (OpenRosa)."""
    return "md5:" + hashlib.md5(xml, usedforsecurity=False).hexdigest()


def form_list(entries: list[FormListEntry]) -> bytes:
    """The OpenRosa form list (``xformsList``) offering ``entries``."""
    root = ET.Element("xforms", {"xmlns": FORM_LIST_NS})
    for entry in entries:
        node = ET.SubElement(root, "xform")
        leaf(node, "formID", entry.form_id)
        leaf(node, "name", entry.name)
        leaf(node, "version", entry.version)
        leaf(node, "hash", entry.hash)
        leaf(node, "downloadUrl", entry.download_url)
        if entry.manifest_url is not None:
            leaf(node, "manifestUrl", entry.manifest_url)
    return serialize(root)


def manifest(files: list[MediaFile]) -> bytes:
    """The OpenRosa manifest (``xformsManifest``) of a form's media files."""
    root = ET.Element("manifest", {"xmlns": MANIFEST_NS})
    for media in files:
        node = ET.SubElement(root, "mediaFile")
        leaf(node, "filename", media.filename)
        leaf(node, "hash", media.hash)
        leaf(node, "downloadUrl", media.download_url)
    return serialize(root)
