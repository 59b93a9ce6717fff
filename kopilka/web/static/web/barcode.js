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
 */
(function () {
  "use strict";

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

  window.Kopilka = window.Kopilka || {};
  window.Kopilka.barcodeDetector = function (formats) {
    return nativeReads(formats).then(function (native) {
      var Detector = native ? window.BarcodeDetector : api.BarcodeDetector;
      return new Detector({ formats: formats });
    });
  };
}());
