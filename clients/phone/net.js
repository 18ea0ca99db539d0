/* wardsync phone app, 2 of 3: credentials and the network.
 *
 * One refresh at a time across tabs and the worker (navigator.locks); a refresh whose answer
 * was lost is retried with the same token, which the server's grace window allows. A refused
 * refresh marks the phone revoked, and its outbox stays. (A plain script: see store.js.)
 */
(function (scope) {
  "use strict";

  const { getValue, setValue, transact } = scope.wardsync;
  const REFRESH_MARGIN_MS = 30000;

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

  scope.wardsync = Object.assign(scope.wardsync, {
    AuthLost, Offline, Refused, setLanguage, request, readBody, enroll, sleep, withLock,
    freshToken, api,
  });
})(typeof self !== "undefined" ? self : globalThis);
