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
    # Chart.js 4's UMD build (global `Chart`) for the cabinet's analytics; it needs no eval.
    "chart.js": ("chartjs", [("dist/chart.umd.min.js", "chart.umd.min.js")]),
}
LICENCE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "license", "license-mit")
# Packages compiled into a vendored file: their licences travel with it.
BUNDLED = {"@alpinejs/csp": ["@vue/reactivity", "@vue/shared"], "chart.js": ["@kurkle/color"]}
# The MIT licence's standard text, for a package that names MIT but ships no licence file
# (@alpinejs/csp): its notice must still travel with the copy.
MIT = """MIT License

Copyright (c) {holder}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def npm(args: list[str], cwd: Path) -> None:
    command = ["npm", *args, "--ignore-scripts", "--no-audit", "--no-fund"]
    print("vendor:", " ".join(command), file=sys.stderr)
    subprocess.run(command, cwd=cwd, check=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(modules: Path, package: str) -> dict:
    return json.loads((modules / package / "package.json").read_text())


def copy_licence(modules: Path, package: str, target: Path) -> None:
    """The package's licence text to `target`; the MIT text with its author when it has none."""
    source = modules / package
    found = next((n for n in LICENCE_NAMES if (source / n).is_file()), None)
    if found:
        shutil.copy(source / found, target)
        return
    meta = manifest(modules, package)
    if meta.get("license") != "MIT":
        raise SystemExit(f"{package} ships no licence file and is not MIT: check it by hand")
    author = meta.get("author", "")
    author = author.get("name", "") if isinstance(author, dict) else author
    target.write_text(MIT.format(holder=f"{author} and contributors ({package})"))


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
        modules = work / "node_modules"
        record = {}
        for package, (directory, files) in FILES.items():
            meta = manifest(modules, package)
            target = VENDOR / directory
            target.mkdir()
            copied = {}
            for inside, name in files:
                shutil.copy(modules / package / inside, target / name)
                copied[f"{directory}/{name}"] = sha256(target / name)
            copy_licence(modules, package, target / "LICENSE")
            bundled = {}
            for inner in BUNDLED.get(package, []):
                licence = f"LICENSE.{inner.replace('/', '-').lstrip('@')}"
                copy_licence(modules, inner, target / licence)
                inner_meta = manifest(modules, inner)
                bundled[inner] = {"version": inner_meta["version"],
                                  "license": inner_meta["license"],
                                  "license_file": f"{directory}/{licence}"}
            record[package] = {
                "version": meta["version"],
                "license": meta["license"],
                "license_file": f"{directory}/LICENSE",
                "homepage": meta.get("homepage", ""),
                "files": copied,
                "bundles": bundled,
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
