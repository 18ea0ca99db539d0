/* wardsync phone app: the service worker, written by hand.
 *
 * The server serves this file with VERSION set to a hash of every shell file (and of this
 * one), so any deploy that changes a byte of the app is a new worker. A new worker precaches
 * the new shell beside the old one and then waits: it takes over only when the volunteer taps
 * "update" on a screen with no open form (the page sends "skipWaiting").
 *
 * API calls are never answered from here: they always go to the network. Background Sync
 * (Android Chrome) sends the outbox with core.js, the same code the page uses; where a page is
 * open, the page does it instead.
 */
"use strict";

const VERSION = "__VERSION__";
const SHELL = __SHELL__;
const CACHE = `wardsync-shell-${VERSION}`;

importScripts("store.js", "net.js", "sync.js");

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      cache.addAll(SHELL.map((url) => new Request(url, { cache: "no-cache" })))),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("wardsync-shell-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "skipWaiting") self.skipWaiting();
});

const scopePath = new URL(self.registration.scope).pathname;

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(scopePath)) return;
  if (request.mode === "navigate") {
    event.respondWith(fromCache("./", request));
    return;
  }
  const name = url.pathname.slice(scopePath.length) || "./";
  if (SHELL.includes(name)) event.respondWith(fromCache(name, request));
  // Anything else (the API above all) is not touched: it goes to the network.
});

async function fromCache(name, request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(name);
  return hit || fetch(request);
}

self.addEventListener("sync", (event) => {
  if (event.tag === "wardsync-push") event.waitUntil(backgroundSync());
});

async function backgroundSync() {
  const windows = await self.clients.matchAll({ type: "window" });
  if (windows.length) {
    windows[0].postMessage({ type: "sync" }); // a page is open: it sends and shows the result
    return;
  }
  const lang = await self.wardsync.getValue("lang");
  self.wardsync.setLanguage(lang || "vi");
  try {
    await self.wardsync.syncOnce();
  } catch (error) {
    // Offline again: failing tells the browser to try this sync later.
    if (error instanceof self.wardsync.Offline) throw error;
  }
}
