"""The XML documents OpenRosa clients read, written the one way: indented, UTF-8, with an XML
declaration (Collect and Enketo read any, but a stable form gives a stable hash)."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def leaf(parent: ET.Element, tag: str, text: str | None) -> ET.Element:
    node = ET.SubElement(parent, tag)
    node.text = text
    return node


def serialize(root: ET.Element) -> bytes:
    ET.indent(root, "  ")
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode()
    )
