/* Kopilka's page behaviour for every face (docs/web.md, "htmx rules"). No inline script
 * anywhere: the Content-Security-Policy allows scripts from this site only.
 *
 * - htmx requests that change something carry the CSRF token (from <meta name="csrf-token">).
 * - Status 422 is a form with its errors: it is swapped into the request's target like a 200,
 *   and the first invalid field gets the focus.
 * - Any other 4xx/5xx, a network failure or a time-out swaps nothing and shows a message. The
 *   message is the server's own when the response has an element with [data-toast] (a domain
 *   error in the user's language), else a general one for the status from the JS catalogue.
 * - A field marked invalid drops its error as soon as the user edits it.
 * - Toasts close with their button; <dialog>s open from [data-dialog-open="id"] and close from
 *   [data-dialog-close].
 */
(function () {
  "use strict";

  function gettext(text) { // the catalogue (/jsi18n/) loads before this file; be safe anyway
    return window.gettext ? window.gettext(text) : text;
  }
  var MAX_TOASTS = 3;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function showToast(text, tone) {
    var region = document.getElementById("toasts");
    var template = document.getElementById("toast-template");
    if (!region || !template) { return; }
    var toast = template.content.firstElementChild.cloneNode(true);
    toast.className = "toast toast--" + (tone || "error");
    toast.querySelector(".toast__text").textContent = text;
    region.appendChild(toast);
    while (region.children.length > MAX_TOASTS) { region.removeChild(region.firstElementChild); }
  }

  function generalMessage(status) {
    if (status === 0) { return gettext("No connection to the server. Check the network and try again."); }
    if (status === 403) { return gettext("You may not do this."); }
    if (status === 404) { return gettext("Not found. It may have been removed."); }
    if (status === 409) { return gettext("This was changed meanwhile. Reload the page and try again."); }
    if (status === 429) { return gettext("Too many attempts. Wait a minute and try again."); }
    if (status >= 500) { return gettext("Something went wrong on the server. Try again in a minute."); }
    return gettext("The request failed. Try again.");
  }

  function serverMessage(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (type.indexOf("text/html") !== 0 || !xhr.responseText) { return ""; }
    // Parsed, never inserted: only the element's text is shown.
    var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
    var element = doc.querySelector("[data-toast]");
    return element ? element.textContent.trim() : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get") {
      event.detail.headers["X-CSRFToken"] = csrfToken();
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else if (xhr.status >= 400) {
      event.detail.shouldSwap = false;
      event.detail.isError = false; // handled here; htmx need not log it as well
      showToast(serverMessage(xhr) || generalMessage(xhr.status), "error");
    }
  });

  // After a form came back with errors, the first wrong field gets the focus: the keyboard user
  // (a cashier) corrects it at once, and a screen reader reads its error.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 422) {
      var invalid = document.querySelector('[aria-invalid="true"]');
      if (invalid) { invalid.focus(); }
    }
  });

  // A field the server marked wrong stops saying so once the user changes it: a live form (the
  // sale's quote) doesn't re-render its fields, and a stale error beside a corrected value
  // misleads. The server checks again on submit.
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!(input instanceof Element) || input.getAttribute("aria-invalid") !== "true") { return; }
    input.removeAttribute("aria-invalid");
    var field = input.closest(".field");
    if (!field) { return; }
    field.classList.remove("field--error");
    var errors = field.querySelector(".errorlist");
    if (errors) { errors.remove(); }
  });

  document.addEventListener("htmx:sendError", function () { showToast(generalMessage(0), "error"); });
  document.addEventListener("htmx:timeout", function () { showToast(generalMessage(0), "error"); });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    var close = target.closest('[data-dismiss="toast"]');
    if (close) { close.closest(".toast").remove(); return; }
    var opener = target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      if (dialog && dialog.showModal) { event.preventDefault(); dialog.showModal(); }
      return;
    }
    var closer = target.closest("[data-dialog-close]");
    if (closer) { closer.closest("dialog").close(); }
  });
}());
