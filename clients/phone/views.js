// The screens other than a form: enrolment, the home screen (what waits to be sent, what was
// sent, with void), and the search over the wards' doors.

import "./core.js";
import { definitionOf, newestForms, validate } from "./forms.js";
import { errorText, formatTime, label, t } from "./i18n.js";
import { knowledge, search } from "./places.js";
import { newDraft, openRecord } from "./record.js";
import { add, h, toast } from "./ui.js";

const ws = globalThis.wardsync;

// --- enrolment -------------------------------------------------------------------------------

export function enrolScreen(app, code = "") {
  const root = app.screen();
  const message = h("p.message", { role: "status" });
  const codeInput = h("input", { name: "code", value: code, autocomplete: "off",
    autocapitalize: "off", spellcheck: false });
  const nameInput = h("input", { name: "name", value: t("phoneNameDefault"), autocomplete: "off" });
  const button = h("button.big.primary", { type: "submit", id: "enrol" }, t("enrol"));
  const form = h("form.enrol", { novalidate: true },
    h("h1", t("enrolTitle")),
    h("p", t("enrolHelp")),
    h("label.field", h("span.label", t("code")), codeInput),
    h("label.field", h("span.label", t("phoneName")), nameInput),
    button, message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const codeText = codeInput.value.trim();
    const name = nameInput.value.trim() || t("phoneNameDefault");
    if (!codeText) {
      message.textContent = errorText("required");
      return;
    }
    button.disabled = true;
    message.textContent = t("enrolling");
    try {
      await ws.enroll(codeText, name.slice(0, 100));
      message.textContent = t("enrolled");
      await app.enrolled();
    } catch (error) {
      message.textContent = error instanceof ws.Offline ? t("enrolOffline") : t("enrolRefused");
      button.disabled = false;
    }
  });
  add(root, form);
}

// --- home --------------------------------------------------------------------------------

function summary(item, forms) {
  const data = item.data || {};
  const def = definitionOf(forms, item.form, item.form_version);
  const choice = (name) => {
    const field = def && def.fields.find((f) => f.name === name);
    const found = field && field.choices && field.choices.find((c) => c.value === data[name]);
    return found ? label(found.label) : data[name];
  };
  switch (item.form) {
    case "activation":
      return `${ws.mask(data.citizen_id || "")} · ${choice("status")}`;
    case "household_help":
      return `${data.household_address || t("household")} · ${choice("kind")}`;
    case "gift":
      return `${data.household_address || t("household")} · ${data.gift_kind} ${data.round}`;
    case "void":
      return `${t("voidIt")}: ${String(data.target || "").slice(0, 8)}`;
    default:
      return item.form;
  }
}

function formName(item, forms) {
  const def = definitionOf(forms, item.form, item.form_version);
  return def ? label(def.label) : item.form;
}

function serverErrors(item, forms) {
  const def = definitionOf(forms, item.form, item.form_version);
  const names = { campaign: t("campaign"), org_unit: t("ward") };
  return Object.entries(item.errors || {}).map(([path, messages]) => {
    let field = names[path] || path;
    if (path.startsWith("data.") && def) {
      const f = def.fields.find((x) => x.name === path.slice(5));
      if (f) field = label(f.label);
    }
    return h("li", t("fieldError", { field, message: messages.join(" ") }));
  });
}

export async function homeScreen(app) {
  const root = app.screen("home");
  const forms = app.forms();
  const [drafts, outbox, sent] = await Promise.all([
    ws.getAll("drafts"), ws.getAll("outbox", "order"), ws.getAll("sent", "order"),
  ]);

  const buttons = newestForms(forms).filter((d) => d.form !== "void").map((d) =>
    h("button.big.form-button", { type: "button", dataset: { form: d.form },
      onclick: () => openRecord(app, newDraft(d, app)) }, label(d.label)));
  add(root, h("section.start", h("h2", t("record")), ...buttons,
    h("button.big", { type: "button", id: "open-search", onclick: () => searchScreen(app) },
      t("search"))));

  if (drafts.length) {
    add(root, h("section.drafts", h("h2", t("drafts")),
      h("ul.list", drafts.map((d) => h("li.draft", { dataset: { id: d.id } },
        h("span", label(d.def.label), " · ", formatTime(d.opened)),
        h("button", { type: "button", onclick: () => openRecord(app, d) }, t("resume")))))));
  }

  add(root, h("section.outbox", h("h2", t("outbox"), " ", h("span.count", String(outbox.length))),
    outbox.length ? h("ul.list", outbox.map((item) => outboxItem(app, item, forms)))
      : h("p.empty", t("nothing"))));

  const latest = sent.slice(-50).reverse();
  const voiding = new Set(outbox.filter((i) => i.form === "void").map((i) => i.data.target));
  add(root, h("section.sent", h("h2", t("sentList")),
    latest.length ? h("ul.list", latest.map((item) => sentItem(app, item, forms, voiding)))
      : h("p.empty", t("nothing"))));
}

