// wardsync phone app: storage, clock, credentials and sync, shared by the page and the
// service worker (which loads the same three scripts with importScripts). The page's modules
// import this one and find the functions on globalThis.wardsync.
import "./store.js";
import "./net.js";
import "./sync.js";
