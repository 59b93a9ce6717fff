/* The wallet's service worker (served as /my/sw.js, scope /my/): the card works offline.
 *
 * Pages: network first. Every card page that arrives is kept (its own address and "the last
 * card"), stamped with the time it was fetched. Without a network, a page of /my/ is answered
 * with its kept copy, else the last card, with its hidden offline note shown and dated "as of
 * <time>". Styles and scripts of the same site are kept as they pass and served from the
 * cache when the network fails. Nothing else is kept: no history, no other person's data
 * (signing out clears the cache: wallet.js). */

const CACHE = "kopilka-wallet-v1";
const LAST_CARD = "/my/__last-card__";
const CARD_PAGE = /^\/my\/cards\/\d+\/$/;

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

async function keepCard(request, response) {
  const body = await response.clone().text();
  const headers = new Headers(response.headers);
  headers.set("X-Kept-At", new Date().toISOString());
  const cache = await caches.open(CACHE);
  const kept = () => new Response(body, { status: 200, headers });
  await cache.put(request.url, kept());
  await cache.put(LAST_CARD, kept());
}

async function offlineCard(request) {
  const cache = await caches.open(CACHE);
  const kept = (await cache.match(request.url)) || (await cache.match(LAST_CARD));
  if (!kept) return Response.error();
  const at = new Date(kept.headers.get("X-Kept-At") || Date.now());
  const when = at.toLocaleString(self.navigator.language, {
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  const body = (await kept.text())
    .replace("data-offline hidden>", "data-offline>")
    .replace("<time data-offline-time></time>",
             `<time data-offline-time datetime="${at.toISOString()}">${when}</time>`);
  return new Response(body, { status: 200, headers: kept.headers });
}

async function page(request) {
  try {
    const response = await fetch(request);
    const path = new URL(response.url).pathname;
    if (response.ok && CARD_PAGE.test(path)) await keepCard(request, response);
    return response;
  } catch (error) {
    return offlineCard(request);
  }
}

async function asset(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    return (await cache.match(request)) || Response.error();
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname.startsWith("/my/")) {
    event.respondWith(page(request));
  } else if (request.destination === "style" || request.destination === "script") {
    event.respondWith(asset(request));
  }
});

self.addEventListener("message", (event) => {
  if (event.data === "forget") event.waitUntil(caches.delete(CACHE));
});

/* Web push (push.js subscribes): show the shop's message; a tap opens the wallet. */
self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (error) { data = {}; }
  event.waitUntil(self.registration.showNotification(data.title || "Kopilka", {
    body: data.body || "", icon: "__ICON__",
    data: { url: data.url || "/my/" } }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || "/my/";
  event.waitUntil(self.clients.openWindow(url));
});
