/* wardsync phone app, 1 of 3: IndexedDB, the hybrid logical clock, saving a form.
 *
 * A form gets its id and clock stamp when it is saved, in the same IndexedDB transaction that
 * stores it (and deletes the draft it came from), and they never change.
 *
 * Like net.js and sync.js, this is a plain script that works both as an ES module (the page
 * imports it through core.js) and as a classic worker script (sw.js loads it with
 * importScripts, since module service workers are not everywhere yet): it has no import or
 * export, and adds its functions to globalThis.wardsync.
 */
(function (scope) {
  "use strict";

  const DB_NAME = "wardsync";
  const DB_VERSION = 1;

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

  function mask(citizenId) {
    return "*".repeat(Math.max(0, citizenId.length - 3)) + citizenId.slice(-3);
  }

  scope.wardsync = Object.assign(scope.wardsync || {}, {
    uuid, openDb, transact, done, getValue, setValue, getAll, pulled, saveForm, tick, parseHlc,
    later, localTime, mask,
  });
})(typeof self !== "undefined" ? self : globalThis);
