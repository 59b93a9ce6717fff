/* The wallet's code page: "Scan with camera" reads a code's QR (the link under the cap or the
 * bare code) with Kopilka.cameraPanel (web/barcode.js), puts it in the field and sends the
 * form. The camera stops when a code is read, on "Stop" and when the page goes away. */
(function () {
  "use strict";

  var camera = window.Kopilka.cameraPanel({
    formats: ["qr_code"],
    every: 200,
    found: function (text) {
      var field = document.querySelector("[data-code-field]");
      if (!field) { return; }
      field.value = text;
      field.form.requestSubmit();
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    if (target.closest("[data-camera-open]")) { camera.start(); return; }
    if (target.closest("[data-camera-close]")) { camera.stop(); }
  });
  document.addEventListener("htmx:beforeSwap", camera.stop);
}());
