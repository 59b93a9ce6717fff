"""The vendored front-end files are the ones package-lock.json names, byte for byte as
scripts/vendor.py recorded them, and nothing else is served from static/vendor/."""

import hashlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "kopilka" / "web" / "static" / "vendor"
RECORD = json.loads((VENDOR / "VENDORED.json").read_text())
LOCK = json.loads((ROOT / "package-lock.json").read_text())
MANIFEST = json.loads((ROOT / "package.json").read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_direct_dependency_is_pinned_exactly_and_vendored():
    for name, version in MANIFEST["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name}: pin an exact version"
        assert RECORD[name]["version"] == version


@pytest.mark.parametrize("package", sorted(RECORD))
def test_recorded_version_is_the_locked_one(package):
    assert RECORD[package]["version"] == LOCK["packages"][f"node_modules/{package}"]["version"]
    assert LOCK["packages"][f"node_modules/{package}"]["integrity"].startswith("sha512-")


@pytest.mark.parametrize("package", sorted(RECORD))
def test_recorded_files_are_the_files_on_disk(package):
    entry = RECORD[package]
    assert entry["files"]
    for name, digest in entry["files"].items():
        assert sha256(VENDOR / name) == digest, f"{name} changed since scripts/vendor.py ran"
    assert entry["license"] in {"0BSD", "MIT"}  # what docs/web.md promises
    assert (VENDOR / entry["license_file"]).read_text().strip()
    for inner, bundled in entry["bundles"].items():  # compiled into the file: licence too
        assert bundled["version"] == LOCK["packages"][f"node_modules/{inner}"]["version"]
        assert bundled["license"] == "MIT"
        assert (VENDOR / bundled["license_file"]).read_text().startswith("The MIT License")


def test_nothing_unrecorded_is_served():
    recorded = {"VENDORED.json"}
    for entry in RECORD.values():
        recorded |= set(entry["files"]) | {entry["license_file"]}
        recorded |= {bundled["license_file"] for bundled in entry["bundles"].values()}
    on_disk = {str(path.relative_to(VENDOR)) for path in VENDOR.rglob("*") if path.is_file()}
    assert on_disk == recorded


def test_the_files_carry_the_recorded_versions():
    htmx = (VENDOR / "htmx/htmx.min.js").read_text()
    assert f'version:"{RECORD["htmx.org"]["version"]}"' in htmx
    assert RECORD["htmx.org"]["version"].startswith("2.0.")  # npm's latest is htmx 4: not that
    alpine = (VENDOR / "alpinejs-csp/alpine-csp.min.js").read_text()
    assert f'version:"{RECORD["@alpinejs/csp"]["version"]}"' in alpine
    assert RECORD["@alpinejs/csp"]["version"].startswith("3.")


def test_the_ponyfill_expects_exactly_the_vendored_webassembly():
    ponyfill = (VENDOR / "barcode-detector/ponyfill.js").read_text()
    wasm_sha = re.search(r"ZXING_WASM_SHA256=(\w+)", ponyfill).group(1)
    wasm_version = re.search(r"ZXING_WASM_VERSION=(\w+)", ponyfill).group(1)
    # The bundle names its constants; find their literal values.
    sha_value = re.search(rf"\b{wasm_sha}=`([0-9a-f]{{64}})`", ponyfill).group(1)
    version_value = re.search(rf"\b{wasm_version}=`([0-9.]+)`", ponyfill).group(1)
    assert sha_value == sha256(VENDOR / "zxing-wasm/zxing_reader.wasm")
    assert version_value == RECORD["zxing-wasm"]["version"]
    assert RECORD["barcode-detector"]["version"].startswith("3.")
