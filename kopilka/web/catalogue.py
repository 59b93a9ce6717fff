"""The JavaScript catalogue (/jsi18n/<stamp>/) as a file the browser keeps.

Django's JavaScriptCatalog is a view, so every page would ask for it again: a round trip per
page before the page's scripts may run (on a counter tablet at 150 ms of latency, the largest
part of opening the sale). Its URL carries a stamp of what it depends on — the language, the
Kopilka version and when that language's compiled djangojs catalogue changed — so the answer
can be cached for a year: a language switch, an upgrade or a new translation is a new URL.
"""

from functools import cache
from pathlib import Path

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.views.decorators.cache import cache_control
from django.views.i18n import JavaScriptCatalog

import kopilka

YEAR = 365 * 24 * 3600

catalogue_view = cache_control(max_age=YEAR, immutable=True)(
    JavaScriptCatalog.as_view(domain="djangojs"))


@cache
def _compiled_at(language: str) -> int:
    path = Path(settings.BASE_DIR) / "locale" / language / "LC_MESSAGES" / "djangojs.mo"
    try:
        return int(path.stat().st_mtime)
    except OSError:
        return 0


def catalogue_url() -> str:
    language = translation.get_language() or settings.LANGUAGE_CODE
    stamp = f"{language}-{kopilka.__version__}-{_compiled_at(language)}"
    return reverse("javascript-catalog", args=[stamp])
