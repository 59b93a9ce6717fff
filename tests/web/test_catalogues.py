"""The JavaScript strings: every gettext() in our scripts is in each language's djangojs
catalogue, translated and compiled."""

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale"
# The foundation's scripts and the cashier workplace's.
WEB = Path(settings.BASE_DIR) / "web"
SCRIPTS = sorted([*(WEB / "static" / "web").glob("*.js"),
                  *(WEB / "cashier" / "static" / "cashier").glob("*.js")])
STRING = r'"((?:[^"\\]|\\.)*)"'


def used_in_scripts() -> set[str]:
    """The msgids of gettext("...") and, for ngettext("...", "...", n), its singular."""
    found = set()
    for script in SCRIPTS:
        text = script.read_text()
        found |= set(re.findall(r"(?<![\w.])gettext\(" + STRING + r"\)", text))
        found |= set(re.findall(r"(?<![\w.])ngettext\(\s*" + STRING + r"\s*,", text))
    return found


def test_scripts_use_the_catalogue():
    assert len(used_in_scripts()) == 7 + 7  # web/app.js + cashier/offline.js


@pytest.mark.parametrize("language", [code for code, _ in settings.LANGUAGES])
def test_djangojs_catalogue_is_complete_and_compiled(language):
    path = LOCALE / language / "LC_MESSAGES" / "djangojs.po"
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    messages = {message.id[0] if isinstance(message.id, tuple) else message.id: message.string
                for message in catalogue if message.id}
    assert set(messages) == used_in_scripts()
    assert all(all(text) if isinstance(text, tuple) else text for text in messages.values())
    assert not any(message.fuzzy for message in catalogue if message.id)
    compiled = path.with_suffix(".mo")
    assert compiled.exists() and compiled.stat().st_mtime >= path.stat().st_mtime
