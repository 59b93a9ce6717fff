"""Hatch build hook: compile gettext catalogues (.po -> .mo) so users never run a manual step.

Runs for wheels, sdists and editable installs (`pip install -e .`), so a fresh checkout has
working ru/uk/en translations right after installing. Babel compiles without GNU gettext.
"""

from pathlib import Path

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # imported outside a build: tests/conftest.py recompiles stale catalogues
    BuildHookInterface = object


def compile_catalogues(root: Path) -> list[Path]:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po_path in sorted((root / "kopilka" / "locale").glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        with po_path.open("rb") as po_file:
            catalogue = read_po(po_file)
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalogue)
        written.append(mo_path)
    return written


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        compile_catalogues(Path(self.root))
