// Recording one form: rendered from its definition, kept as a draft on every keystroke (so a
// reload, a crash or an app update never loses it), checked with the server's own limits, and
// saved into the outbox with its id and clock stamp. A draft stays pinned to its form version.

import "./core.js";
import { parseInput, validate } from "./forms.js";
import { errorText, formatNumber, label, t } from "./i18n.js";
import { earlierGift, knowledge, search } from "./places.js";
import { add, h, toast } from "./ui.js";

const ws = globalThis.wardsync;
const BIG_TEXT = 300; // fields allowed this many characters or more get a text area

export function newDraft(definition, app, extra = {}) {
  const values = {};
  const household = definition.fields.find((f) => f.name === "household_id");
  if (household && household.required) values.household_id = ws.uuid();
  return {
    id: ws.uuid(),
    form: definition.form,
    form_version: definition.form_version,
    def: definition, // pinned: the draft is saved against the version it was opened with
    campaign: app.defaultCampaign(),
    org_unit: app.defaultUnit(),
    values,
    opened: Date.now(),
    ...extra,
  };
}

export async function openRecord(app, draft) {
  const def = draft.def;
  const k = await knowledge();
  const root = app.screen();
  const fieldBoxes = {};
  let saveTimer = null;

  const keep = () => {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => ws.transact("drafts", "readwrite", (s) => s.drafts.put(draft)),
      150);
  };
  await ws.transact("drafts", "readwrite", (s) => s.drafts.put(draft));
  app.setOpenForm(draft.id);

  const setValue = (name, value) => {
    if (value === undefined || value === "") delete draft.values[name];
    else draft.values[name] = value;
    keep();
  };

  const header = h("div.form-head",
    h("h1", label(def.label)),
    draft.replaces ? h("p.note", t("rejectedHelp")) : null);

  const place = h("div.place",
    select(t("campaign"), app.campaigns().map((c) => [c.code, c.name]), draft.campaign, (v) => {
      draft.campaign = v; keep();
    }, "campaign"),
    select(t("ward"), app.units().map((u) => [u.code, u.name]), draft.org_unit, (v) => {
      draft.org_unit = v; keep();
    }, "org_unit"));

  const body = h("div.fields");
  for (const field of def.fields) {
    const box = h("div.field", { dataset: { field: field.name } });
    fieldBoxes[field.name] = box;
    if (field.name === "household_id") {
      householdWidget(box, field, draft, k, setValue);
    } else if (field.type === "choice") {
      choiceWidget(box, field, draft, setValue);
    } else {
      inputWidget(box, field, draft, setValue);
    }
    add(body, box);
  }

  const warning = h("div.warning", { hidden: true, role: "alertdialog" });
  const save = h("button.big.primary", { type: "submit", id: "save" }, t("save"));
  const close = h("button.big", { type: "button", onclick: () => leave(false) }, t("cancel"));
  const discard = h("button.link", { type: "button", onclick: () => leave(true) },
    t("discardDraft"));
  const form = h("form.record", { novalidate: true, dataset: { form: def.form } },
    header, place, body, warning, h("div.actions", save, close), discard);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(false);
  });
  add(root, form);

  async function leave(dropDraft) {
    clearTimeout(saveTimer);
    if (dropDraft) await ws.transact("drafts", "readwrite", (s) => s.drafts.delete(draft.id));
    else await ws.transact("drafts", "readwrite", (s) => s.drafts.put(draft));
    app.setOpenForm(null);
    app.home();
  }

  async function attempt(confirmed) {
    const started = performance.now();
    const typed = {};
    for (const field of def.fields) {
      const value = parseInput(field, draft.values[field.name]);
      if (value !== undefined) typed[field.name] = value;
    }
    const { data, errors, ok } = validate(def, typed);
    for (const [name, box] of Object.entries(fieldBoxes)) {
      const shown = box.querySelector(".error");
      const problem = errors[name] && errors[name][0];
      shown.textContent = problem ? errorText(problem.rule, problem.params) : "";
      box.classList.toggle("invalid", Boolean(problem));
    }
    const placeMissing = !draft.campaign || !draft.org_unit;
    if (!ok || placeMissing) {
      const first = form.querySelector(".invalid input, .invalid textarea, .invalid button");
      if (first) first.focus();
      if (placeMissing) toast(`${t("ward")}: ${errorText("required")}`, "error");
      return;
    }
    if (def.form === "gift" && !confirmed) {
      const earlier = earlierGift(k, { campaign: draft.campaign, ...data }, draft.replaces);
      if (earlier) {
        showDoubleWarning(earlier, data);
        return;
      }
    }
    clearTimeout(saveTimer);
    const item = await ws.saveForm(
      { form: def.form, form_version: def.form_version, campaign: draft.campaign,
        org_unit: draft.org_unit, data, base_version: draft.base_version },
      { draftId: draft.id, replaces: draft.replaces || null },
    );
    globalThis.__wardsyncLastSaveMs = performance.now() - started;
    app.setOpenForm(null);
    toast(t("saved"));
    app.saved(item);
  }

  function showDoubleWarning(earlier, data) {
    warning.replaceChildren(
      h("h2", t("doubleTitle")),
      h("p", t("doubleText", { kind: data.gift_kind, round: data.round,
        status: t(earlier.status === "suspected" ? "suspected" : "counted") })),
      h("div.actions",
        h("button.big.danger", { type: "button", id: "save-anyway",
          onclick: () => { warning.hidden = true; attempt(true); } }, t("saveAnyway")),
        h("button.big", { type: "button", onclick: () => { warning.hidden = true; } },
          t("goBack"))));
    warning.hidden = false;
    warning.scrollIntoView({ block: "center" });
  }
}

