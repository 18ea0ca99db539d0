// The forms' rules, read from the server's definitions (GET /api/v1/forms), and checked here
// exactly as the server checks them: a form this lets a volunteer save is one the server
// accepts, and the reverse (tests/browser/test_phone_validation.py holds the two to it).
//
// Where JavaScript and Python differ, the server's behaviour is copied: lengths count code
// points (not UTF-16 units), blanks are stripped with Python's idea of whitespace, a number's
// decimals are counted from its shortest text, a uuid is read the way Python's uuid.UUID reads.

// C0 controls but tab, newline and carriage return, DEL and C1 controls (U+0080–U+009F). A
// carriage return is a line break only as a textarea sends one (CR LF), kept as LF alone.
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const PY_SPACE = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029" +
  "\\u202f\\u205f\\u3000";
const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "g");

export const pyStrip = (text) => text.replace(PY_STRIP, "");
export const codePoints = (text) => [...text].length;

function decimalPlaces(value) {
  const match = /^-?(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(value));
  if (!match) return Infinity;
  const fraction = match[2] ? match[2].length : 0;
  const exponent = match[3] ? Number(match[3]) : 0;
  return Math.max(0, fraction - exponent);
}

/** Python's uuid.UUID(text): braces, "urn:" and "uuid:" and hyphens anywhere are allowed. */
export function canonicalUuid(text) {
  let hex = text.replaceAll("urn:", "").replaceAll("uuid:", "");
  hex = hex.replace(/^[{}]+|[{}]+$/g, "").replaceAll("-", "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return null;
  hex = hex.toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-` +
    hex.slice(20);
}

const isNumber = (v) => typeof v === "number" && Number.isFinite(v);

/** One field's value as the server would load it, or {error: {rule, params}}. */
export function checkField(field, value) {
  const fail = (rule, params = {}) => ({ error: { rule, params } });
  if (value === null) return fail("null");
  switch (field.type) {
    case "choice": {
      if (typeof value !== "string") return fail("type");
      return field.choices.some((c) => c.value === value) ? { value } : fail("choices");
    }
    case "code": {
      if (typeof value !== "string") return fail("type");
      return new RegExp(`^(?:${field.pattern})$`).test(value) ? { value } : fail("code");
    }
    case "uuid": {
      if (typeof value !== "string") return fail("type");
      const canonical = canonicalUuid(value);
      return canonical ? { value: canonical } : fail("uuid");
    }
    case "integer": {
      if (typeof value !== "number" || !Number.isInteger(value)) return fail("type");
      return range(field, value) || { value };
    }
    case "number": {
      if (!isNumber(value)) return fail("type");
      const outside = range(field, value);
      if (outside) return outside;
      if (field.decimals != null && decimalPlaces(value) > field.decimals) {
        return fail("decimals", { decimals: field.decimals });
      }
      return { value };
    }
    case "string": {
      if (typeof value !== "string") return fail("type");
      if (field.pattern) { // matched as it is: no stripping
        const ok = new RegExp(`^(?:${field.pattern})$`).test(value);
        return ok ? { value } : fail(field.name === "citizen_id" ? "citizen_id" : "pattern");
      }
      if (CONTROL.test(value) || LONE_SURROGATE.test(value)) return fail("control");
      const lines = value.replace(/\r\n/g, "\n");
      if (lines.includes("\r")) return fail("control");
      const text = pyStrip(lines);
      const length = codePoints(text);
      if (field.min_length != null && length < field.min_length) {
        return fail(length === 0 && field.required ? "required" : "min_length", field);
      }
      if (field.max_length != null && length > field.max_length) return fail("max_length", field);
      return { value: text };
    }
    default:
      return fail("type");
  }
}

function range(field, value) {
  if (field.min != null && value < field.min) return { error: { rule: "min", params: field } };
  if (field.max != null && value > field.max) return { error: { rule: "max", params: field } };
  return null;
}

/**
 * The form's data as the server would load it, and the errors by field name. `values` holds
 * what the volunteer entered, already typed (numbers as numbers); an absent key is a field
 * left empty.
 */
export function validate(definition, values) {
  const errors = {};
  const data = {};
  const known = new Set(definition.fields.map((f) => f.name));
  for (const name of Object.keys(values)) {
    if (!known.has(name)) errors[name] = [{ rule: "unknown", params: {} }];
  }
  for (const field of definition.fields) {
    if (!(field.name in values) || values[field.name] === undefined) {
      if (field.required) errors[field.name] = [{ rule: "required", params: {} }];
      continue;
    }
    const checked = checkField(field, values[field.name]);
    if (checked.error) errors[field.name] = [checked.error];
    else data[field.name] = checked.value;
  }
  return { data, errors, ok: Object.keys(errors).length === 0 };
}

/**
 * What a volunteer typed, as the value to check and send: "" is a field left empty; numbers
 * take a comma or a dot for the decimal point and dots, commas or spaces between thousands.
 */
export function parseInput(field, text) {
  if (text === undefined || text === null) return undefined;
  if (field.type === "integer" || field.type === "number") {
    const raw = String(text).trim();
    if (raw === "") return undefined;
    let normal = raw;
    if (field.type === "integer" && /^\d{1,3}([.,\s]\d{3})+$/.test(raw)) {
      normal = raw.replace(/[.,\s]/g, "");
    } else if (/^\d+,\d+$/.test(raw)) {
      normal = raw.replace(",", ".");
    }
    if (!/^-?\d+(\.\d+)?$/.test(normal)) return raw; // kept as text: refused as "type"
    return Number(normal);
  }
  if (field.type === "string" && !field.pattern) {
    return pyStrip(String(text)) === "" && !field.required ? undefined : String(text);
  }
  return text === "" ? undefined : String(text);
}

/** The definition of (form, version) among the ones the server sent. */
export function definitionOf(forms, form, version) {
  return (forms || []).find((d) => d.form === form && d.form_version === version) || null;
}

/** The newest version of each form, for new records. */
export function newestForms(forms) {
  const newest = new Map();
  for (const d of forms || []) {
    const known = newest.get(d.form);
    if (!known || d.form_version > known.form_version) newest.set(d.form, d);
  }
  return [...newest.values()];
}
