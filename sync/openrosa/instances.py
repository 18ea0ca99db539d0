"""What ODK Collect or Enketo submit, read safely and turned into the push envelope's items.

A submission is untrusted XML from the network. It is read with defusedxml: a document type
declaration is refused outright (so no entity can be declared, expanded or fetched from
outside), the size is capped (``MAX_XML_BYTES``) before anything is parsed, the text must be
UTF-8 whatever its declaration says, and nesting and element counts are bounded while parsing,
before anything large is built. Every way a document can be wrong is an ``InstanceError``
naming what was wrong, never any other exception (a property test feeds it arbitrary bytes), so
a server answers it with a 400 and never a 500.

The mapping is by name, because the XForms (``sync.openrosa.xforms``) carry the contract's
field names: each element becomes ``data[name]``, typed by the form's definition (integers as
``int``, numbers as ``int`` or ``float``, as a JSON push carries them; everything else as its
exact text, unstripped: the push path's rules decide, as for a JSON push). An empty element is
an unanswered question and is left out. An element the form does not declare is kept, so the
push path rejects it naming the field, as it would in a JSON push: one validation, not two.
A value that cannot be read as its type at all (``"abc"`` for a count) is an ``InstanceError``
naming the field, since the push path would only see that it is not a number.

``push_items`` makes the items; they go through ``sync.push.pipeline`` exactly like a JSON batch,
so idempotency (the ``instanceID`` is the item's id), merge rules, counters and review items are
the same whichever app sent a form.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from defusedxml import DefusedXmlException, DTDForbidden
from defusedxml.ElementTree import DefusedXMLParser

from sync.forms import definitions
from sync.forms.definitions import VOID_V1, FieldDef, FormDef
from sync.openrosa.xforms import ROOT, UI, XFORM_NAMES
from sync.openrosa.xmlchars import replaced

MAX_XML_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 16  # a built-in form's instance is 3 deep (data/meta/instanceID)
MAX_ELEMENTS = 1000  # and has about 15 elements
# No answer of any form may be longer than 500 characters (notes); one far beyond that is
# refused here, naming its field, rather than run through every text rule of the push path
# (a 10 MiB note costs a second of CPU there).
MAX_ANSWER_CHARS = 10_000
MAX_DIGITS = 30  # a number longer than this is out of every range: no huge int is built
# The ids of the voids that edits make: uuid5(EDIT_VOID_NAMESPACE, the edit's instanceID), so a
# resent edit makes the same void (a duplicate). Fixed forever: changing it would make a resend
# void the event a second time under another id.
EDIT_VOID_NAMESPACE = uuid.UUID("6f1b2c0e-3d7a-5b8e-9c41-0a7e5d2f4b13")
EDIT_REASON = "edited in ODK Collect"
RESPONSE_NS = "http://openrosa.org/http/response"

UUID_TEXT = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
INTEGER_TEXT = re.compile(rf"[+-]?[0-9]{{1,{MAX_DIGITS}}}")
# Decimal notation as Collect (Java's Double.toString: "1.0E7") and Enketo write numbers.
NUMBER_TEXT = re.compile(
    rf"[+-]?(?:[0-9]{{1,{MAX_DIGITS}}}(?:\.[0-9]{{0,{MAX_DIGITS}}})?|\.[0-9]{{1,{MAX_DIGITS}}})"
    r"(?:[eE][+-]?[0-9]{1,3})?"
)
XML_BLANKS = " \t\r\n"


class InstanceError(ValueError):
    """A submission that cannot become push items: ``field`` names what is wrong (a contract
    field such as ``citizen_id``, or ``xml``, ``form``, ``form_version``, ``meta/instanceID``,
    ``meta/deprecatedID``) and ``message`` says it in an English sentence for the volunteer."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Instance:
    form: str  # "activation" | "household_help" | "gift"
    form_version: int  # the integer before the dot of the version attribute
    instance_id: str  # the uuid of meta/instanceID, without "uuid:", lower-case
    deprecated_id: str | None  # meta/deprecatedID: this instance is an edit of that one
    campaign: str | None
    org_unit: str | None
    recorded_at: str | None  # <end> (else <start>) as the client wrote it (ISO 8601)
    data: dict[str, Any] = field(default_factory=dict)


