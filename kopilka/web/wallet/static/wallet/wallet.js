/* The wallet's own script: registers the service worker (the card offline, sw.js) and, on
 * signing out, tells it to forget the kept card so the next person on this phone sees none. */
(() => {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/my/sw.js", { scope: "/my/" }).catch(() => {});
  document.addEventListener("submit", (event) => {
    if (event.target.matches("[data-sign-out]") && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage("forget");
    }
  });
})();
