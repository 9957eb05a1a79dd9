// The app's service worker: the shell (page, script, manifest, icons) is cached so the app
// opens offline; the API is never cached (personal data), it goes to the network.
const SHELL = "ikhtiyar-app-v1";
const FILES = ["/app/", "/app/app.js", "/app/manifest.webmanifest", "/app/icon-192.png", "/app/icon-512.png"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((keys) => Promise.all(
    keys.filter((k) => k !== SHELL).map((k) => caches.delete(k)))).then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin || !url.pathname.startsWith("/app/")) {
    return;  // the API and everything else: straight to the network
  }
  // Network first (a new version wins), the cached shell when offline.
  event.respondWith(fetch(event.request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(SHELL).then((cache) => cache.put(url.pathname === "/app/" ? "/app/" : event.request, copy));
    }
    return response;
  }).catch(() => caches.match(url.pathname === "/app/" ? "/app/" : event.request, {ignoreSearch: true})));
});
