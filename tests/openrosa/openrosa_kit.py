"""What the OpenRosa tests share: ODK Validate and pyxform's XForm reader run on a generated
form; an XForm's parts read back (binds, itext, choices, the instance template); an instance
filled from the template as ODK Collect writes one; and a small evaluator for the XPath the
generated binds use, so a test can ask whether Collect would let a value be saved."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import defusedxml.ElementTree as defused
from pyxform.validators import odk_validate
from pyxform.xform2json import create_survey_element_from_xml

XF = "{http://www.w3.org/2002/xforms}"
H = "{http://www.w3.org/1999/xhtml}"
JR = "{http://openrosa.org/javarosa}"
JAVA = shutil.which("java")


def validate_with_odk(xml: bytes, tmp_path: Path, name: str = "form") -> str:
    """Run ODK Validate (the jar in pyxform's wheel) on ``xml``; returns its stderr (warnings).

    Called directly rather than through ``odk_validate.check_xform`` to see its full output
    and exit code (check_xform hides both)."""
    path = tmp_path / f"{name}.xml"
    path.write_bytes(xml)
    run = subprocess.run(
        [JAVA or "java", "-Djava.awt.headless=true", "-jar", odk_validate.ODK_VALIDATE_PATH, path],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Xform is valid" in run.stdout, run.stdout
    return run.stderr


def read_with_pyxform(xml: bytes, tmp_path: Path, name: str = "form"):
    """pyxform's own XForm reader (``xform2json``) turned into a pyxform Survey."""
    path = tmp_path / f"{name}-pyxform.xml"
    path.write_bytes(xml)
    return create_survey_element_from_xml(str(path))


@dataclass
class XForm:
    """The parts of a generated XForm the tests look at."""

    root: ET.Element

    @classmethod
    def parse(cls, xml: bytes) -> XForm:
        return cls(defused.fromstring(xml))

    @property
    def model(self) -> ET.Element:
        return self.root.find(f"{H}head/{XF}model")

    @property
    def template(self) -> ET.Element:
        """The primary instance's root (``<data id=… version=…>``)."""
        return self.model.find(f"{XF}instance")[0]

    def binds(self) -> dict[str, dict[str, str]]:
        return {b.get("nodeset"): dict(b.attrib) for b in self.model.iter(f"{XF}bind")}

    def bind(self, name: str) -> dict[str, str]:
        return self.binds()[f"/data/{name}"]

    def translations(self) -> dict[str, dict[str, str]]:
        """lang -> itext id -> text; the default language first."""
        out = {}
        for t in self.model.find(f"{XF}itext"):
            out[t.get("lang")] = {x.get("id"): x.find(f"{XF}value").text for x in t}
        return out

    def default_language(self) -> str:
        return next(
            t.get("lang") for t in self.model.find(f"{XF}itext") if t.get("default") == "true()"
        )

    def choices(self, name: str) -> list[tuple[str, dict[str, str]]]:
        """(value, lang -> label) of a select's choices, read through its itemset."""
        control = next(c for c in self.root.find(f"{H}body") if c.get("ref") == f"/data/{name}")
        assert control.tag == f"{XF}select1"
        itemset = control.find(f"{XF}itemset")
        list_id = re.fullmatch(r"instance\('([^']+)'\)/root/item", itemset.get("nodeset"))[1]
        instance = next(i for i in self.model.iter(f"{XF}instance") if i.get("id") == list_id)
        texts = self.translations()
        return [
            (
                item.find(f"{XF}name").text,
                {lang: by_id[item.find(f"{XF}itextId").text] for lang, by_id in texts.items()},
            )
            for item in instance.find(f"{XF}root")
        ]

    def label(self, name: str, kind: str = "label") -> dict[str, str]:
        return {lang: texts[f"/data/{name}:{kind}"] for lang, texts in self.translations().items()}

    def field_names(self) -> list[str]:
        """The template's children, meta's as ``meta/<child>``."""
        names = []
        for child in self.template:
            tag = child.tag.removeprefix(XF)
            if len(child):
                names.extend(f"{tag}/{c.tag.removeprefix(XF)}" for c in child)
            else:
                names.append(tag)
        return names


def fill(
    xml: bytes,
    answers: dict[str, str | None],
    *,
    instance_id: str | None = None,
    deprecated_id: str | None = None,
    start: str = "2023-07-29T09:10:00.123+07:00",
    end: str = "2023-07-29T09:15:00.456+07:00",
    default_namespace: bool = False,
) -> bytes:
    """The instance ODK Collect would send for ``xml``: the template's elements in their order
    and no namespace of their own (Enketo keeps the form's default one: ``default_namespace``),
    the defaults kept unless ``answers`` says otherwise (None: left empty), the timestamps and
    ``meta/instanceID``, and ``meta/deprecatedID`` for an edit."""
    form = XForm.parse(xml)
    template = form.template
    root = ET.Element(
        "data",
        {
            **({"xmlns": XF[1:-1]} if default_namespace else {}),
            "xmlns:jr": JR[1:-1],
            "xmlns:orx": "http://openrosa.org/xforms",
            "id": template.get("id"),
            "version": template.get("version"),
        },
    )
    known = {c.tag.removeprefix(XF) for c in template}
    known |= {f"{c.tag.removeprefix(XF)}/{sub.tag.removeprefix(XF)}" for c in template for sub in c}
    unknown = set(answers) - known
    assert not unknown, unknown
    for child in template:
        tag = child.tag.removeprefix(XF)
        node = ET.SubElement(root, tag)
        if tag == "meta":
            ET.SubElement(node, "instanceID").text = f"uuid:{instance_id or uuid.uuid4()}"
            if deprecated_id is not None:
                ET.SubElement(node, "deprecatedID").text = f"uuid:{deprecated_id}"
        elif tag == "start":
            node.text = start
        elif tag == "end":
            node.text = end
        elif len(child):  # a group: its children answered as "group/child"
            for sub in child:
                name = sub.tag.removeprefix(XF)
                ET.SubElement(node, name).text = answers.get(f"{tag}/{name}", sub.text)
        else:
            node.text = answers.get(tag, child.text)
    return b"<?xml version='1.0' ?>" + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def java_double(value: Decimal | float | int) -> str:
    """A decimal answer as Collect writes it (Java's ``Double.toString``): ``12.5``,
    ``3.0``, and from 10^7 up (or below 10^-3) ``1.00000000001E9``."""
    number = float(value)
    if number == 0:
        return "0.0"
    if 1e-3 <= abs(number) < 1e7:
        text = repr(number)
        return text if ("." in text or "e" in text) else text + ".0"
    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    mantissa = str(digits[0]) + "." + ("".join(map(str, digits[1:])) or "0")
    return ("-" if sign else "") + f"{mantissa}E{len(digits) - 1 + exponent}"


# --- a small XPath 1.0 evaluator for the constraints the writer generates --------------------

TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'[^']*'|\"[^\"]*\")|(?P<op>>=|<=|!=|=|>|<|\(|\)|,)"
    r"|(?P<func>[a-z][a-z-]*)(?=\s*\()|(?P<word>and\b|or\b)|(?P<dot>\.))"
)
XML_SPACE = re.compile(r"[ \t\r\n]+")


