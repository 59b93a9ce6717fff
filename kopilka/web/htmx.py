"""htmx conventions shared by the browser faces (docs/web.md, "htmx rules").

A page template defines its swappable part as a partial; `render_page` returns the whole page
for a normal request and only that partial for an htmx request. Both answers come from one URL,
so every such response says `Vary: HX-Request` (else a cache or the browser's back button can
show a bare fragment: htmx#1201, django-htmx#410), and a history-restore request (htmx found no
snapshot for a URL it navigates back to) gets the full page.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def wants_fragment(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def render_page(
    request: HttpRequest,
    template_name: str,
    context: dict | None = None,
    *,
    fragment: str = "content",
    status: int = 200,
) -> HttpResponse:
    """Render `template_name`, or its `{% partialdef fragment %}` for an htmx request.

    Answer an invalid form with status=422: static/web/app.js swaps 422 into the target (the
    form with its errors) and shows every other 4xx/5xx as a message instead.
    """
    name = f"{template_name}#{fragment}" if wants_fragment(request) else template_name
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response
