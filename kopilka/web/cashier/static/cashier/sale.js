/* The cashier workplace: sale (see kopilka/web/cashier/views/sales.py).
 *
 * - "Max" puts the most the member may pay with points on this check into the points field.
 *   The figure comes from the live quote ([data-max-points] in #quote, drawn by the server);
 *   the changed field asks for a new quote like typing does.
 * - The one-time code field shows only while points are to be spent (without this script it
 *   is always shown).
 */
(function () {
  "use strict";

  function pointsInput() { return document.getElementById("id_points"); }

  function showCodeField() {
    var field = document.querySelector("[data-code-field]");
    var input = pointsInput();
    if (!field || !input) { return; }
    var wanted = /[1-9]/.test(input.value) || field.querySelector('[aria-invalid="true"]');
    field.hidden = !wanted;
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element) || !target.closest("[data-points-max]")) { return; }
    var input = pointsInput();
    var quote = document.querySelector("#quote [data-max-points]");
    if (!input) { return; }
    if (!quote) { // no quote yet: the amount comes first
      var amount = document.getElementById("id_amount");
      if (amount) { amount.focus(); }
      return;
    }
    input.value = quote.getAttribute("data-max-points");
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
  });

  document.addEventListener("input", function (event) {
    if (event.target === pointsInput()) { showCodeField(); }
  });
  document.addEventListener("htmx:afterSettle", showCodeField);
  document.addEventListener("DOMContentLoaded", showCodeField);
}());
