// The app's start and its heartbeat: enrolment from the QR link, the status bar (unsent forms,
// the server's receipt), sending on every occasion a phone offers (on open, when the network
// returns, when the app becomes visible, on a timer, on "send now", and through Background
// Sync where the browser has it), and the update flow, which never loses a draft.

import "./core.js";
import { setLang, t, lang, formatTime } from "./i18n.js";
import { enrolScreen, homeScreen } from "./views.js";
import { add, clear, h, toast } from "./ui.js";

const ws = globalThis.wardsync;
const TIMER_MS = 60000;
const IN_APP = /\b(Zalo|FBAN|FBAV|FB_IAB|FBIOS|Instagram|Line\/|Messenger)\b/i;

const state = {
  creds: null,
  forms: [],
  units: [],
  campaigns: [],
  receipt: null,
  unsent: 0,
  mine: 0,
  syncing: false,
  message: "",
  openForm: null,
  waiting: null,
  takeOver: false,
  persisted: null,
  screen: "home",
};
const channel = "BroadcastChannel" in globalThis ? new BroadcastChannel("wardsync") : null;

const app = {
  screen(name = "other") {
    state.screen = name;
    return clear(document.getElementById("screen"));
  },
  forms: () => state.forms,
  units: () => state.units,
  campaigns: () => state.campaigns,
  defaultCampaign() {
    const today = new Date().toISOString().slice(0, 10);
    const running = state.campaigns.find((c) => c.starts_on <= today && today <= c.ends_on);
    return (running || state.campaigns[state.campaigns.length - 1] || {}).code || "";
  },
  defaultUnit() {
    const own = state.receipt && state.receipt.org_units;
    const found = state.units.find((u) => own && own.includes(u.code));
    return (found || state.units[0] || {}).code || "";
  },
  setOpenForm(id) {
    state.openForm = id;
    document.body.dataset.formOpen = id ? "1" : "0";
    renderBanners();
  },
  async home() {
    state.screen = "home";
    await load();
    renderStatus();
    await homeScreen(app);
  },
  async saved() {
    await app.home();
    registerBackgroundSync();
    askPersistence();
    if (navigator.onLine) sync("saved");
    if (channel) channel.postMessage("changed");
  },
  async changed() {
    await app.home();
    if (channel) channel.postMessage("changed");
  },
  async enrolled() {
    history.replaceState(null, "", location.pathname); // the code leaves the address bar
    state.creds = await ws.getValue("creds");
    askPersistence();
    await sync("enrolled");
    await app.home();
  },
};
globalThis.wardsyncApp = app; // for the tests and the benchmark: the same functions the UI uses

async function load() {
  state.creds = await ws.getValue("creds");
  const forms = await ws.getValue("forms");
  state.forms = (forms && forms.forms) || [];
  state.receipt = (await ws.getValue("receipt")) || null;
  const [units, campaigns, outbox, sent] = await Promise.all([
    ws.pulled("org_unit"), ws.pulled("campaign"), ws.getAll("outbox"), ws.getAll("sent"),
  ]);
  // Units in the device's scope come with their parent; ancestors are shown by name only.
  state.units = units.filter((u) => "parent" in u).sort((a, b) => a.name.localeCompare(b.name));
  state.campaigns = campaigns.sort((a, b) => a.starts_on.localeCompare(b.starts_on));
  state.unsent = outbox.length;
  const device = state.creds && state.creds.device_id;
  state.mine = sent.filter((s) => s.device_id && s.device_id === device).length;
  state.lastSync = await ws.getValue("lastSync");
}

// --- the status bar and the banners -----------------------------------------------------------

function renderStatus() {
  const bar = clear(document.getElementById("status"));
  const online = navigator.onLine;
  const receipt = state.receipt && state.creds && state.receipt.device_id === state.creds.device_id
    ? t("receipt", { n: state.receipt.accepted, m: state.mine }) : t("noReceipt");
  add(bar, 
    h("p.net", { dataset: { online: online ? "1" : "0" } }, t(online ? "online" : "offline")),
    h("p.unsent", { id: "unsent", dataset: { n: String(state.unsent) } },
      t("unsent", { n: state.unsent })),
    h("p.receipt", { id: "receipt", dataset: { accepted: String(state.receipt?.accepted ?? ""),
      mine: String(state.mine) } }, receipt),
    state.lastSync ? h("p.last", t("lastSync", { t: formatTime(state.lastSync) })) : null,
    state.message ? h("p.message", { role: "status" }, state.message) : null,
    state.persisted === null ? null
      : h("p.storage", t(state.persisted ? "storageKept" : "storageNotKept")),
    h("button.big.primary", { type: "button", id: "send-now", disabled: state.syncing,
      onclick: () => sync("manual") }, t(state.syncing ? "sending" : "sendNow")),
  );
}

