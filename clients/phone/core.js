/* wardsync phone app: storage, clock, credentials and sync, shared by the page and the
 * service worker.
 *
 * Written as a plain script that works both as an ES module (the page imports it) and as a
 * classic worker script (sw.js loads it with importScripts, since module service workers are
 * not everywhere yet): it has no import or export and puts its API on globalThis.wardsync.
 * The service worker needs it for Background Sync, which sends the outbox with no page open.
 *
 * Rules it keeps:
 * - A form gets its id and clock stamp when it is saved, in the same IndexedDB transaction,
 *   and never changes; it leaves the outbox only on applied, duplicate or conflict.
 * - A batch's answers are settled in one transaction; a page closed mid-sync only means the
 *   batch goes again and the server answers duplicate.
 * - One refresh at a time across tabs and the worker (navigator.locks); a refresh whose answer
 *   was lost is retried with the same token, which the server's grace window allows.
 * - A revoked or expired device keeps its outbox; after enrolling again the same ids go out.
 */
(function (scope) {
  "use strict";

  const DB_NAME = "wardsync";
  const DB_VERSION = 1;
  const BATCH = 500;
  const REFRESH_MARGIN_MS = 30000;
  const SETTLED = new Set(["applied", "duplicate", "conflict"]);

  // --- IndexedDB ---------------------------------------------------------------------------

  let dbPromise = null;

  function openDb() {
    if (dbPromise) return dbPromise;
    dbPromise = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore("kv", { keyPath: "k" });
        db.createObjectStore("outbox", { keyPath: "id" }).createIndex("order", "order");
        db.createObjectStore("sent", { keyPath: "id" }).createIndex("order", "order");
        db.createObjectStore("drafts", { keyPath: "id" });
        db.createObjectStore("pulled", { keyPath: "key" }).createIndex("entity", "entity");
      };
      request.onsuccess = () => {
        const db = request.result;
        db.onversionchange = () => db.close(); // a newer app version needs the database
        resolve(db);
      };
      request.onerror = () => reject(request.error);
    });
    return dbPromise;
  }

  function done(request) {
    return new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  /**
   * Run fn(stores) in one transaction; resolves with fn's result once it has committed.
   * Durability is strict (flushed to disk) unless `relaxed`: only for writes that the next
   * sync would redo anyway (settling answers, pulled pages), never for a saved form.
   */
  async function transact(names, mode, fn, relaxed = false) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(names, mode, { durability: relaxed ? "relaxed" : "strict" });
      const stores = {};
      for (const name of [].concat(names)) stores[name] = tx.objectStore(name);
      let result;
      Promise.resolve(fn(stores, tx)).then((value) => { result = value; }, (error) => {
        try { tx.abort(); } catch (_) { /* already finished */ }
        reject(error);
      });
      tx.oncomplete = () => resolve(result);
      tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
      tx.onerror = () => reject(tx.error);
    });
  }

  async function getValue(key) {
    const row = await transact("kv", "readonly", (s) => done(s.kv.get(key)));
    return row ? row.v : undefined;
  }

  function setValue(key, value) {
    return transact("kv", "readwrite", (s) => done(s.kv.put({ k: key, v: value })));
  }

  function getAll(store, index) {
    return transact(store, "readonly", (s) => {
      const source = index ? s[store].index(index) : s[store];
      return done(source.getAll());
    });
  }

  function pulled(entity) {
    return transact("pulled", "readonly", (s) => done(s.pulled.index("entity").getAll(entity)))
      .then((rows) => rows.map((row) => row.data));
  }

  /** A random (version 4) uuid. crypto.randomUUID exists only on HTTPS pages (and localhost);
   *  getRandomValues exists everywhere. */
  function uuid() {
    if (scope.crypto.randomUUID) return scope.crypto.randomUUID();
    const b = scope.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-` +
      hex.slice(20);
  }

  // --- the hybrid logical clock ---------------------------------------------------------

  const pad = (n, width) => String(n).padStart(width, "0");

  /** The next clock after `last`: never backwards, even when the phone's time is reset. */
  function tick(last, wall) {
    if (last && wall <= last.wall) return { wall: last.wall, counter: last.counter + 1 };
    return { wall, counter: 0 };
  }

  function parseHlc(text) {
    const match = /^(\d{1,15}):(\d{1,9})(?::.*)?$/.exec(text || "");
    return match ? { wall: Number(match[1]), counter: Number(match[2]) } : null;
  }

  function later(a, b) {
    if (!a) return b;
    if (!b) return a;
    return a.wall > b.wall || (a.wall === b.wall && a.counter >= b.counter) ? a : b;
  }

  /** RFC 3339 in the phone's own offset, as a volunteer's day is local. */
  function localTime(ms) {
    const d = new Date(ms);
    const offset = -d.getTimezoneOffset();
    const sign = offset >= 0 ? "+" : "-";
    const abs = Math.abs(offset);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1, 2)}-${pad(d.getDate(), 2)}` +
      `T${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}` +
      `.${pad(d.getMilliseconds(), 3)}${sign}${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`;
  }

  /**
   * Save a form into the outbox: its id and clock are given here, once, in the transaction
   * that stores it (and that deletes the draft it came from and the rejected form it fixes).
   */
  async function saveForm(form, { draftId = null, replaces = null } = {}) {
    const creds = await getValue("creds");
    const device = creds ? creds.device_id : "phone";
    return transact(["kv", "outbox", "drafts", "sent"], "readwrite", async (s) => {
      const row = await done(s.kv.get("clock"));
      const now = Date.now();
      const clock = tick(row ? row.v : null, now);
      s.kv.put({ k: "clock", v: clock });
      const hlc = `${clock.wall}:${clock.counter}:${device}`;
      const item = {
        id: uuid(),
        form: form.form,
        form_version: form.form_version,
        campaign: form.campaign,
        org_unit: form.org_unit,
        recorded_at: localTime(now),
        hlc,
        data: form.data,
        order: `${pad(clock.wall, 15)}:${pad(clock.counter, 9)}`,
        state: "queued",
      };
      if (form.base_version) item.base_version = form.base_version;
      s.outbox.put(item);
      if (draftId) s.drafts.delete(draftId);
      if (replaces) s.outbox.delete(replaces);
      if (form.form === "void") {
        const target = await done(s.sent.get(form.data.target));
        if (target) s.sent.put({ ...target, voidedBy: item.id });
      }
      return item;
    });
  }

  // --- credentials and the network -----------------------------------------------------

  class AuthLost extends Error {}
  class Offline extends Error {}
  class Refused extends Error {
    constructor(status, body) {
      super((body && body.detail) || `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  let language = "vi";
  function setLanguage(lang) { language = lang; }

  async function request(path, init = {}) {
    const headers = { Accept: "application/json", "Accept-Language": language, ...init.headers };
    if (init.body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method: init.method || "GET",
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (error) {
      throw new Offline(String(error));
    }
    return response;
  }

  async function readBody(response) {
    const text = await response.text();
    try { return text ? JSON.parse(text) : null; } catch (_) { return null; }
  }

  function storeCreds(old, pair, extra = {}) {
    return {
      ...old,
      ...extra,
      access: pair.access_token,
      refresh: pair.refresh_token,
      access_exp: Date.now() + pair.expires_in * 1000,
      revoked: false,
    };
  }

  async function enroll(code, name) {
    const body = { code, name };
    // An answer lost on the way back is retried with the same code: the server answers the
    // same device within its grace window.
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await request("/api/v1/devices/enroll", { method: "POST", body });
      } catch (error) {
        if (!(error instanceof Offline) || attempt >= 3) throw error;
        await sleep(500 * 2 ** attempt);
        continue;
      }
      const answer = await readBody(response);
      if (response.status !== 201) throw new Refused(response.status, answer);
      const old = (await getValue("creds")) || {};
      const creds = storeCreds(old, answer, { device_id: answer.device_id, name });
      await transact(["kv", "pulled"], "readwrite", (s) => {
        s.kv.put({ k: "creds", v: creds });
        if (old.device_id !== answer.device_id) {
          // Another device (a new enrolment): its scope may differ, so pull afresh. The
          // outbox stays as it is, and its forms go out with the same ids.
          s.pulled.clear();
          s.kv.delete("cursor");
          s.kv.delete("receipt");
        }
      });
      return creds;
    }
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function withLock(name, options, fn) {
    if (scope.navigator && scope.navigator.locks) {
      return scope.navigator.locks.request(name, options, fn);
    }
    return fn({ name }); // no Web Locks (very old browsers): one tab at a time is all we get
  }

  /**
   * A fresh access token. One refresh at a time across tabs: whoever waited for the lock
   * finds the token another tab just stored and uses it.
   */
  async function freshToken(force = false, seen = null) {
    const creds = await getValue("creds");
    if (!creds || creds.revoked) throw new AuthLost("not enrolled");
    if (!force && creds.access_exp - REFRESH_MARGIN_MS > Date.now()) return creds.access;
    return withLock("wardsync-refresh", {}, async () => {
      const now = await getValue("creds");
      if (!now || now.revoked) throw new AuthLost("not enrolled");
      const renewed = now.access !== (seen || creds.access);
      if (renewed && now.access_exp - REFRESH_MARGIN_MS > Date.now()) return now.access;
      for (let attempt = 0; ; attempt++) {
        let response;
        try {
          response = await request("/api/v1/auth/refresh", {
            method: "POST", body: { refresh_token: now.refresh },
          });
        } catch (error) {
          // The answer may be lost after the server rotated the token: the same token again
          // is answered within the grace window, and revokes nothing.
          if (attempt >= 3) throw error;
          await sleep(400 * 2 ** attempt);
          continue;
        }
        const answer = await readBody(response);
        if (response.status === 200) {
          const creds2 = storeCreds(now, answer);
          await setValue("creds", creds2);
          return creds2.access;
        }
        if (response.status === 401) {
          await setValue("creds", { ...now, revoked: true });
          throw new AuthLost((answer && answer.detail) || "refresh refused");
        }
        throw new Refused(response.status, answer);
      }
    });
  }

  /** A request with the device's token, refreshed when it is about to expire or refused. */
  async function api(path, init = {}) {
    let token = await freshToken();
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await request(path, {
        ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` },
      });
      if (response.status !== 401) return response;
      if (attempt === 0) {
        token = await freshToken(true, token);
        continue;
      }
      const creds = await getValue("creds");
      await setValue("creds", { ...creds, revoked: true });
      throw new AuthLost("the device was revoked");
    }
    throw new AuthLost("unreachable");
  }

  // --- push ----------------------------------------------------------------------------

  function envelope(item) {
    const out = {
      id: item.id,
      form: item.form,
      form_version: item.form_version,
      campaign: item.campaign,
      org_unit: item.org_unit,
      recorded_at: item.recorded_at,
      hlc: item.hlc,
      data: item.data,
    };
    if (item.base_version) out.base_version = item.base_version;
    return out;
  }

  function summarise(item) {
    const data = { ...item.data };
    if (data.citizen_id) data.citizen_id = mask(data.citizen_id);
    return data;
  }

  function mask(citizenId) {
    return "*".repeat(Math.max(0, citizenId.length - 3)) + citizenId.slice(-3);
  }

  /**
   * The oldest `limit` queued forms, and whether this device sent each before (kept in one
   * record, "tried:<device>"), so that a duplicate answer can be told apart: a resend of this
   * device's own lost answer, or a form an earlier enrolment of the phone sent.
   */
  function takeBatch(limit, deviceId) {
    // One getAll, not a cursor (a round trip per form), and one write for the whole batch.
    return transact(["outbox", "kv"], "readwrite", async (s) => {
      const all = await done(s.outbox.index("order").getAll());
      const batch = all.filter((item) => item.state === "queued").slice(0, limit);
      const row = await done(s.kv.get(`tried:${deviceId}`));
      const tried = new Set(row ? row.v : []);
      for (const item of batch) item.priorByMe = tried.has(item.id);
      for (const item of batch) tried.add(item.id);
      s.kv.put({ k: `tried:${deviceId}`, v: [...tried] });
      return batch;
    }, true);
  }

  /** Settle one batch's answers in one transaction; returns how many were settled (left the
   *  outbox, or stay in it as rejected). */
  function settle(items, results, deviceId, serverHlc) {
    // Only one sync runs at a time (a lock across tabs), and only rejected forms are changed
    // by hand (fixed or discarded), never queued ones: the batch as taken is still current.
    return transact(["outbox", "sent", "kv"], "readwrite", async (s) => {
      let left = 0;
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        const current = item;
        const result = results[i];
        if (!result || result.id !== item.id) continue;
        if (SETTLED.has(result.status)) {
          // Stored by this device, unless this is a duplicate of what an earlier enrolment of
          // the phone sent (this device had never sent it before this batch).
          const mine = result.status !== "duplicate" || current.priorByMe;
          s.outbox.delete(item.id);
          s.sent.put({
            id: item.id,
            form: item.form,
            form_version: item.form_version,
            campaign: item.campaign,
            org_unit: item.org_unit,
            recorded_at: item.recorded_at,
            order: item.order,
            data: summarise(item),
            status: result.status === "duplicate" ? result.original_status || "applied" : result.status,
            flags: result.flags || [],
            record_id: result.record_id,
            device_id: mine ? deviceId : null,
          });
          left++;
        } else if (result.status === "rejected") {
          s.outbox.put({ ...current, state: "rejected", errors: result.errors || {} });
          left++;
        }
      }
      const row = await done(s.kv.get(`tried:${deviceId}`));
      if (row) {
        const settledIds = new Set(items.filter((_, i) => results[i] &&
          results[i].id === items[i].id && results[i].status !== "rejected").map((x) => x.id));
        s.kv.put({ k: row.k, v: row.v.filter((id) => !settledIds.has(id)) });
      }
      const remote = parseHlc(serverHlc);
      if (remote) {
        const row = await done(s.kv.get("clock"));
        s.kv.put({ k: "clock", v: later(row ? row.v : null, remote) });
      }
      return left;
    }, true);
  }

  /** Send the outbox in batches until it holds nothing queued, or the network says stop. */
  async function push(report = () => {}) {
    const creds = await getValue("creds");
    if (!creds || creds.revoked) throw new AuthLost("not enrolled");
    let size = BATCH;
    let sent = 0;
    for (;;) {
      const items = await takeBatch(size, creds.device_id);
      if (!items.length) return sent;
      const response = await api("/api/v1/sync/push", {
        method: "POST", body: { submissions: items.map(envelope) },
      });
      if (response.status === 413 && size > 1) {
        size = Math.max(1, Math.floor(size / 2));
        continue;
      }
      const answer = await readBody(response);
      if (response.status !== 200) throw new Refused(response.status, answer);
      const moved = await settle(items, answer.results, creds.device_id, answer.server_hlc);
      sent += moved;
      report(sent);
      if (!moved) return sent; // answers that match nothing: never loop on them
    }
  }

  // --- pull ----------------------------------------------------------------------------

  function keyOf(change) { return `${change.entity}/${change.id}`; }

  async function pull() {
    let cursor = await getValue("cursor");
    let count = 0;
    for (let pages = 0; pages < 1000; pages++) {
      const query = new URLSearchParams({ limit: "1000" });
      if (cursor) query.set("cursor", cursor);
      const response = await api(`/api/v1/sync/pull?${query}`);
      const page = await readBody(response);
      if (response.status === 400 && cursor) { // a cursor the server no longer reads
        await transact(["pulled", "kv"], "readwrite", (s) => {
          s.pulled.clear();
          s.kv.delete("cursor");
        });
        cursor = null;
        continue;
      }
      if (response.status !== 200) throw new Refused(response.status, page);
      // One page and its cursor in one transaction: a crash never skips nor repeats a page.
      await transact(["pulled", "kv"], "readwrite", (s) => {
        if (page.reset) s.pulled.clear();
        for (const change of page.changes) {
          if (change.op === "delete") s.pulled.delete(keyOf(change));
          else s.pulled.put({ key: keyOf(change), entity: change.entity, id: change.id,
            version: change.version, data: change.data });
        }
        s.kv.put({ k: "cursor", v: page.next_cursor });
      }, true);
      count += page.changes.length;
      cursor = page.next_cursor;
      if (!page.has_more) return count;
    }
    return count;
  }

  async function receipt() {
    const response = await api("/api/v1/devices/me");
    const body = await readBody(response);
    if (response.status !== 200) throw new Refused(response.status, body);
    await setValue("receipt", { ...body, at: Date.now() });
    return body;
  }

  async function refreshForms() {
    const known = await getValue("forms");
    const headers = known && known.etag ? { "If-None-Match": known.etag } : {};
    const response = await request("/api/v1/forms", { headers });
    if (response.status === 304) return known.forms;
    const body = await readBody(response);
    if (response.status !== 200) throw new Refused(response.status, body);
    await setValue("forms", { etag: response.headers.get("ETag"), forms: body.forms });
    return body.forms;
  }

  /** Push, then pull, then the receipt: one run at a time across tabs and the worker. */
  function syncOnce(report = () => {}) {
    return withLock("wardsync-sync", { ifAvailable: true }, async (lock) => {
      if (!lock) return { skipped: true };
      const outcome = { sent: 0, pulled: 0 };
      const started = Date.now();
      outcome.sent = await push(report);
      outcome.push_ms = Date.now() - started;
      outcome.pulled = await pull();
      outcome.pull_ms = Date.now() - started - outcome.push_ms;
      outcome.receipt = await receipt();
      scope.__wardsyncLastSync = outcome; // read by bench/phone.py
      try { await refreshForms(); } catch (_) { /* the forms we have still work */ }
      await setValue("lastSync", Date.now());
      return outcome;
    });
  }

  scope.wardsync = {
    uuid, openDb, transact, done, getValue, setValue, getAll, pulled, saveForm, tick, parseHlc,
    localTime, mask, enroll, freshToken, api, push, pull, receipt, refreshForms, syncOnce,
    setLanguage, request, readBody, AuthLost, Offline, Refused, SETTLED,
  };
})(typeof self !== "undefined" ? self : globalThis);
