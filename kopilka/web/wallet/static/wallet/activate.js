/* The wallet's code page: "Scan with camera" reads a code's QR (the link under the cap or the
 * bare code) with Kopilka.barcodeDetector (web/barcode.js), puts it in the field and sends the
 * form. The camera stops when a code is read, on "Stop" and when the page goes away. */
(function () {
  "use strict";

  var SCAN_EVERY_MS = 200;
  var stream = null;
  var timer = null;

  function panel() { return document.querySelector("[data-camera]"); }

  function stopCamera() {
    if (timer) { window.clearTimeout(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); stream = null; }
    var box = panel();
    if (box) {
      box.hidden = true;
      box.querySelector("[data-camera-video]").srcObject = null;
    }
  }

  function found(text) {
    stopCamera();
    var field = document.querySelector("[data-code-field]");
    if (!field) { return; }
    field.value = text.replace(/[\x00-\x1f\x7f-\x9f]/g, "").trim();
    field.form.requestSubmit();
  }

  function scanLoop(detector, video) {
    timer = window.setTimeout(function () {
      if (!stream) { return; }
      if (video.readyState < 2) { scanLoop(detector, video); return; }
      detector.detect(video).then(function (codes) {
        if (codes.length && codes[0].rawValue) { found(codes[0].rawValue); } else { scanLoop(detector, video); }
      }, function () { scanLoop(detector, video); });
    }, SCAN_EVERY_MS);
  }

  function showError(box) {
    stopCamera();
    box.hidden = false;
    box.querySelector("[data-camera-video]").hidden = true;
    box.querySelector("[data-camera-status]").hidden = true;
    box.querySelector("[data-camera-error]").hidden = false;
  }

  function startCamera() {
    var box = panel();
    if (!box || stream) { return; }
    var video = box.querySelector("[data-camera-video]");
    box.hidden = false;
    video.hidden = false;
    box.querySelector("[data-camera-status]").hidden = false;
    box.querySelector("[data-camera-error]").hidden = true;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.Kopilka ||
        !window.Kopilka.barcodeDetector) {
      showError(box);
      return;
    }
    Promise.all([
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }),
      window.Kopilka.barcodeDetector(["qr_code"])
    ]).then(function (results) {
      stream = results[0];
      video.srcObject = stream;
      var playing = video.play();
      if (playing && playing.catch) { playing.catch(function () {}); }
      scanLoop(results[1], video);
    }, function () { showError(box); });
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    if (target.closest("[data-camera-open]")) { startCamera(); return; }
    if (target.closest("[data-camera-close]")) { stopCamera(); }
  });
  document.addEventListener("htmx:beforeSwap", stopCamera);
  window.addEventListener("pagehide", stopCamera);
}());
