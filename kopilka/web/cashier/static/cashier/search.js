/* The cashier workplace: the counter's search field and the camera scanner
 * (kopilka/web/cashier/views/members.py, templates/cashier/home.html).
 *
 * - One field takes a typed phone, a card number or what a USB scanner "types": the field gets
 *   the focus back after every swap and after a click on anything that is not another field,
 *   so a scan is never lost; control characters a scanner sends (STX, Tab, GS...) are dropped,
 *   and its Enter submits the search.
 * - A field marked data-scan-field (a card number in a form) takes a scanner's Enter as "next
 *   field", not as submitting the form half filled (in the form's last field Enter submits).
 * - Enter in the empty search field, with a member's card on screen, is "Sell" to that member:
 *   after a scan the field is empty again, so the sale is one key away. A scan always brings
 *   characters before its Enter, so it still searches.
 * - "Scan with camera" reads a QR code or a card's barcode with Kopilka.cameraPanel
 *   (web/barcode.js) and searches for it.
 */
(function () {
  "use strict";

  var CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
  var FIELDS = "input, select, textarea, [contenteditable]";
  var SCAN_EVERY_MS = 150;

  function searchField() { return document.querySelector("[data-search-field]"); }

  function focusSearch(select) {
    var field = searchField();
    if (!field) { return; }
    if (document.activeElement !== field) { field.focus({ preventScroll: true }); }
    if (select) { field.select(); }
  }

  function inOtherField() {
    var active = document.activeElement;
    return active && active !== searchField() && active.matches(FIELDS) && !active.disabled;
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!document.querySelector("[autofocus]") && !inOtherField()) { focusSearch(false); }
  });

  document.addEventListener("input", function (event) {
    var field = event.target;
    if (!(field instanceof HTMLInputElement)) { return; }
    if (!field.matches("[data-search-field], [data-scan-field]")) { return; }
    var clean = field.value.replace(CONTROL, "");
    if (clean !== field.value) { field.value = clean; }
  });

  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key === "Enter" && field === searchField() && field.value.trim() === "") {
      event.preventDefault(); // an empty search asks the server nothing
      var sell = document.querySelector("#result [data-sell]");
      if (sell) { sell.click(); }
      return;
    }
    if (event.key !== "Enter" || !(field instanceof HTMLInputElement) || !field.matches("[data-scan-field]")) {
      return;
    }
    var fields = Array.prototype.slice.call(field.form ? field.form.querySelectorAll(FIELDS) : []);
    var next = fields[fields.indexOf(field) + 1];
    if (next) { event.preventDefault(); next.focus(); } // the last field: Enter submits
  });

  // A click on the page (a label, the card, empty space) gives the focus back to the search.
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element) || !searchField()) { return; }
    if (target.closest(FIELDS + ", label, button, a, dialog, [data-camera]")) { return; }
    if (window.getSelection && String(window.getSelection())) { return; } // copying text
    window.setTimeout(function () { if (!inOtherField()) { focusSearch(false); } }, 0);
  });

  // After the search found someone, the field is cleared for the next customer; after "not
  // found", what was typed stays selected so the cashier can correct it or scan over it.
  // What the last search asked for: typing that began meanwhile is not wiped by its answer.
  var searched = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var field = searchField();
    if (field && event.detail.elt === field.form) { searched = field.value; }
  });

  document.addEventListener("htmx:afterSettle", function () {
    var field = searchField();
    var result = document.getElementById("result");
    if (!field || !result || inOtherField()) { return; }
    if (result.querySelector("[autofocus], [aria-invalid='true']")) {
      return; // a form that wants its own field
    }
    var unchanged = searched === null || field.value === searched;
    searched = null;
    if (!unchanged) { focusSearch(false); return; } // the cashier is typing the next one
    if (result.querySelector("[data-member]")) { field.value = ""; }
    focusSearch(true);
  });

  // --- the camera ---------------------------------------------------------------------------

  // Made on first use: web/barcode.js comes with the pages that scan, after this file. Without
  // it the search still works; only the camera does nothing.
  var panel = null;
  function camera() {
    if (!panel && window.Kopilka && window.Kopilka.cameraPanel) {
      panel = window.Kopilka.cameraPanel({
        formats: ["qr_code", "ean_13", "ean_8", "code_128", "code_39", "upc_a"],
        every: SCAN_EVERY_MS,
        found: function (text) {
          var field = searchField();
          field.value = text;
          focusSearch(false);
          field.form.requestSubmit();
        }
      });
    }
    return panel || { start: function () {}, stop: function () {} };
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    if (target.closest("[data-camera-open]")) { camera().start(); return; }
    if (target.closest("[data-camera-close]")) { camera().stop(); focusSearch(false); }
  });

  // Leaving the page (or htmx replacing the panel) must not leave the camera on.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.querySelector &&
        event.detail.target.querySelector("[data-camera]")) { camera().stop(); }
  });
}());
