/* The cashier workplace: sale (see kopilka/web/cashier/views/sales.py).
 *
 * - "Max" puts the most the member may pay with points on this check into the points field.
 *   The figure comes from the live quote ([data-max-points] in #quote, drawn by the server).
 *   A cashier who types the amount and presses Max at once is ahead of the quote (it waits
 *   300 ms for the typing to stop): the button then waits for that quote. The changed points
 *   field asks for a new quote like typing does.
 * - Keys typed before the scripts ran (the amount is focused at once) still get their quote.
 * - The one-time code field shows only while points are to be spent (without this script it
 *   is always shown).
 */
(function () {
  "use strict";

  var typedAt = 0;     // the last change of the form
  var quotedFor = 0;   // when the quote on screen was asked for
  var sentAt = 0;      // when the quote on its way was asked for
  var wantMax = false; // Max was pressed before the quote caught up

  function pointsInput() { return document.getElementById("id_points"); }
  function inSaleForm(element) { return element instanceof Element && element.closest("#sale-form"); }

  function showCodeField() {
    var field = document.querySelector("[data-code-field]");
    var input = pointsInput();
    if (!field || !input) { return; }
    field.hidden = !(/[1-9]/.test(input.value) || field.querySelector('[aria-invalid="true"]'));
  }

  function applyMax() {
    var input = pointsInput();
    var quote = document.querySelector("#quote [data-max-points]");
    if (!input || !quote) { return false; }
    input.value = quote.getAttribute("data-max-points");
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
    return true;
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element) || !target.closest("[data-points-max]")) { return; }
    if (quotedFor < typedAt) { wantMax = true; return; }
    if (!applyMax()) { // no quote: the amount comes first
      var amount = document.getElementById("id_amount");
      if (amount) { amount.focus(); }
    }
  });

  document.addEventListener("input", function (event) {
    if (!inSaleForm(event.target)) { return; }
    typedAt = performance.now();
    if (event.target === pointsInput()) { showCodeField(); }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt && event.detail.elt.id === "quote") { sentAt = performance.now(); }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.elt && event.detail.elt.id === "quote") {
      quotedFor = sentAt;
      if (wantMax && quotedFor >= typedAt) { wantMax = false; applyMax(); }
    }
    showCodeField();
  });

  // The amount field has the focus as soon as it is drawn, before the deferred scripts run: keys
  // typed in that moment reach the field but no listener. Once htmx is listening (it set up on
  // this same event, its script came first), what was typed asks for its quote.
  document.addEventListener("DOMContentLoaded", function () {
    showCodeField();
    var amount = document.getElementById("id_amount");
    if (amount && amount.value && !document.querySelector("#quote [data-max-points]")) {
      amount.dispatchEvent(new Event("input", { bubbles: true }));
    }
  });
}());
