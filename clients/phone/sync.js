/* wardsync phone app, 3 of 3: sending the outbox and pulling the wards' changes.
 *
 * A form leaves the outbox only on applied, duplicate or conflict; a batch's answers are
 * settled in one transaction, so a page closed mid-sync only means the batch goes again and
 * the server answers duplicate. A revoked or expired device keeps its outbox; after enrolling
 * again the same ids go out. (A plain script: see store.js.)
 */
(function (scope) {
  "use strict";

  const { transact, done, getValue, setValue, parseHlc, later, mask, api, readBody, request,
    withLock, AuthLost, Refused } = scope.wardsync;
  const BATCH = 500;
  const SETTLED = new Set(["applied", "duplicate", "conflict"]);
  // How long a sent form's full content stays on the phone, to send again should the server
  // lose it (restored from a backup taken before it arrived): as long as the Python client's.
  const KEEP_MS = 7 * 24 * 3600 * 1000;

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

  /** What the outbox held for a form, to queue it again as it was (same id, clock, order). */
  function kept(item) {
    const out = { ...item };
    for (const key of ["state", "errors", "priorByMe", "resent"]) delete out[key];
    return out;
  }

  function summarise(item) {
    const data = { ...item.data };
    if (data.citizen_id) data.citizen_id = mask(data.citizen_id);
    return data;
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
          const mine = result.status !== "duplicate" || current.priorByMe || current.resent;
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
            ...(current.voidedBy ? { voidedBy: current.voidedBy } : {}),
            // Only forms stored as this device's are kept: the receipt counts only those.
            ...(mine ? { resend: { item: kept(current), until: Date.now() + KEEP_MS } } : {}),
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

  /**
   * Queue this device's kept sent forms again when the server's receipt holds fewer of them
   * than the phone sent. The server answered for each, so it only loses one by being restored
   * from an older backup; resending is harmless (those it still has answer duplicate). The
   * same figures never requeue twice (a shortfall resending cannot close is not chased), and
   * content older than KEEP_MS is dropped here. Returns how many forms the receipt says were
   * lost, and how many were queued again (all that are kept: the server tells which it has).
   */
  function requeueIfShort(accepted, deviceId, now = Date.now()) {
    return transact(["sent", "outbox", "kv"], "readwrite", async (s) => {
      const sent = await done(s.sent.getAll());
      for (const x of sent) {
        if (x.resend && x.resend.until < now) {
          delete x.resend;
          s.sent.put(x);
        }
      }
      const mine = sent.filter((x) => x.device_id === deviceId);
      const figures = `${deviceId}:${accepted}/${mine.length}`;
      const row = await done(s.kv.get("requeuedFor"));
      const none = { lost: 0, queued: 0 };
      if (accepted >= mine.length || (row && row.v === figures)) return none;
      s.kv.put({ k: "requeuedFor", v: figures });
      let queued = 0;
      for (const x of mine) {
        if (!x.resend) continue;
        if (!(await done(s.outbox.get(x.id)))) {
          s.outbox.put({ ...x.resend.item, voidedBy: x.voidedBy, state: "queued", resent: true });
        }
        s.sent.delete(x.id);
        queued++;
      }
      return { lost: mine.length - accepted, queued };
    }, true);
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
      const creds = await getValue("creds");
      const requeued = await requeueIfShort(outcome.receipt.accepted, creds.device_id);
      // (A loss with nothing kept to resend shows only in the receipt's two figures.)
      outcome.lost = requeued.queued ? requeued.lost : 0;
      if (requeued.queued) { // the server lost forms: they go again, and the receipt is new
        outcome.sent += await push(report);
        outcome.receipt = await receipt();
      }
      scope.__wardsyncLastSync = outcome; // read by bench/phone.py
      try { await refreshForms(); } catch (_) { /* the forms we have still work */ }
      await setValue("lastSync", Date.now());
      return outcome;
    });
  }

  scope.wardsync = Object.assign(scope.wardsync, {
    push, pull, receipt, refreshForms, syncOnce, requeueIfShort, SETTLED, KEEP_MS,
  });
})(typeof self !== "undefined" ? self : globalThis);
