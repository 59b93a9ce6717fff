"""The JavaScript strings: every gettext() in our scripts is in each language's djangojs
catalogue, translated and compiled."""

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale"
SCRIPTS = sorted((Path(settings.BASE_DIR) / "web" / "static" / "web").glob("*.js"))


def used_in_scripts() -> set[str]:
    found = set()
    for script in SCRIPTS:
        found |= set(re.findall(r'gettext\("((?:[^"\\]|\\.)*)"\)', script.read_text()))
    return found


def test_scripts_use_the_catalogue():
    assert len(used_in_scripts()) == 7


@pytest.mark.parametrize("language", [code for code, _ in settings.LANGUAGES])
def test_djangojs_catalogue_is_complete_and_compiled(language):
    path = LOCALE / language / "LC_MESSAGES" / "djangojs.po"
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    messages = {message.id: message.string for message in catalogue if message.id}
    assert set(messages) == used_in_scripts()
    assert all(messages.values())
    assert not any(message.fuzzy for message in catalogue if message.id)
    compiled = path.with_suffix(".mo")
    assert compiled.exists() and compiled.stat().st_mtime >= path.stat().st_mtime