def parse_instance(xml: bytes) -> Instance:
    """The submission in ``xml`` (the ``xml_submission_file`` part), or ``InstanceError``."""
    root, attrib, elements = _read(xml)
    if root != ROOT:
        raise InstanceError("xml", f"Not a submission of this server's forms (no <{ROOT}> root).")
    form = attrib.get("id")
    if form not in XFORM_NAMES:
        raise InstanceError("form", "Unknown form: download the forms again.")
    version = re.fullmatch(r"([0-9]{1,9})(?:\..*)?", attrib.get("version") or "", re.S)
    if version is None:
        raise InstanceError("form_version", "The form's version is missing or unreadable.")
    definition = definitions.BY_KEY.get((form, int(version[1])))
    if definition is None:
        raise InstanceError("form_version", "Unknown version of this form: download it again.")

    values: dict[str, str] = {}
    for path, text, nested in elements:
        name = "/".join(path)
        if path[0] == UI:
            continue  # Collect-only helpers (the household pick): household_id carries it
        if (len(path) > 1 and path[0] != "meta") or len(path) > 2:
            continue  # inside an element kept whole (an unknown one) or refused below
        if nested and len(path) == 2:  # meta's children are single values
            raise InstanceError(name, "Must be a single value, not nested elements.")
        if name in values:
            raise InstanceError(name, "Given more than once.")
        if len(text) > MAX_ANSWER_CHARS:
            raise InstanceError(name, f"Longer than {MAX_ANSWER_CHARS} characters.")
        if nested and name != "meta" and name in _known(definition):
            raise InstanceError(name, "Must be a single value, not nested elements.")
        values[name] = "" if nested else text

    instance_id = _uuid(values.get("meta/instanceID"), "meta/instanceID")
    if instance_id is None:
        raise InstanceError("meta/instanceID", "Missing: every submission needs its instanceID.")
    deprecated_id = _uuid(values.get("meta/deprecatedID"), "meta/deprecatedID")
    if deprecated_id == instance_id:
        raise InstanceError("meta/deprecatedID", "An edit must have an instanceID of its own.")
    return Instance(
        form=form,
        form_version=definition.version,
        instance_id=instance_id,
        deprecated_id=deprecated_id,
        campaign=values.get("campaign") or None,
        org_unit=values.get("org_unit") or None,
        recorded_at=values.get("end") or values.get("start") or None,
        data=_data(definition, values),
    )


def push_items(instance: Instance, replaced: tuple[str, str] | None = None) -> list[dict]:
    """The push items (as in ``POST /api/v1/sync/push``'s ``submissions``) ``instance`` stands
    for: the form itself, with its instanceID as id; for an edit of an event (a gift, help) a
    void of the event it replaces first, whose id is derived from the edit's, so a resend is a
    duplicate. An edit of an activation is a later visit of the same citizen: the record's
    merge rules apply to it as to any other, so it is just the new item. Places and times the
    instance lacks are left out, so the push path names them as missing.

    ``replaced``: the (campaign, org unit) the void is filed under (``edits.void_place``),
    when the edit moved the event to another ward or campaign: a void lives where its target
    does, so it names the target's place, and the new event the instance's."""
    place = {
        key: value
        for key, value in (
            ("campaign", instance.campaign),
            ("org_unit", instance.org_unit),
            ("recorded_at", instance.recorded_at),
        )
        if value is not None
    }
    item = {
        "id": instance.instance_id,
        "form": instance.form,
        "form_version": instance.form_version,
        **place,
        "data": dict(instance.data),
    }
    definition = definitions.BY_KEY[(instance.form, instance.form_version)]
    if instance.deprecated_id is None or definition.kind != "event":
        return [item]
    void_place = dict(place)
    if replaced is not None:
        void_place["campaign"], void_place["org_unit"] = replaced
    void = {
        "id": edit_void_id(instance.instance_id),
        "form": VOID_V1.form,
        "form_version": VOID_V1.version,
        **void_place,
        "data": {"target": instance.deprecated_id, "reason": EDIT_REASON},
    }
    return [void, item]


def edit_void_id(instance_id: str) -> str:
    """The id of the void an edit sends: derived from the edit's own id, so a resend of the
    edit sends the same void and it is answered duplicate."""
    return str(uuid.uuid5(EDIT_VOID_NAMESPACE, instance_id))


def openrosa_response(message: str, nature: str = "submit_success") -> bytes:
    """The ``OpenRosaResponse`` document whose message Collect shows the volunteer (``nature``
    ``error`` for a refusal). Always well-formed: the text is escaped, and characters XML
    cannot carry, or that would show as nothing (controls), become U+FFFD."""
    root = ET.Element("OpenRosaResponse", {"xmlns": RESPONSE_NS})
    node = ET.SubElement(root, "message", {"nature": _printable(nature)})
    node.text = _printable(message)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode").encode()
    )


# --- reading ----------------------------------------------------------------------------------


