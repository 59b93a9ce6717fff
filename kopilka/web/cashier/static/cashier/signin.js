/* The cashier workplace's sign-in (kopilka/web/cashier/views/signin.py).
 *
 * - The PIN pad ([data-pinpad]): its keys and digits typed anywhere on the page go into the PIN
 *   field, Backspace erases, Enter submits. On a touch screen the field is not focused, so the
 *   phone's own keyboard does not cover the pad; with a mouse it is, and typing just works.
 * - The idle lock (form[data-idle-lock] in the header while a cashier is switched in): after
 *   that many seconds without a tap or a key, the form is submitted and the counter asks who is
 *   there (the server switches an idle cashier out after the same time too).
 */
(function () {
  "use strict";

  function pinField(pad) { return pad.querySelector("input[name=pin]"); }

  function type(pad, digit) {
    var field = pinField(pad);
    var longest = parseInt(field.getAttribute("maxlength"), 10) || 6;
    if (field.value.length < longest) { field.value += digit; }
  }

  function erase(pad) {
    var field = pinField(pad);
    field.value = field.value.slice(0, -1);
  }

  document.addEventListener("click", function (event) {
    var key = event.target instanceof Element && event.target.closest("[data-digit], [data-erase]");
    if (!key) { return; }
    var pad = key.closest("[data-pinpad]");
    if (!pad) { return; }
    if (key.hasAttribute("data-erase")) { erase(pad); } else { type(pad, key.getAttribute("data-digit")); }
  });

  document.addEventListener("keydown", function (event) {
    var pad = document.querySelector("[data-pinpad]");
    var target = event.target;
    if (!pad || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (target instanceof Element) {
      // A field (the PIN's own) types by itself; a control outside the pad keeps its keys.
      if (target.closest("input, textarea, select")) { return; }
      if (target.closest("button, a") && !pad.contains(target)) { return; }
    }
    if (/^[0-9]$/.test(event.key)) {
      type(pad, event.key);
    } else if (event.key === "Backspace") {
      erase(pad);
    } else if (event.key === "Enter") {
      pad.requestSubmit();
    } else {
      return;
    }
    event.preventDefault();
  });

  function startPad() {
    var pad = document.querySelector("[data-pinpad]");
    if (pad && window.matchMedia("(pointer: fine)").matches) { pinField(pad).focus(); }
  }

  function startIdleLock() {
    var form = document.querySelector("form[data-idle-lock]");
    if (!form) { return; }
    var seconds = parseInt(form.getAttribute("data-idle-lock"), 10);
    if (!(seconds > 0)) { return; }
    var timer = null;
    function restart() {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { form.submit(); }, seconds * 1000);
    }
    ["pointerdown", "keydown", "input"].forEach(function (name) {
      document.addEventListener(name, restart, { passive: true });
    });
    restart();
  }

  document.addEventListener("DOMContentLoaded", function () {
    startPad();
    startIdleLock();
  });
}());
