/* Web push on this phone: the [data-push] card on "My shops" subscribes the browser with the
 * server's VAPID key and posts the subscription to the wallet, or ends it. Shown only where
 * the browser can take push (a service worker and PushManager); its texts come from the card's
 * data attributes, so they speak the page's language. Signing out ends this phone's push: the
 * next person on a shared phone must not get the previous one's messages. */
(() => {
  const card = document.querySelector("[data-push]");
  const supported = "serviceWorker" in navigator && "PushManager" in window
    && "Notification" in window;

  function key(base64url) {
    const base64 = (base64url + "=".repeat((4 - (base64url.length % 4)) % 4))
      .replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  }

  function post(url, body) {
    const token = document.querySelector('meta[name="csrf-token"]');
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.content : "" },
    });
  }

  async function current() {
    const registration = await navigator.serviceWorker.ready;
    return registration.pushManager.getSubscription();
  }

  function show(on, note) {
    card.querySelector("[data-push-state]").textContent =
      note || (on ? card.dataset.onText : card.dataset.offText);
    const button = card.querySelector("[data-push-toggle]");
    button.textContent = on ? card.dataset.turnOff : card.dataset.turnOn;
    button.dataset.on = on ? "1" : "";
    card.hidden = false;
  }

  async function turnOn() {
    if ((await Notification.requestPermission()) !== "granted") {
      show(false, card.dataset.refused);
      return;
    }
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: key(card.dataset.key) });
    const answer = await post(card.dataset.subscribeUrl, subscription.toJSON());
    show(answer.ok);
  }

  async function turnOff() {
    const subscription = await current();
    if (subscription) {
      await post(card.dataset.unsubscribeUrl, { endpoint: subscription.endpoint });
      await subscription.unsubscribe();
    }
    show(false);
  }

  if (card && supported) {
    current().then((subscription) => show(Boolean(subscription))).catch(() => {});
    card.querySelector("[data-push-toggle]").addEventListener("click", (event) => {
      const action = event.currentTarget.dataset.on ? turnOff : turnOn;
      action().catch(() => show(false, card.dataset.refused));
    });
  }

  document.addEventListener("submit", (event) => {
    if (!supported || !event.target.matches("[data-sign-out]")) return;
    current().then((subscription) => subscription && subscription.unsubscribe())
      .catch(() => {});
  });
})();
