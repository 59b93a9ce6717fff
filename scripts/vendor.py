#!/usr/bin/env python3
"""Refresh the front-end files Kopilka serves from kopilka/web/static/vendor/.

    python3 scripts/vendor.py          # npm ci from package-lock.json, copy the dist files
    python3 scripts/vendor.py --lock   # first re-resolve package.json into package-lock.json

The packages are installed with `npm ci --ignore-scripts` into a temporary directory (no
node_modules in the work tree, no install scripts run), then the few files the browser needs are
copied with their licence texts, and VENDORED.json records each package's version, licence and
the SHA-256 of every copied file. The copies are committed, so running Kopilka needs no npm;
tests/web/test_vendored.py checks the record against the files and the lockfile.

To change a version: edit package.json (exact versions only), run with --lock, commit
package.json, package-lock.json and kopilka/web/static/vendor/ together.
"""

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "kopilka" / "web" / "static" / "vendor"

# package -> (directory under vendor/, [(file in the package, name under that directory)]).
# htmx stays on 2.0.x: npm's `latest` is htmx 4, which changes defaults (docs/web.md).
FILES = {
    "htmx.org": ("htmx", [("dist/htmx.min.js", "htmx.min.js")]),
    # Alpine's CSP build: evaluates no strings, so it runs under a policy without 'unsafe-eval'.
    "@alpinejs/csp": ("alpinejs-csp", [("dist/cdn.min.js", "alpine-csp.min.js")]),
    # The standard BarcodeDetector API as a ponyfill (global `BarcodeDetectionAPI`)...
    "barcode-detector": ("barcode-detector", [("dist/iife/ponyfill.js", "ponyfill.js")]),
    # ...and the ZXing-C++ WebAssembly it runs, which static/web/barcode.js points it at
    # (by default it would fetch the file from a CDN).
    "zxing-wasm": ("zxing-wasm", [("dist/reader/zxing_reader.wasm", "zxing_reader.wasm")]),
}
LICENCE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "license", "license-mit")


def npm(args: list[str], cwd: Path) -> None:
    command = ["npm", *args, "--ignore-scripts", "--no-audit", "--no-fund"]
    print("vendor:", " ".join(command), file=sys.stderr)
    subprocess.run(command, cwd=cwd, check=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vendor(lock: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="kopilka-vendor-") as tmp:
        work = Path(tmp)
        shutil.copy(ROOT / "package.json", work)
        if lock:
            npm(["install", "--package-lock-only"], work)
            shutil.copy(work / "package-lock.json", ROOT / "package-lock.json")
        else:
            shutil.copy(ROOT / "package-lock.json", work)
        npm(["ci"], work)

        shutil.rmtree(VENDOR, ignore_errors=True)
        VENDOR.mkdir(parents=True)
        record = {}
        for package, (directory, files) in FILES.items():
            source = work / "node_modules" / package
            manifest = json.loads((source / "package.json").read_text())
            target = VENDOR / directory
            target.mkdir()
            copied = {}
            for inside, name in files:
                shutil.copy(source / inside, target / name)
                copied[f"{directory}/{name}"] = sha256(target / name)
            licence_file = next((n for n in LICENCE_NAMES if (source / n).is_file()), None)
            if licence_file:
                shutil.copy(source / licence_file, target / "LICENSE")
            record[package] = {
                "version": manifest["version"],
                "license": manifest["license"],
                # Alpine's CSP package ships no licence text; its package.json names MIT.
                "license_file": f"{directory}/LICENSE" if licence_file else None,
                "homepage": manifest.get("homepage", ""),
                "files": copied,
            }
    (VENDOR / "VENDORED.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lock", action="store_true",
                        help="re-resolve package.json into package-lock.json first")
    record = vendor(parser.parse_args().lock)
    for package, entry in record.items():
        print(f"{package} {entry['version']} ({entry['license']}): {', '.join(entry['files'])}")


if __name__ == "__main__":
    main()
