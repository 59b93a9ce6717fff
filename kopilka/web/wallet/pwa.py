"""The wallet as an installable app (a PWA): the manifest and the service worker.

Both are views, not static files: the manifest needs its own media type
(application/manifest+json; whitenoise would serve .webmanifest as something else) and names
translated; the service worker must be served from /my/ itself so that its scope covers the
wallet (a worker's scope is at most the folder it is served from), and never from a cache
with a long lifetime, or a fixed worker would reach phones only days later.
"""

import json

from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

THEME = "#0b6b4e"  # --color-primary of web/kopilka.css


@require_safe
def manifest(request):
    home = reverse("wallet:home")
    body = {
        "name": _("My cards · Kopilka"),
        "short_name": _("My cards"),
        "description": _("Your loyalty cards at every shop, your points and their history."),
        "start_url": home,
        "scope": home,
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME,
        "icons": [{"src": static(f"wallet/icons/icon-{size}.png"), "sizes": f"{size}x{size}",
                   "type": "image/png", "purpose": "any"} for size in (192, 512)],
    }
    response = HttpResponse(json.dumps(body, ensure_ascii=False),
                            content_type="application/manifest+json; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def service_worker(request):
    with open(finders.find("wallet/sw.js"), encoding="utf-8") as source:
        # The notification icon's address as the static files storage names it (hashed).
        body = source.read().replace("__ICON__", static("wallet/icons/icon-192.png"))
        response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response