function fieldLabel(field) {
  return h("span.label", label(field.label), field.required ? h("b.req", " *") : null);
}

function hint(field) {
  return field.hint ? h("small.hint", label(field.hint)) : null;
}

function select(title, options, value, onChange, name) {
  const el = h("select", { name, onchange: () => onChange(el.value) },
    h("option", { value: "" }, t("choose")),
    options.map(([code, text]) => h("option", { value: code, selected: code === value }, text)));
  if (options.length === 1 && !value) {
    el.value = options[0][0];
    onChange(el.value);
  }
  return h("label.field", h("span.label", title), el);
}

function inputWidget(box, field, draft, setValue) {
  const numeric = field.type === "integer" || field.type === "number";
  const long = (field.max_length || 0) >= BIG_TEXT;
  const attrs = {
    name: field.name,
    autocomplete: "off",
    value: draft.values[field.name] ?? "",
    inputmode: field.name === "citizen_id" || field.type === "integer" ? "numeric"
      : field.type === "number" ? "decimal" : undefined,
    placeholder: field.default !== undefined ? String(field.default) : undefined,
    oninput: (event) => {
      setValue(field.name, event.target.value);
      if (shown) shown.textContent = formatted(event.target.value);
    },
  };
  const input = long ? h("textarea", { ...attrs, rows: 3 }) : h("input", { ...attrs, type: "text" });
  if (long) input.value = draft.values[field.name] ?? "";
  const shown = numeric ? h("small.echo") : null;
  const formatted = (text) => {
    const value = parseInput(field, text);
    return typeof value === "number" ? formatNumber(value) : "";
  };
  if (shown) shown.textContent = formatted(input.value);
  add(box, h("label", fieldLabel(field), input), shown, hint(field), h("div.error"));
}

function choiceWidget(box, field, draft, setValue) {
  const group = h("div.choices", { role: "radiogroup" });
  for (const choice of field.choices) {
    const id = `${field.name}-${choice.value}`;
    const input = h("input", { type: "radio", name: field.name, id, value: choice.value,
      checked: draft.values[field.name] === choice.value,
      onchange: () => setValue(field.name, choice.value) });
    add(group, h("label.choice", { for: id }, input, h("span", label(choice.label))));
  }
  add(box, h("fieldset", h("legend", fieldLabel(field)), group), hint(field), h("div.error"));
}

function householdWidget(box, field, draft, k, setValue) {
  const current = h("p.household-now");
  const results = h("div.results");
  const query = h("input", { type: "search", placeholder: t("searchHint"), hidden: true,
    oninput: () => list() });
  const show = () => {
    const id = draft.values.household_id;
    const known = id && k.households.get(id);
    current.textContent = !id ? t("noHousehold")
      : known && known.address ? known.address : t("householdNew");
    current.dataset.household = id || "";
  };
  const choose = (id, address) => {
    setValue("household_id", id);
    const addressInput = box.parentElement.querySelector("[name=household_address]");
    if (addressInput && address && !addressInput.value) {
      addressInput.value = address;
      addressInput.dispatchEvent(new Event("input"));
    }
    query.hidden = true;
    results.replaceChildren();
    show();
  };
  const list = () => {
    const found = search(k, query.value).filter((m) => m.kind === "household");
    results.replaceChildren(...(found.length ? found.map((m) => h("button.pick", {
      type: "button", onclick: () => choose(m.id, m.address), dataset: { household: m.id },
    }, m.address || m.id.slice(0, 8))) : [h("p", t("noMatch"))]));
  };
  add(box, 
    h("div.label", fieldLabel(field)),
    current,
    h("div.actions",
      h("button", { type: "button", id: "pick-household",
        onclick: () => { query.hidden = false; query.focus(); list(); } }, t("pickHousehold")),
      h("button", { type: "button", id: "new-household",
        onclick: () => choose(ws.uuid(), null) }, t("newHousehold"))),
    query, results, hint(field), h("div.error"));
  show();
}