def evaluate(expression: str, value: str) -> bool:
    """``expression`` with ``.`` as ``value`` (a string, as an input's text), in XPath 1.0's
    rules: a comparison with a number compares numbers (not-a-number is never equal or
    ordered). Only the functions the writer uses."""
    tokens = []
    position = 0
    while position < len(expression):
        match = TOKEN.match(expression, position)
        assert match and match.end() > position, expression[position:]
        position = match.end()
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
    parser = _Parser(tokens, value)
    result = parser.disjunction()
    assert parser.at == len(tokens), expression
    return bool(result)


def _number(x) -> float:
    if isinstance(x, float):
        return x
    if isinstance(x, bool):
        return 1.0 if x else 0.0
    text = x.strip(" \t\r\n")
    return float(text) if re.fullmatch(r"-?(\d+(\.\d*)?|\.\d+)", text) else float("nan")


class _Parser:
    def __init__(self, tokens, value):
        self.tokens, self.at, self.value = tokens, 0, value

    def peek(self):
        return self.tokens[self.at] if self.at < len(self.tokens) else (None, None)

    def take(self, text=None):
        kind, got = self.tokens[self.at]
        assert text is None or got == text, (text, got)
        self.at += 1
        return kind, got

    def disjunction(self):
        left = self.conjunction()
        while self.peek() == ("word", "or"):
            self.take()
            right = self.conjunction()
            left = bool(left) or bool(right)
        return left

    def conjunction(self):
        left = self.comparison()
        while self.peek() == ("word", "and"):
            self.take()
            right = self.comparison()
            left = bool(left) and bool(right)
        return left

    def comparison(self):
        left = self.primary()
        kind, op = self.peek()
        if kind == "op" and op in ("=", "!=", "<", "<=", ">", ">="):
            self.take()
            right = self.primary()
            if isinstance(left, float) or isinstance(right, float) or op not in ("=", "!="):
                a, b = _number(left), _number(right)
            else:
                a, b = left, right
            return {
                "=": a == b,
                "!=": a != b,
                "<": a < b,
                "<=": a <= b,
                ">": a > b,
                ">=": a >= b,
            }[op]
        return left

    def primary(self):
        kind, got = self.take()
        if kind == "num":
            return float(got)
        if kind == "str":
            return got[1:-1]
        if kind == "dot":
            return self.value
        if got == "(":
            inner = self.disjunction()
            self.take(")")
            return inner
        assert kind == "func", got
        self.take("(")
        args = []
        while self.peek() != ("op", ")"):
            args.append(self.disjunction())
            if self.peek() == ("op", ","):
                self.take()
        self.take(")")
        return FUNCTIONS[got](*args)


def _round(x, places=0.0) -> float:
    number = _number(x)
    if number != number:
        return number
    scale = 10 ** int(places)
    return float(Decimal(repr(number * scale)).quantize(Decimal(1), "ROUND_HALF_UP")) / scale


FUNCTIONS = {
    "regex": lambda s, p: re.search(p, s) is not None,
    "string-length": lambda s: float(len(s)),
    "normalize-space": lambda s: XML_SPACE.sub(" ", s).strip(" "),
    "round": _round,
    "number": _number,
    "concat": lambda *parts: "".join(parts),
    "string": lambda s: s,
    "not": lambda x: not x,
}


def case_id(value) -> str:
    """A short test id for a parameter (a 500-character note would make a long one)."""
    text = ascii(value)
    return text if len(text) <= 24 else f"{text[:12]}..{len(str(value))}chars"