function outboxItem(app, item, forms) {
  const rejected = item.state === "rejected";
  const li = h(`li.item${rejected ? ".rejected" : ""}`, { dataset: { id: item.id, form: item.form } },
    h("div", h("b", formName(item, forms)), " ", summary(item, forms)),
    h("small", formatTime(Date.parse(item.recorded_at))));
  if (rejected) {
    const discard = h("button.danger", { type: "button", onclick: async () => {
      if (!discard.dataset.armed) {
        discard.dataset.armed = "1";
        discard.textContent = t("confirmDiscard");
        return;
      }
      await ws.transact("outbox", "readwrite", (s) => s.outbox.delete(item.id));
      app.changed();
    } }, t("discard"));
    add(li, h("div.reasons", h("b", t("rejected")), h("ul", serverErrors(item, forms))),
      h("div.actions",
        h("button.primary", { type: "button", onclick: () => fix(app, item) }, t("fix")),
        discard));
  }
  return li;
}

function fix(app, item) {
  const def = definitionOf(app.forms(), item.form, item.form_version) || item.def;
  if (!def) return toast(t("sendFailed", { reason: item.form }), "error");
  const values = {};
  for (const [key, value] of Object.entries(item.data || {})) values[key] = String(value);
  openRecord(app, newDraft(def, app, { values, campaign: item.campaign, org_unit: item.org_unit,
    replaces: item.id, base_version: item.base_version }));
}

function sentItem(app, item, forms, voiding) {
  const isEvent = item.form === "household_help" || item.form === "gift";
  const voided = item.voidedBy || voiding.has(item.id);
  const li = h("li.item", { dataset: { id: item.id, form: item.form, status: item.status } },
    h("div", h("b", formName(item, forms)), " ", summary(item, forms)),
    h("small", formatTime(Date.parse(item.recorded_at)),
      item.flags && item.flags.includes("suspected_double") ? ` · ${t("suspected")}` : "",
      voided ? ` · ${t(item.voidedBy ? "voided" : "voiding")}` : ""));
  if (isEvent && !voided) {
    add(li, h("button.void", { type: "button", onclick: () => voidBox(app, li, item) },
      t("voidIt")));
  }
  return li;
}

function voidBox(app, li, item) {
  const def = newestForms(app.forms()).find((d) => d.form === "void");
  if (!def || li.querySelector(".void-box")) return;
  const reason = h("textarea", { name: "reason", rows: 2 });
  const error = h("div.error");
  const box = h("form.void-box", { novalidate: true },
    h("label", h("span.label", t("voidReason")), reason), error,
    h("button.danger", { type: "submit" }, t("voidSave")));
  box.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { data, errors, ok } = validate(def, { target: item.id, reason: reason.value });
    if (!ok) {
      const problem = Object.values(errors)[0][0];
      error.textContent = errorText(problem.rule, problem.params);
      return;
    }
    await ws.saveForm({ form: "void", form_version: def.form_version, campaign: item.campaign,
      org_unit: item.org_unit, data });
    toast(t("saved"));
    app.saved();
  });
  add(li, box);
  reason.focus();
}

// --- search ------------------------------------------------------------------------------

export async function searchScreen(app) {
  const root = app.screen();
  const k = await knowledge();
  const statusLabel = statusLabels(app.forms());
  const results = h("ul.list.results");
  const query = h("input", { type: "search", name: "q", placeholder: t("searchHint"),
    oninput: () => show() });
  const show = () => {
    const found = search(k, query.value);
    results.replaceChildren(...(found.length ? found.map((m) => m.kind === "household"
      ? householdRow(m, statusLabel) : recordRow(m, statusLabel)) : [h("li", t("noMatch"))]));
  };
  add(root, h("h1", t("search")), query, results,
    h("button.big", { type: "button", onclick: () => app.home() }, t("cancel")));
  show();
  query.focus();
}

function statusLabels(forms) {
  const def = newestForms(forms).find((d) => d.form === "activation");
  const field = def && def.fields.find((f) => f.name === "status");
  const out = {};
  for (const c of (field && field.choices) || []) out[c.value] = label(c.label);
  return out;
}

function householdRow(m, statusLabel) {
  const people = [...m.records, ...(m.localRecords || [])];
  const gifts = [...m.gifts.map((g) => `${g.gift_kind} ${g.round}: ${t(g.status)}`),
    ...(m.localGifts || []).map((g) => `${g.gift_kind} ${g.round}`)];
  const done = people.length + gifts.length + m.helps > 0;
  return h("li.door", { dataset: { household: m.id, done: done ? "1" : "0" } },
    h("div", h("b", m.address || m.id.slice(0, 8)), done ? h("span.badge", t("doneDoor")) : null),
    people.length ? h("small", people.map((r) =>
      `${r.citizen_id} ${statusLabel[r.status] || r.status || (r.outcomes || []).join(", ")}`)
      .join(" · ")) : null,
    gifts.length ? h("small", `${t("gifts")}: ${gifts.join(" · ")}`) : null,
    m.helps ? h("small", `${t("helps")}: ${m.helps}`) : null);
}

function recordRow(r, statusLabel) {
  return h("li.door", { dataset: { record: String(r.record_id) } },
    h("div", h("b", r.citizen_id), " ", statusLabel[r.status] || r.status || ""),
    (r.outcomes || []).length ? h("small", r.outcomes.map((o) => statusLabel[o] || o).join(", "))
      : null);
}
