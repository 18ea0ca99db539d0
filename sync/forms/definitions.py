"""The one definition of every form and version the server accepts, as plain data.

Everything else is derived from these: the marshmallow schemas that validate a push
(``sync.forms.schemas``), the OpenAPI schemas, ``GET /api/v1/forms`` (which the phone app renders
and validates from), and later the XForms for ODK. Nothing here knows about marshmallow or Flask,
so an XForm writer can read it as it is: types, choices, limits, labels in Vietnamese and
English.

Rules that hold for every string of the contract (no control characters, surrounding blanks
stripped, names 100, addresses 200, notes 500 characters) live in ``sync.forms.fields``; a free-text
field here names which of those caps it takes (``text``) and states the same numbers, and
``sync.forms.schemas`` refuses to start if the two disagree.

``pattern`` reads like HTML's ``pattern`` attribute: the whole value must match it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sync.forms.fields import CODE_PATTERN

TYPES = ("string", "integer", "number", "uuid", "code", "choice")
CODE = CODE_PATTERN.pattern.removesuffix(r"\Z")  # [A-Za-z0-9._-]{1,64}
CODE_MAX = 64
TEXT_CAPS = {"name": 100, "address": 200, "note": 500}


@dataclass(frozen=True)
class Label:
    vi: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"vi": self.vi, "en": self.en}


@dataclass(frozen=True)
class Choice:
    value: str
    label: Label


@dataclass(frozen=True)
class FieldDef:
    """One field of a form. Limits that do not apply to the type stay ``None``."""

    name: str
    type: str
    label: Label
    required: bool = False
    default: int | None = None
    choices: tuple[Choice, ...] = ()
    min: int | None = None
    max: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    pattern_error: str | None = None  # the message when ``pattern`` does not match
    decimals: int | None = None  # numbers: at most this many digits after the point
    text: str | None = None  # free text: which of the contract's caps (TEXT_CAPS)
    hint: Label | None = None

    def __post_init__(self) -> None:
        assert self.type in TYPES, self.type
        assert (self.type == "choice") == bool(self.choices), self.name
        assert self.text is None or self.max_length == TEXT_CAPS[self.text], self.name


@dataclass(frozen=True)
class FormDef:
    form: str
    version: int
    kind: str  # "state": one record per key, merged; "event": append-only
    label: Label
    fields: tuple[FieldDef, ...] = field(default_factory=tuple)

    def field(self, name: str) -> FieldDef:
        return next(f for f in self.fields if f.name == name)


def _choices(*items: tuple[str, str, str]) -> tuple[Choice, ...]:
    return tuple(Choice(value, Label(vi, en)) for value, vi, en in items)


def _household(required: bool) -> FieldDef:
    return FieldDef(
        "household_id",
        "uuid",
        Label("Hộ gia đình", "Household"),
        required=required,
        hint=Label("Chọn hộ đã có hoặc thêm hộ mới", "Pick a known household or add a new one"),
    )


def _address() -> FieldDef:
    return FieldDef(
        "household_address",
        "string",
        Label("Địa chỉ hộ", "Household address"),
        min_length=1,
        max_length=200,
        text="address",
        hint=Label("Số nhà, hẻm, tổ, khu phố", "House number, lane, block, quarter"),
    )


def _note() -> FieldDef:
    return FieldDef(
        "note",
        "string",
        Label("Ghi chú", "Note"),
        min_length=0,
        max_length=500,
        text="note",
        hint=Label(
            "Không ghi mật khẩu hay số định danh vào đây",
            "Never write a password or an ID number here",
        ),
    )


def _code(name: str, label: Label, hint: Label) -> FieldDef:
    return FieldDef(
        name, "code", label, required=True, max_length=CODE_MAX, pattern=CODE, hint=hint
    )


STATUS_CHOICES = _choices(
    ("visited", "Đã đến nhà", "Visited"),
    ("no_smartphone", "Không có điện thoại thông minh", "No smartphone"),
    ("installed", "Đã cài ứng dụng VNeID", "VNeID app installed"),
    ("activated", "Đã kích hoạt tài khoản", "Account activated"),
    ("refused", "Từ chối", "Refused"),
    ("ineligible", "Không đủ điều kiện", "Not eligible"),
)
PHONE_OWNER_CHOICES = _choices(
    ("self", "Của công dân", "The citizen's own"),
    ("family", "Của người nhà", "A family member's"),
    ("volunteer", "Của tình nguyện viên", "The volunteer's"),
)

ACTIVATION_V1 = FormDef(
    "activation",
    1,
    "state",
    Label("Kích hoạt định danh điện tử", "Electronic ID activation"),
    (
        FieldDef(
            "citizen_id",
            "string",
            Label("Số định danh cá nhân", "Citizen ID number"),
            required=True,
            # ASCII digits to the very end: any script's digits, or a final newline, would
            # make a second record for one citizen.
            pattern="[0-9]{12}",
            pattern_error="Must be 12 digits.",
            hint=Label("12 số trên căn cước công dân", "The 12 digits on the identity card"),
        ),
        FieldDef("status", "choice", Label("Kết quả", "Result"), True, choices=STATUS_CHOICES),
        _household(required=False),
        _address(),
        FieldDef(
            "phone_owner",
            "choice",
            Label("Điện thoại của ai", "Whose phone"),
            choices=PHONE_OWNER_CHOICES,
        ),
        _note(),
    ),
)

HOUSEHOLD_HELP_V1 = FormDef(
    "household_help",
    1,
    "event",
    Label("Giúp đỡ hộ gia đình", "Help for a household"),
    (
        _household(required=True),
        _address(),
        FieldDef(
            "kind",
            "choice",
            Label("Công việc", "Kind of work"),
            True,
            choices=_choices(
                ("road_repair", "Sửa đường", "Road repair"),
                ("yard_concrete", "Đổ bê tông sân", "Concrete yard"),
                ("sanitation", "Vệ sinh môi trường", "Sanitation"),
                ("house_repair", "Sửa nhà", "House repair"),
                ("cleanup", "Dọn dẹp", "Clean-up"),
                ("other", "Việc khác", "Other"),
            ),
        ),
        FieldDef(
            "quantity",
            "number",
            Label("Khối lượng", "Quantity"),
            min=0,
            max=1_000_000_000,
            decimals=2,
        ),
        FieldDef(
            "unit",
            "choice",
            Label("Đơn vị", "Unit"),
            choices=_choices(
                ("m", "mét", "metres"),
                ("m2", "mét vuông", "square metres"),
                ("item", "cái", "items"),
                ("hour", "giờ", "hours"),
            ),
        ),
        FieldDef(
            "volunteers",
            "integer",
            Label("Số tình nguyện viên", "Volunteers"),
            default=1,
            min=1,
            max=10_000,
        ),
        FieldDef(
            "hours",
            "number",
            Label("Số giờ mỗi người", "Hours each"),
            default=0,
            min=0,
            max=1000,
            decimals=2,
        ),
        _note(),
    ),
)

GIFT_V1 = FormDef(
    "gift",
    1,
    "event",
    Label("Trao quà", "Gift delivered"),
    (
        _household(required=True),
        _address(),
        _code(
            "gift_kind",
            Label("Loại quà", "Kind of gift"),
            Label("Mã ngắn, ví dụ: gao, nha-ve-sinh", "A short code, e.g. rice, toilet"),
        ),
        _code("round", Label("Đợt", "Round"), Label("Ví dụ: 2023-tet", "For example: 2023-tet")),
        FieldDef("count", "integer", Label("Số phần", "Count"), default=1, min=1, max=1_000_000),
        FieldDef(
            "value_vnd",
            "integer",
            Label("Giá trị (đồng)", "Value (đồng)"),
            default=0,
            min=0,
            max=10**13,
            hint=Label("Giá trị của cả lần trao", "The value of the whole delivery"),
        ),
        FieldDef(
            "donor",
            "string",
            Label("Nhà tài trợ", "Donor"),
            min_length=1,
            max_length=100,
            text="name",
        ),
        _note(),
    ),
)

VOID_V1 = FormDef(
    "void",
    1,
    "event",
    Label("Huỷ biểu mẫu đã gửi", "Void a sent form"),
    (
        FieldDef("target", "uuid", Label("Biểu mẫu cần huỷ", "Form to void"), required=True),
        FieldDef(
            "reason",
            "string",
            Label("Lý do huỷ", "Reason"),
            required=True,
            min_length=1,
            max_length=500,
            text="note",
        ),
    ),
)

DEFINITIONS: tuple[FormDef, ...] = (ACTIVATION_V1, HOUSEHOLD_HELP_V1, GIFT_V1, VOID_V1)
BY_KEY: dict[tuple[str, int], FormDef] = {(d.form, d.version): d for d in DEFINITIONS}


def describe_field(f: FieldDef) -> dict:
    """A field as ``GET /api/v1/forms`` shows it: only the keys that apply."""
    out: dict = {"name": f.name, "type": f.type, "required": f.required}
    if f.default is not None:
        out["default"] = f.default
    if f.choices:
        out["choices"] = [{"value": c.value, "label": c.label.as_dict()} for c in f.choices]
    for key in ("min", "max", "min_length", "max_length", "pattern", "decimals"):
        value = getattr(f, key)
        if value is not None:
            out[key] = value
    out["label"] = f.label.as_dict()
    if f.hint is not None:
        out["hint"] = f.hint.as_dict()
    return out


def describe(d: FormDef) -> dict:
    return {
        "form": d.form,
        "form_version": d.version,
        "kind": d.kind,
        "label": d.label.as_dict(),
        "fields": [describe_field(f) for f in d.fields],
    }


def document() -> dict:
    """Every definition, in the shape of ``GET /api/v1/forms``."""
    return {"forms": [describe(d) for d in DEFINITIONS]}
