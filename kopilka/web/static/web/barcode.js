/* Barcode and QR detection for the faces that scan (docs/web.md, "Scanning").
 *
 * Load it after the vendored ponyfill, telling it where our copy of the ZXing WebAssembly is:
 *   <script src="{% static 'vendor/barcode-detector/ponyfill.js' %}" defer></script>
 *   <script src="{% static 'web/barcode.js' %}" data-wasm="{% static 'vendor/zxing-wasm/zxing_reader.wasm' %}" defer></script>
 * Without that the ponyfill fetches the file from a CDN, and scanning fails offline and under
 * our Content-Security-Policy. Compiling WebAssembly needs 'wasm-unsafe-eval' in the page's
 * script-src: give the scanning views that with django.views.decorators.csp.csp_override.
 *
 * Kopilka.barcodeDetector(["qr_code", "ean_13"]) resolves to the browser's own BarcodeDetector
 * when it reads all those formats (Chrome on Android, Safari), else to the ZXing one.
 *
 * Kopilka.cameraPanel({formats, every, found}) runs the page's camera panel: the element
 * [data-camera] with [data-camera-video], [data-camera-status] and [data-camera-error] inside,
 * opened by a click on [data-camera-open] and closed by [data-camera-close]. It reads every
 * `every` ms until a code is found, then stops the camera and calls found(text) with the
 * code's control characters dropped. It returns {start, stop}; the camera also stops when
 * the page goes away.
 */
(function () {
  "use strict";

  // Defined before the detector's set-up below, so a page whose detector failed to load still
  // has a panel that says the camera is unavailable.
  window.Kopilka = window.Kopilka || {};
  window.Kopilka.cameraPanel = function (options) {
    var stream = null;
    var timer = null;

    function panel() { return document.querySelector("[data-camera]"); }

    function stop() {
      if (timer) { window.clearTimeout(timer); timer = null; }
      if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); stream = null; }
      var box = panel();
      if (box) {
        box.hidden = true;
        box.querySelector("[data-camera-video]").srcObject = null;
      }
    }

    function scanLoop(detector, video) {
      timer = window.setTimeout(function () {
        if (!stream) { return; }
        if (video.readyState < 2) { scanLoop(detector, video); return; }
        detector.detect(video).then(function (codes) {
          if (codes.length && codes[0].rawValue) {
            stop();
            options.found(codes[0].rawValue.replace(/[\u0000-\u001f\u007f-\u009f]/g, "").trim());
          } else {
            scanLoop(detector, video);
          }
        }, function () { scanLoop(detector, video); });
      }, options.every);
    }

    function showError(box) {
      stop();
      box.hidden = false;
      box.querySelector("[data-camera-video]").hidden = true;
      box.querySelector("[data-camera-status]").hidden = true;
      box.querySelector("[data-camera-error]").hidden = false;
    }

    function start() {
      var box = panel();
      if (!box || stream) { return; }
      var video = box.querySelector("[data-camera-video]");
      box.hidden = false;
      video.hidden = false;
      box.querySelector("[data-camera-status]").hidden = false;
      box.querySelector("[data-camera-error]").hidden = true;
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia ||
          !window.Kopilka.barcodeDetector) {
        showError(box);
        return;
      }
      Promise.all([
        navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }),
        window.Kopilka.barcodeDetector(options.formats)
      ]).then(function (results) {
        stream = results[0];
        video.srcObject = stream;
        var playing = video.play();
        if (playing && playing.catch) { playing.catch(function () {}); }
        scanLoop(results[1], video);
      }, function () { showError(box); });
    }

    window.addEventListener("pagehide", stop);
    return { start: start, stop: stop };
  };

  var script = document.currentScript;
  var wasmUrl = script && script.getAttribute("data-wasm");
  var api = window.BarcodeDetectionAPI;
  if (!api || !wasmUrl) {
    throw new Error("barcode.js needs vendor/barcode-detector/ponyfill.js first and a data-wasm URL");
  }
  api.prepareZXingModule({
    overrides: {
      locateFile: function (path, prefix) {
        return path.slice(-5) === ".wasm" ? wasmUrl : prefix + path;
      }
    },
    fireImmediately: false
  });

  function nativeReads(formats) {
    if (!("BarcodeDetector" in window) || !window.BarcodeDetector.getSupportedFormats) {
      return Promise.resolve(false);
    }
    return window.BarcodeDetector.getSupportedFormats().then(function (supported) {
      return formats.every(function (format) { return supported.indexOf(format) !== -1; });
    }, function () { return false; });
  }

  window.Kopilka.barcodeDetector = function (formats) {
    return nativeReads(formats).then(function (native) {
      var Detector = native ? window.BarcodeDetector : api.BarcodeDetector;
      return new Detector({ formats: formats });
    });
  };
}());