class _Collector:
    """The parser's target: the root's name and plain attributes, and every element below it
    as (path of local names, text, has children), refusing depth and count past the limits as
    they come. Namespaces are dropped: Collect writes none, Enketo the form's default one."""

    def __init__(self) -> None:
        self.root: str | None = None
        self.attrib: dict[str, str] = {}
        self.open: list[list] = []  # [local name, text parts, has children]
        self.elements: list[tuple[tuple[str, ...], str, bool]] = []
        self.count = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.count += 1
        if self.count > MAX_ELEMENTS:
            raise InstanceError("xml", f"More than {MAX_ELEMENTS} elements.")
        if len(self.open) >= MAX_DEPTH:
            raise InstanceError("xml", f"Elements nested more than {MAX_DEPTH} deep.")
        local = tag.rpartition("}")[2]
        if self.root is None:
            self.root = local
            self.attrib = {k: v for k, v in attrib.items() if "}" not in k}
        elif self.open:
            self.open[-1][2] = True
        self.open.append([local, [], False])

    def data(self, text: str) -> None:
        if self.open:
            self.open[-1][1].append(text)

    def end(self, tag: str) -> None:
        name, parts, nested = self.open.pop()
        if self.open:  # not the root
            path = tuple(entry[0] for entry in self.open[1:]) + (name,)
            self.elements.append((path, "".join(parts), nested))

    def close(self) -> _Collector:
        return self


def _read(xml: Any) -> tuple[str, dict[str, str], list[tuple[tuple[str, ...], str, bool]]]:
    if isinstance(xml, str):
        try:
            xml = xml.encode("utf-8")
        except UnicodeError as exc:
            raise InstanceError("xml", "Not valid Unicode text.") from exc
    if not isinstance(xml, bytes | bytearray | memoryview):
        raise InstanceError("xml", "No XML document.")
    xml = bytes(xml)
    if len(xml) > MAX_XML_BYTES:
        raise InstanceError("xml", f"Larger than {MAX_XML_BYTES // (1024 * 1024)} MiB.")
    try:
        xml.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InstanceError("xml", f"Not valid UTF-8 (at byte {exc.start}).") from exc
    target = _Collector()
    parser = DefusedXMLParser(
        target=target, encoding="utf-8", forbid_dtd=True, forbid_entities=True
    )
    try:
        parser.feed(xml)
        parser.close()
    except InstanceError:
        raise
    except DTDForbidden as exc:
        raise InstanceError("xml", "A document type declaration (DTD) is not allowed.") from exc
    except DefusedXmlException as exc:  # entities, external references (only with a DTD)
        raise InstanceError("xml", "Entity declarations and references are not allowed.") from exc
    except ET.ParseError as exc:
        raise InstanceError("xml", f"Malformed XML: {_printable(str(exc))}.") from exc
    except (ValueError, UnicodeError) as exc:  # expat's rarer complaints
        raise InstanceError("xml", "Malformed XML.") from exc
    if target.root is None:  # pragma: no cover - expat reports "no element found" first
        raise InstanceError("xml", "Malformed XML: no element found.")
    return target.root, target.attrib, target.elements


def _known(definition: FormDef) -> set[str]:
    return {"campaign", "org_unit", "start", "end", *(f.name for f in definition.fields)}


def _uuid(text: str | None, where: str) -> str | None:
    if text is None or text.strip(XML_BLANKS) == "":
        return None
    value = text.strip(XML_BLANKS)
    value = value[5:] if value[:5].lower() == "uuid:" else value
    if not UUID_TEXT.fullmatch(value):
        raise InstanceError(where, "Must be 'uuid:' followed by a UUID.")
    return str(uuid.UUID(value))


def _data(definition: FormDef, values: dict[str, str]) -> dict[str, Any]:
    fields = {f.name: f for f in definition.fields}
    data: dict[str, Any] = {}
    for name, text in values.items():
        if name in ("campaign", "org_unit", "start", "end", "meta") or name.startswith("meta/"):
            continue
        f = fields.get(name)
        if f is None:
            data[name] = text  # not in the form: the push path rejects it, naming it
        elif text != "":
            value = _typed(f, text)
            if value is not None:
                data[name] = value
    return data


def _typed(f: FieldDef, text: str) -> Any:
    """An answer as a JSON push would carry it; None for one that is only blanks (a number's
    text holds nothing else). Numbers beyond every limit are refused here, so no huge int is
    ever built; those within reach go on, for the push path to hold to the form's limits."""
    if f.type not in ("integer", "number"):
        return text
    number = text.strip(XML_BLANKS)
    if number == "":
        return None
    if f.type == "integer" and INTEGER_TEXT.fullmatch(number):
        return int(number)
    whole = f.type == "integer"
    if not NUMBER_TEXT.fullmatch(number):
        raise InstanceError(f.name, "Must be a whole number." if whole else "Must be a number.")
    amount = Decimal(number)  # the pattern admits only what Decimal reads
    if amount.is_zero():
        return 0
    if amount.adjusted() >= MAX_DIGITS:
        raise InstanceError(f.name, "Out of range.")
    if amount == amount.to_integral_value():
        return int(amount)  # "12.0", or "1.0E7" as Collect writes a decimal from 10^7 up
    if whole:
        raise InstanceError(f.name, "Must be a whole number.")
    as_float = float(amount)
    if amount.adjusted() < -MAX_DIGITS or Decimal(repr(as_float)) != amount:
        raise InstanceError(f.name, "Has more digits than a number can hold.")
    return as_float


def _printable(text: str) -> str:
    return replaced(text, controls=True)
