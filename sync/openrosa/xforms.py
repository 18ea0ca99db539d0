"""The built-in forms as XForms (the form list and manifest that offer them: ``listings``).

Why a writer of our own rather than pyxform: pyxform turns XLSForm spreadsheets into XForms,
and our forms are not spreadsheets. Each form is defined once, as data, in
``sync.forms.definitions``; the push path's schemas and ``GET /api/v1/forms`` are derived from
it at run time, and so is this. An XForm here also depends on the device that downloads it: its
campaigns and wards are the choices of ``campaign`` and ``org_unit``. pyxform would mean either
XLSForm files in the repository (a second copy of every definition, kept current by a test) or
writing a spreadsheet at run time only to have pyxform read it back, with pyxform and its
dependencies on the request path. The XForm subset these forms need (inputs, one-of-many
selects, binds with types, required, constraints and preloads, two ``itext`` languages) is
small, so it is written directly from the definitions; the tests check every generated form with
ODK Validate and with pyxform's own XForm reader, so the output is held to the same tools.

Field names equal the contract's, so an instance maps to a push item field by field. Limits
become XPath constraints with a message in both languages: a value Collect lets a volunteer
save is one the push path accepts (the regular expressions of ``definitions`` are written in the
subset that Java, JavaScript and Python read alike). The form's ``version`` carries a digest of
the document, so it changes exactly when the XML does, as Collect expects of a form whose hash
changed.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache

from sync.forms import definitions
from sync.forms.definitions import CODE_MAX, FieldDef, FormDef, Label
from sync.forms.fields import CODE_PATTERN
from sync.openrosa import households
from sync.openrosa.listings import form_hash
from sync.openrosa.xmlchars import NOT_XML
from sync.openrosa.xmldoc import leaf as _leaf
from sync.openrosa.xmldoc import serialize as _serialize

ROOT = "data"  # the instance's root element, as pyxform names it
XFORM_NAMES = ("activation", "household_help", "gift")  # not void: an edit is how Collect voids
# The newest version of each form that has an XForm (what a device downloads).
XFORMS: tuple[FormDef, ...] = tuple(
    max((d for d in definitions.DEFINITIONS if d.form == name), key=lambda d: d.version)
    for name in XFORM_NAMES
)
LANGUAGES = (("vi", "Tiếng Việt (vi)"), ("en", "English (en)"))  # the first is the default

NAMESPACES = {
    "xmlns": "http://www.w3.org/2002/xforms",
    "xmlns:h": "http://www.w3.org/1999/xhtml",
    "xmlns:ev": "http://www.w3.org/2001/xml-events",
    "xmlns:jr": "http://openrosa.org/javarosa",
    "xmlns:odk": "http://www.opendatakit.org/xforms",
    "xmlns:orx": "http://openrosa.org/xforms",
    "xmlns:xsd": "http://www.w3.org/2001/XMLSchema",
}

UUID_REGEX = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
MINIMAL_ABOVE = 10  # a select with more choices than this is shown as a drop-down list
# Collect's integer widget takes at most 9 digits (a Java int); a wider integer (an amount in
# đồng) is asked as a string of digits on the number pad, which is written exactly as typed.
INT_DIGITS = 9
WHOLE_MSG = Label("Phải là số nguyên.", "Must be a whole number.")

CAMPAIGN_LABEL = Label("Chiến dịch", "Campaign")
WARD_LABEL = Label("Phường, xã", "Ward")
REQUIRED_MSG = Label("Cần trả lời câu này.", "This answer is required.")
CODE_MSG = Label(
    "Từ 1 đến 64 chữ cái không dấu, chữ số, '-', '_' hoặc '.'.",
    "Must be 1-64 letters, digits, '-', '_' or '.'.",
)
# The contract's control characters (``sync.text.CONTROL``) as Java and JavaScript read a class;
# only C1 and DEL can reach an XForm at all (XML cannot carry the C0 ones but tab and breaks).
CONTROL_CLASS = r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]"
CONTROL_MSG = Label("Không được có ký tự điều khiển.", "Must not contain control characters.")
UUID_MSG = Label("Phải là một mã UUID.", "Must be a UUID.")
# Without the household list a uuid is typed: the definition's hint (pick or add one) is the
# phone app's, which has the list.
UUID_HINT = Label(
    "Mã UUID, ví dụ 5b0e3c2e-8a53-4c87-9f54-1f2a3b4c5d6e",
    "A UUID, for example 5b0e3c2e-8a53-4c87-9f54-1f2a3b4c5d6e",
)
UI = "collect"  # the group of Collect-only helpers (the household pick): submissions drop it
PICK_HINT = Label(
    "Gõ vài chữ của địa chỉ để tìm; chọn “Hộ mới” nếu hộ chưa có trong danh sách",
    "Type part of the address to search; pick “New household” if it is not listed",
)
ALREADY_GIVEN = Label(
    "Hộ này đã nhận quà loại này trong đợt này. Chỉ lưu nếu đây là một lần trao khác.",
    "This household already received this gift in this round. Save only if this is another "
    "delivery.",
)
# Vietnamese for the definitions' English pattern messages (a test keeps this complete).
PATTERN_MSG_VI = {"Must be 12 digits.": "Phải gồm đúng 12 chữ số."}


@dataclass(frozen=True)
class Choices:
    """What one device may choose from: (code, name) pairs, kept sorted by code, so the same
    choices always give the same XML whatever order the caller found them in."""

    campaigns: tuple[tuple[str, str], ...]
    wards: tuple[tuple[str, str], ...]
    # True: household_id is picked from the manifest's households file (``households.csv``,
    # written by ``sync.openrosa.households.households_csv``) rather than typed as a uuid.
    households: bool = False

    def __post_init__(self) -> None:
        for attr in ("campaigns", "wards"):
            pairs = tuple(
                sorted(
                    (str(code), "" if name is None else str(name))
                    for code, name in getattr(self, attr)
                )
            )
            codes = [code for code, _ in pairs]
            if len(set(codes)) != len(codes):
                raise ValueError(f"{attr}: a code is listed twice")
            for code, name in pairs:
                if not CODE_PATTERN.match(code):
                    raise ValueError(f"{attr}: {code!r} is not a code")
                if NOT_XML.search(name):
                    raise ValueError(f"{attr}: the name of {code!r} cannot be written in XML")
            object.__setattr__(self, attr, pairs)
        object.__setattr__(self, "households", bool(self.households))


@dataclass(frozen=True)
class _Question:
    """One node of the XForm, whatever it came from (a field, campaign and ward, or one of the
    Collect-only helpers of the household list), with its bind and its control."""

    name: str  # the path below /data: a field's name, or "collect/<helper>"
    label: Label | None
    type: str  # the bind's XForms type
    control: str | None = "input"  # "input", "select1", or None (a calculation: no control)
    required: bool = False
    hint: Label | None = None
    items: tuple[tuple[str, Label], ...] | None = None  # static choices (a secondary instance)
    itemset: tuple[str, str, str] | None = None  # (nodeset, value ref, label ref) of a file's
    default: str | None = None
    constraint: str | None = None
    constraint_msg: Label | None = None
    appearance: str | None = None
    calculate: str | None = None
    relevant: str | None = None
    readonly: bool = False
    on_change: tuple[tuple[str, str], ...] = ()  # setvalue (ref, value) when the answer changes


@dataclass(frozen=True)
class Published:
    """One XForm as a form list offers it: the document, its ``version`` attribute (which the
    list's ``<version>`` must equal) and its hash."""

    xml: bytes
    version: str
    hash: str


@lru_cache(maxsize=256)
def published(form: FormDef, choices: Choices) -> Published:
    """The XForm of one built-in form for a device that may choose ``choices``, with its
    version and hash. Cached: the form list asks for every form on each request, and the
    inputs are frozen (a renamed ward is another ``Choices``, so another entry)."""
    if form.form not in XFORM_NAMES:
        raise ValueError(f"no XForm for the form {form.form!r}")
    if not choices.campaigns or not choices.wards:
        raise ValueError("no campaign or no ward to choose: the device has no form to fill")
    questions = [
        _place("campaign", CAMPAIGN_LABEL, choices.campaigns),
        _place("org_unit", WARD_LABEL, choices.wards),
    ]
    for f in form.fields:
        if f.name == "household_id" and choices.households:
            questions.extend(_household_questions(f))
        else:
            questions.append(_field_question(f))
        if f.name == "round" and form.form == "gift" and choices.households:
            questions.append(_gift_warning())
    names = [q.name for q in questions]
    if len(set(names)) != len(names) or {"start", "end", "meta", UI} & set(names):
        raise ValueError(f"{form.form}: a field name is used twice or reserved")
    unversioned = _render(form, questions, str(form.version))
    version = f"{form.version}.{hashlib.sha256(unversioned).hexdigest()[:10]}"
    xml = _render(form, questions, version)
    return Published(xml, version, form_hash(xml))


def xform(form: FormDef, choices: Choices) -> bytes:
    """The XForm (UTF-8 XML) of one built-in form for a device that may choose ``choices``
    (``published(form, choices).xml``)."""
    return published(form, choices).xml


def xform_version(form: FormDef, choices: Choices) -> str:
    """The ``version`` attribute of that XForm, for the form list (``published(...).version``):
    the form's version, a dot, and a digest of the document, so it changes when the XML does."""
    return published(form, choices).version


# --- questions from the definitions ---------------------------------------------------------


def _place(name: str, label: Label, pairs: tuple[tuple[str, str], ...]) -> _Question:
    """``campaign`` or ``org_unit``: the device's own, by name in both languages; a single
    choice is filled in already."""
    items = tuple((code, Label(title or code, title or code)) for code, title in pairs)
    return _Question(
        name,
        label,
        "string",
        control="select1",
        required=True,
        items=items,
        default=pairs[0][0] if len(pairs) == 1 else None,
        appearance="minimal" if len(items) > MINIMAL_ABOVE else None,
    )


def _field_question(f: FieldDef) -> _Question:
    rules = _rules(f)
    kind = {"integer": "int", "number": "decimal"}.get(f.type, "string")
    appearance = _appearance(f)
    if f.type == "integer" and not _fits_int_widget(f):
        kind, appearance = "string", "numbers"
        rules.insert(0, (_regex("-?[0-9]+"), WHOLE_MSG))
    constraint = " and ".join(f"({xpath})" if " or " in xpath else xpath for xpath, _ in rules)
    message = (
        Label(" ".join(m.vi for _, m in rules), " ".join(m.en for _, m in rules)) if rules else None
    )
    return _Question(
        f.name,
        f.label,
        kind,
        control="select1" if f.choices else "input",
        required=f.required,
        hint=UUID_HINT if f.type == "uuid" else f.hint,
        items=tuple((c.value, c.label) for c in f.choices) if f.choices else None,
        default=None if f.default is None else str(f.default),
        constraint=constraint or None,
        constraint_msg=message,
        appearance=appearance,
    )


def _fits_int_widget(f: FieldDef) -> bool:
    limit = 10**INT_DIGITS
    return f.min is not None and f.max is not None and -limit // 10 < f.min and f.max < limit


def _household_questions(f: FieldDef) -> list[_Question]:
    """``household_id`` picked from the manifest's households file, searched by address and
    limited to the chosen ward, or a new household, for which Collect makes the uuid. The pick
    and the new uuid are Collect-only helpers under ``collect/``, which submissions drop;
    ``household_id`` is calculated from them, so the contract's field is what arrives. Picking a
    known household fills in its address (which stays editable)."""
    pick = f"/{ROOT}/{UI}/household"
    new_id = f"/{ROOT}/{UI}/new_household_id"
    known = f"instance('{households.INSTANCE}')/root/item[name = {pick}]"
    return [
        _Question(
            f"{UI}/household",
            f.label,
            "string",
            control="select1",
            required=f.required,
            hint=PICK_HINT,
            itemset=(
                f"instance('{households.INSTANCE}')/root/item"
                f"[org_unit = /{ROOT}/org_unit or name = '{households.NEW}']",
                "name",
                "label",
            ),
            appearance="autocomplete",
            on_change=(
                (
                    f"/{ROOT}/household_address",
                    f"if({pick} = '{households.NEW}', /{ROOT}/household_address, {known}/address)",
                ),
            ),
        ),
        _Question(f"{UI}/new_household_id", None, "string", control=None, calculate="once(uuid())"),
        _Question(
            f.name,
            None,
            "string",
            control=None,
            calculate=f"if({pick} = '{households.NEW}', {new_id}, {pick})",
        ),
    ]


def _gift_warning() -> _Question:
    """A note, shown when the picked household already has a gift of this kind in this round
    (the households file lists them): saving stays possible, as the server flags a suspected
    double delivery and does not refuse one."""
    given = f"instance('{households.INSTANCE}')/root/item[name = /{ROOT}/{UI}/household]/gifts"
    key = f"concat('{households.SEP}', /{ROOT}/gift_kind, ':', /{ROOT}/round, '{households.SEP}')"
    return _Question(
        f"{UI}/already_given",
        ALREADY_GIVEN,
        "string",
        readonly=True,
        relevant=f"contains({given}, {key})",
    )


def _appearance(f: FieldDef) -> str | None:
    if f.text == "note":
        return "multiline"
    if f.pattern is not None and re.fullmatch(r"\[0-9\](?:\{\d+(?:,\d*)?\}|\+)", f.pattern):
        return "numbers"  # a digits-only string: the number pad, leading zeros kept
    if f.choices and len(f.choices) > MINIMAL_ABOVE:
        return "minimal"
    return None


def _rules(f: FieldDef) -> list[tuple[str, Label]]:
    """The XPath constraints of a field, each with its message; empty answers are not checked
    (Collect skips constraints on them), which is what ``required`` is for."""
    rules: list[tuple[str, Label]] = []
    if f.type in ("integer", "number") and (f.min is not None or f.max is not None):
        rules.append(_range(f.min, f.max))
    if f.type == "number" and f.decimals is not None:
        rules.append(
            (
                f"round(., {f.decimals}) = .",
                Label(
                    f"Tối đa {f.decimals} chữ số sau dấu phẩy.",
                    f"At most {f.decimals} decimal places.",
                ),
            )
        )
    if f.type == "code":
        assert f.max_length == CODE_MAX and f.pattern == definitions.CODE, f.name
        rules.append((_regex(f.pattern), CODE_MSG))
    elif f.type == "uuid":
        rules.append((_regex(UUID_REGEX), UUID_MSG))
    elif f.type == "string":
        if f.pattern is not None:
            en = f.pattern_error or "Invalid."
            rules.append((_regex(f.pattern), Label(PATTERN_MSG_VI.get(en, "Không hợp lệ."), en)))
        if f.min_length or f.max_length is not None:
            rules.append(_length(f.min_length or 0, f.max_length))
        if f.pattern is None:
            rules.append((f"not(regex(., {_literal(CONTROL_CLASS)}))", CONTROL_MSG))
    return rules


def _range(low: int | None, high: int | None) -> tuple[str, Label]:
    if low is not None and high is not None:
        return f". >= {low} and . <= {high}", Label(
            f"Phải từ {_vi(low)} đến {_vi(high)}.", f"Must be between {low:,} and {high:,}."
        )
    if low is not None:
        return f". >= {low}", Label(f"Ít nhất là {_vi(low)}.", f"Must be at least {low:,}.")
    return f". <= {high}", Label(f"Nhiều nhất là {_vi(high)}.", f"Must be at most {high:,}.")


def _length(low: int, high: int | None) -> tuple[str, Label]:
    """Lengths as the server counts them: after surrounding blanks are stripped, so an answer
    of only spaces is empty (the upper bound counts them all: stricter by the blanks, never
    looser)."""
    parts = []
    if low > 0:
        parts.append(f"string-length(normalize-space(.)) >= {low}")
    if high is not None:
        parts.append(f"string-length(.) <= {high}")
    if low > 0 and high is not None:
        return " and ".join(parts), Label(
            f"Từ {low} đến {high} ký tự.", f"Must be {low} to {high} characters."
        )
    if high is not None:
        return parts[0], Label(f"Tối đa {high} ký tự.", f"At most {high} characters.")
    return parts[0], Label(f"Ít nhất {low} ký tự.", f"At least {low} characters.")


def _regex(pattern: str) -> str:
    """``definitions``' patterns match the whole value; XPath's ``regex()`` searches. The end
    is ``(?![\\s\\S])``, not ``$``: Java's ``$`` (Collect) also matches before a final line
    break, which the server refuses; JavaScript (Enketo) and Java both read the lookahead."""
    whole = "^(?:" + pattern + r")(?![\s\S])"
    return f"regex(., {_literal(whole)})"


def _literal(text: str) -> str:
    """An XPath 1.0 string literal (which has no escapes: the other quote, or concat)."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "concat(" + ', "\'", '.join(f"'{part}'" for part in text.split("'")) + ")"


def _vi(number: int) -> str:
    return f"{number:,}".replace(",", ".")  # 1.000.000: Vietnamese groups digits with dots


# --- the document ---------------------------------------------------------------------------


def _render(form: FormDef, questions: list[_Question], version: str) -> bytes:
    """The document, in the order pyxform writes one: itext, the primary instance, the
    secondary instances (one per list of choices, and the households file), the binds; then
    the body's controls in the questions' order."""
    html = ET.Element("h:html", NAMESPACES)
    head = ET.SubElement(html, "h:head")
    _leaf(head, "h:title", form.label.vi)
    model = ET.SubElement(head, "model", {"odk:xforms-version": "1.0.0"})
    itext = ET.SubElement(model, "itext")
    translations = {
        lang: ET.SubElement(
            itext, "translation", {"lang": name, **({"default": "true()"} if i == 0 else {})}
        )
        for i, (lang, name) in enumerate(LANGUAGES)
    }

    def text(key: str, label: Label) -> str:
        for lang, translation in translations.items():
            node = ET.SubElement(translation, "text", {"id": key})
            _leaf(node, "value", getattr(label, lang))
        return key

    def itext_ref(key: str, label: Label) -> str:
        return f"jr:itext('{text(key, label)}')"

    instance = ET.SubElement(ET.SubElement(model, "instance"), ROOT)
    instance.set("id", form.form)
    instance.set("version", version)
    secondary: list[ET.Element] = []
    binds: list[dict[str, str]] = []
    body = ET.Element("h:body")
    helpers = ET.Element(UI)  # placed after start and end, if it has any child
    for q in questions:
        path = f"/{ROOT}/{q.name}"
        group, _, name = q.name.rpartition("/")
        _leaf(helpers if group else instance, name, q.default)
        binds.append(_bind(q, path, itext_ref))
        if q.control is None:
            continue
        control = ET.SubElement(
            body, q.control, {"ref": path, **({"appearance": q.appearance} if q.appearance else {})}
        )
        assert q.label is not None, q.name
        ET.SubElement(control, "label", {"ref": itext_ref(f"{path}:label", q.label)})
        if q.hint is not None:
            ET.SubElement(control, "hint", {"ref": itext_ref(f"{path}:hint", q.hint)})
        if q.items is not None:
            # The choices as a secondary instance of their own, as pyxform writes them.
            choices = ET.Element("instance", {"id": name})
            root = ET.SubElement(choices, "root")
            for index, (value, label) in enumerate(q.items):
                item = ET.SubElement(root, "item")
                _leaf(item, "itextId", text(f"{name}-{index}", label))
                _leaf(item, "name", value)
            secondary.append(choices)
            itemset = ET.SubElement(
                control, "itemset", {"nodeset": f"instance('{name}')/root/item"}
            )
            ET.SubElement(itemset, "value", {"ref": "name"})
            ET.SubElement(itemset, "label", {"ref": "jr:itext(itextId)"})
        elif q.itemset is not None:
            nodeset, value_ref, label_ref = q.itemset
            itemset = ET.SubElement(control, "itemset", {"nodeset": nodeset})
            ET.SubElement(itemset, "value", {"ref": value_ref})
            ET.SubElement(itemset, "label", {"ref": label_ref})
        for ref, value in q.on_change:
            attrs = {"event": "xforms-value-changed", "ref": ref, "value": value}
            ET.SubElement(control, "setvalue", attrs)
    if any(q.itemset is not None for q in questions):
        source = f"jr://file-csv/{households.FILE}"
        secondary.insert(0, ET.Element("instance", {"id": households.INSTANCE, "src": source}))
    for moment in ("start", "end"):
        _leaf(instance, moment, None)
        binds.append(
            {
                "nodeset": f"/{ROOT}/{moment}",
                "type": "dateTime",
                "jr:preload": "timestamp",
                "jr:preloadParams": moment,
            }
        )
    if len(helpers):
        instance.append(helpers)
    _leaf(ET.SubElement(instance, "meta"), "instanceID", None)
    binds.append(
        {
            "nodeset": f"/{ROOT}/meta/instanceID",
            "type": "string",
            "readonly": "true()",
            "calculate": "concat('uuid:', uuid())",
        }
    )
    model.extend(secondary)
    for bind in binds:
        ET.SubElement(model, "bind", bind)
    html.append(body)
    return _serialize(html)


def _bind(q: _Question, path: str, itext_ref) -> dict[str, str]:
    bind = {"nodeset": path, "type": q.type}
    if q.required:
        bind["required"] = "true()"
        bind["jr:requiredMsg"] = itext_ref(f"{path}:requiredMsg", REQUIRED_MSG)
    if q.constraint:
        assert q.constraint_msg is not None
        bind["constraint"] = q.constraint
        bind["jr:constraintMsg"] = itext_ref(f"{path}:constraintMsg", q.constraint_msg)
    if q.relevant:
        bind["relevant"] = q.relevant
    if q.readonly:
        bind["readonly"] = "true()"
    if q.calculate:
        bind["calculate"] = q.calculate
    return bind