function renderBanners() {
  const box = clear(document.getElementById("banners"));
  if (IN_APP.test(navigator.userAgent)) {
    add(box, h("div.banner.warn", { id: "in-app" }, t("inApp"), " ",
      h("code", location.origin + location.pathname)));
  }
  if (!globalThis.isSecureContext) {
    box.append(h("div.banner.warn", { id: "insecure" }, t("insecure")));
  }
  if (state.creds && state.creds.revoked) {
    add(box, h("div.banner.warn", { id: "revoked" }, t("revoked"), " ",
      h("button", { type: "button", onclick: () => enrolScreen(app) }, t("enrol"))));
  }
  if (state.waiting) {
    add(box, h("div.banner", { id: "update" }, t("updateReady"), " ",
      h("button.primary", { type: "button", id: "update-now", onclick: takeUpdate },
        t("updateNow")),
      state.openForm ? h("small", " ", t("updateWaitForm")) : null));
  }
}

// --- sending --------------------------------------------------------------------------------

async function sync(reason) {
  if (!state.creds || state.creds.revoked || state.syncing) return;
  if (!navigator.onLine && reason !== "manual") return renderStatus();
  state.syncing = true;
  renderStatus();
  checkForUpdate();
  try {
    const outcome = await ws.syncOnce();
    state.message = outcome.skipped ? "" : outcome.lost
      ? t("resent", { n: outcome.lost }) : t("sentOk");
  } catch (error) {
    if (error instanceof ws.AuthLost) state.message = t("revoked");
    else if (error instanceof ws.Offline) state.message = t("offline");
    else if (error instanceof ws.Refused && [429, 502, 503, 504].includes(error.status)) {
      state.message = t("busy");
    } else state.message = t("sendFailed", { reason: error.message });
  } finally {
    state.syncing = false;
    await load();
    renderStatus();
    renderBanners();
    if (state.screen === "home" && !state.openForm) await homeScreen(app);
    if (channel) channel.postMessage("changed");
    document.body.dataset.synced = String(Date.now());
  }
}

function registerBackgroundSync() {
  if (app.registration && app.registration.sync) {
    app.registration.sync.register("wardsync-push").catch(() => {});
  }
}

async function askPersistence() {
  if (!navigator.storage || !navigator.storage.persist) return;
  state.persisted = (await navigator.storage.persisted()) || (await navigator.storage.persist());
  renderStatus();
}

// --- the service worker and updates ---------------------------------------------------------

async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  const registration = await navigator.serviceWorker.register("sw.js", { scope: "./" });
  app.registration = registration;
  const watch = (worker) => worker && worker.addEventListener("statechange", () => {
    if (worker.state === "installed" && navigator.serviceWorker.controller) offer(registration);
  });
  if (registration.waiting && navigator.serviceWorker.controller) offer(registration);
  watch(registration.installing);
  registration.addEventListener("updatefound", () => watch(registration.installing));
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (state.takeOver) location.reload();
  });
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data && event.data.type === "sync") sync("background");
  });
}

function offer(registration) {
  state.waiting = registration.waiting;
  renderBanners();
}

let lastCheck = 0;
function checkForUpdate() {
  if (!app.registration || Date.now() - lastCheck < 10000) return;
  lastCheck = Date.now();
  app.registration.update().catch(() => {});
}

/** The new version takes over only on the volunteer's tap, and never over an open form. */
function takeUpdate() {
  if (state.openForm) {
    toast(t("updateWaitForm"), "error");
    renderBanners();
    return;
  }
  if (!state.waiting) return;
  state.takeOver = true;
  state.waiting.postMessage({ type: "skipWaiting" });
}

// --- start ------------------------------------------------------------------------------------

function codeFromLink() {
  const match = /(?:^#|&)enroll=([^&]+)/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : "";
}

async function start() {
  const saved = await ws.getValue("lang");
  setLang(saved || "vi");
  ws.setLanguage(lang());
  document.getElementById("lang").addEventListener("click", async () => {
    setLang(lang() === "vi" ? "en" : "vi");
    ws.setLanguage(lang());
    await ws.setValue("lang", lang());
    document.getElementById("lang").textContent = t("language");
    document.getElementById("title").textContent = t("app");
    renderStatus();
    renderBanners();
    if (state.screen === "home" && !state.openForm) await app.home();
  });
  document.getElementById("lang").textContent = t("language");
  document.getElementById("title").textContent = t("app");
  registerWorker().catch(() => {});
  await load();
  const code = codeFromLink();
  renderBanners();
  renderStatus();
  if (!state.creds || (state.creds.revoked && code)) {
    enrolScreen(app, code);
  } else {
    if (code) {
      history.replaceState(null, "", location.pathname);
      toast(t("alreadyEnrolled"));
    }
    await app.home();
    sync("open");
  }
  addEventListener("online", () => { renderStatus(); sync("online"); });
  addEventListener("offline", () => {
    state.message = "";
    renderStatus();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") sync("visible");
  });
  setInterval(() => { if (state.unsent || Date.now() - (state.lastSync || 0) > 5 * TIMER_MS) sync("timer"); },
    TIMER_MS);
  if (channel) {
    channel.onmessage = async () => {
      await load();
      renderStatus();
      if (state.screen === "home" && !state.openForm) await homeScreen(app);
    };
  }
  document.body.dataset.ready = "1";
}

start();
