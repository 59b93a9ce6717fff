/* The cashier workplace: sales kept on the device while the network is down (docs/offline.md).
 *
 * The network counts as down when the browser says so (navigator.onLine, the `offline` event)
 * or when an htmx request failed to reach the server. The counter's first screen then shows
 * the offline form (cashier/offline.html): member's phone or card, amount, payment. A sale
 * kept that way only accrues points; paying with points needs the server and is refused here.
 *
 * Kept sales live in localStorage, per device and cashier (the server records the cashier who
 * uploads, so each cashier's queue waits for them), each with the receipt id made here
 * (OFF-<device>-<time>-<random>) and the moment of the sale. When the network returns (the
 * `online` event, a successful try every 15 s, or "Upload now") the queue is POSTed as JSON to
 * cashier:offline-upload; the server commits each sale at its own time, idempotent by its
 * receipt id, and answers per sale: done (it leaves the queue) or refused with the reason (it
 * stays, marked, for the cashier to fix or drop).
 */
(function () {
  "use strict";

  var RETRY_MS = 15000;
  var PREFIX = "kopilka.offline.";
  var failed = false; // an htmx request could not reach the server
  var uploading = false;
  var retryTimer = null;

  function gettext(text) { return window.gettext ? window.gettext(text) : text; }
  function ngettext(one, many, count) {
    return window.ngettext ? window.ngettext(one, many, count) : (count === 1 ? one : many);
  }
  function interpolate(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_match, name) { return String(values[name]); });
  }

  function storeKey(element) {
    return PREFIX + element.dataset.device + "." + element.dataset.cashier;
  }
  function load(element) {
    try {
      var queue = JSON.parse(window.localStorage.getItem(storeKey(element)) || "[]");
      return Array.isArray(queue) ? queue : [];
    } catch (error) {
      return [];
    }
  }
  function save(element, queue) {
    window.localStorage.setItem(storeKey(element), JSON.stringify(queue));
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function isOffline() { return failed || !navigator.onLine; }

  function receiptId(device) {
    var now = new Date();
    var stamp = now.toISOString().replace(/[-:TZ.]/g, "").slice(0, 14);
    var random = new Uint32Array(1);
    window.crypto.getRandomValues(random);
    return "OFF-" + device + "-" + stamp + "-" + random[0].toString(36);
  }

  // "1 500,50" or "1500.5" -> minor units (an integer), or null when it is no amount.
  function minorUnits(typed, digits) {
    var text = typed.replace(/[\s\u00a0\u202f]/g, "").replace(",", ".");
    var pattern = digits > 0 ? new RegExp("^(\\d{1,10})(?:\\.(\\d{0," + digits + "}))?$")
                             : /^(\d{1,12})$/;
    var match = pattern.exec(text);
    if (!match) { return null; }
    var fraction = (match[2] || "").padEnd(digits, "0");
    var value = parseInt(match[1] + fraction, 10);
    return value > 0 ? value : null;
  }

  function formatMoney(minor, currency, digits) {
    var lang = document.documentElement.lang || undefined;
    try {
      return new Intl.NumberFormat(lang, {style: "currency", currency: currency})
        .format(minor / Math.pow(10, digits));
    } catch (error) {
      return (minor / Math.pow(10, digits)).toFixed(digits) + " " + currency;
    }
  }

  // In the merchant's time zone, as the server shows times (the device's may differ).
  function formatTime(iso, zone) {
    var lang = document.documentElement.lang || undefined;
    var options = {dateStyle: "short", timeStyle: "short"};
    try {
      return new Intl.DateTimeFormat(lang, Object.assign({timeZone: zone}, options))
        .format(new Date(iso));
    } catch (error) { // a zone this browser does not know
      return new Intl.DateTimeFormat(lang, options).format(new Date(iso));
    }
  }

  // --- the counter's first screen ----------------------------------------------------------

  function render(section) {
    var queue = load(section);
    var list = section.querySelector("[data-offline-queue]");
    var template = section.querySelector("template[data-offline-row]");
    list.replaceChildren();
    queue.forEach(function (entry) {
      var row = template.content.firstElementChild.cloneNode(true);
      row.dataset.receipt = entry.receipt_id;
      row.querySelector('[data-field="member"]').textContent = entry.member;
      row.querySelector('[data-field="time"]').textContent =
        formatTime(entry.occurred_at, section.dataset.timezone);
      row.querySelector('[data-field="receipt"]').textContent = entry.receipt_id;
      row.querySelector('[data-field="amount"]').textContent =
        formatMoney(entry.amount, section.dataset.currency, Number(section.dataset.digits));
      var status = row.querySelector('[data-field="status"]');
      if (entry.refused) {
        status.textContent = interpolate(gettext("Not uploaded: %(reason)s"),
                                         {reason: entry.refused});
        row.classList.add("offline__row--refused");
        row.querySelector("[data-offline-fix]").hidden = false;
        row.querySelector("[data-offline-drop]").hidden = false;
      } else {
        status.textContent = gettext("Waiting to upload");
      }
      list.appendChild(row);
    });
    section.querySelector("[data-offline-queue-box]").hidden = queue.length === 0;
    section.querySelector("[data-offline-upload]").hidden = isOffline();
    var panel = section.querySelector("[data-offline-panel]");
    var wasHidden = panel.hidden;
    panel.hidden = !isOffline() && !section.querySelector("[data-offline-form]").dataset.fixing;
    if (wasHidden && !panel.hidden) {
      section.querySelector("#offline-member").focus();
    }
  }

  function showError(section, text) {
    var error = section.querySelector("[data-offline-error]");
    error.textContent = text;
    error.hidden = !text;
  }

  function keep(section, form) {
    if (form.elements.spend_points.checked) {
      showError(section, gettext("Paying with points needs the server. Sell with accrual only now, or wait for the network."));
      return;
    }
    var member = form.elements.member.value.trim();
    if (!member) {
      showError(section, gettext("Enter the member's phone or card number."));
      form.elements.member.focus();
      return;
    }
    var amount = minorUnits(form.elements.amount.value, Number(section.dataset.digits));
    if (amount === null) {
      showError(section, gettext("Enter the amount, more than zero."));
      form.elements.amount.focus();
      return;
    }
    var fixing = form.dataset.fixing ? JSON.parse(form.dataset.fixing) : null;
    var queue = load(section).filter(function (item) {
      return !fixing || item.receipt_id !== fixing.receipt_id;
    });
    queue.push({
      // A fixed sale keeps its receipt id and time: it is the same sale, never recorded yet.
      receipt_id: fixing ? fixing.receipt_id : receiptId(section.dataset.device),
      occurred_at: fixing ? fixing.occurred_at : new Date().toISOString(),
      member: member,
      amount: amount,
      payment_method: form.elements.payment_method.value
    });
    save(section, queue);
    delete form.dataset.fixing;
    form.reset();
    showError(section, "");
    render(section);
    form.elements.member.focus();
    if (!isOffline()) { upload(); }
  }

  function drop(section, receipt) {
    save(section, load(section).filter(function (item) { return item.receipt_id !== receipt; }));
  }

  // A refused sale back in the form; kept in the queue until it is kept again or dropped.
  function fix(section, receipt) {
    var entry = load(section).filter(function (item) { return item.receipt_id === receipt; })[0];
    if (!entry) { return; }
    var form = section.querySelector("[data-offline-form]");
    form.dataset.fixing = JSON.stringify({receipt_id: entry.receipt_id,
                                          occurred_at: entry.occurred_at});
    form.elements.member.value = entry.member;
    var digits = Number(section.dataset.digits);
    form.elements.amount.value = (entry.amount / Math.pow(10, digits)).toFixed(digits);
    form.elements.payment_method.value = entry.payment_method;
    render(section);
    form.elements.member.focus();
  }

  // --- the upload ----------------------------------------------------------------------------

  function counterSection() {
    return document.querySelector("[data-offline]") ||
           document.querySelector("[data-offline-waiting]");
  }

  function upload() {
    var holder = counterSection();
    if (!holder || uploading) { return; }
    if (!navigator.onLine) { refresh(document.querySelector("[data-offline]")); return; }
    var section = document.querySelector("[data-offline]");
    var url = holder.dataset.uploadUrl;
    var queue = load(holder).filter(function (entry) { return !entry.refused; });
    uploading = true;
    // An empty upload is the cheapest question "is the server back?".
    window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify({sales: queue.map(function (entry) {
        return {receipt_id: entry.receipt_id, occurred_at: entry.occurred_at,
                member: entry.member, amount: entry.amount,
                payment_method: entry.payment_method};
      })})
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (!response.ok || response.redirected || type.indexOf("application/json") !== 0) {
        throw new Error("upload answered " + response.status);
      }
      return response.json();
    }).then(function (answer) {
      failed = false;
      var results = {};
      answer.results.forEach(function (result) { results[result.receipt_id] = result; });
      var done = 0;
      var kept = load(holder).filter(function (entry) {
        var result = results[entry.receipt_id];
        if (result && result.status === "done") { done += 1; return false; }
        if (result && result.status === "refused") { entry.refused = result.reason; }
        return true;
      });
      save(holder, kept);
      if (done) {
        announce(interpolate(ngettext("%(count)s sale kept offline was uploaded.",
                                      "%(count)s sales kept offline were uploaded.", done),
                             {count: done}));
      }
    }).catch(function () {
      // Still no server (or no session): keep everything, try again later.
    }).then(function () {
      uploading = false;
      refresh(section);
    });
  }

  function announce(text) {
    var region = document.getElementById("toasts");
    var template = document.getElementById("toast-template");
    if (!region || !template) { return; }
    var toast = template.content.firstElementChild.cloneNode(true);
    toast.className = "toast toast--success";
    toast.setAttribute("role", "status");
    toast.querySelector(".toast__text").textContent = text;
    region.appendChild(toast);
  }

  function refresh(section) {
    if (section) { render(section); }
    var waiting = document.querySelector("[data-offline-waiting]");
    if (waiting) {
      var count = load(waiting).length;
      waiting.textContent = interpolate(ngettext(
        "%(count)s sale kept on this device is waiting to upload; it joins the shift when uploaded.",
        "%(count)s sales kept on this device are waiting to upload; they join the shift when uploaded.",
        count), {count: count});
      waiting.hidden = count === 0;
    }
    var holder = counterSection();
    var pending = holder && load(holder).some(function (entry) { return !entry.refused; });
    clearTimeout(retryTimer);
    if (holder && (failed || pending)) {
      retryTimer = setTimeout(upload, RETRY_MS);
    }
  }

  function goneOffline() {
    var section = document.querySelector("[data-offline]");
    refresh(section);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var section = document.querySelector("[data-offline]");
    if (section) {
      section.querySelector("[data-offline-form]").addEventListener("submit", function (event) {
        event.preventDefault();
        keep(section, event.target);
      });
      section.querySelector("[data-offline-spend]").addEventListener("change", function (event) {
        showError(section, event.target.checked ? gettext("Paying with points needs the server. Sell with accrual only now, or wait for the network.") : "");
      });
      section.querySelector("[data-offline-upload]").addEventListener("click", upload);
      section.querySelector("[data-offline-queue]").addEventListener("click", function (event) {
        var button = event.target.closest("button");
        var row = event.target.closest("[data-receipt]");
        if (!button || !row) { return; }
        if (button.hasAttribute("data-offline-drop")) {
          drop(section, row.dataset.receipt);
          refresh(section);
        } else if (button.hasAttribute("data-offline-fix")) {
          fix(section, row.dataset.receipt);
        }
      });
    }
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
    refresh(section);
    if (navigator.onLine && counterSection() && load(counterSection()).length) { upload(); }
  });

  window.addEventListener("offline", goneOffline);
  window.addEventListener("online", function () { failed = false; upload(); });
  document.addEventListener("htmx:sendError", function () { failed = true; goneOffline(); });
  document.addEventListener("htmx:timeout", function () { failed = true; goneOffline(); });
}());
