from django.views.decorators.http import require_safe

from kopilka.web import places
from kopilka.web.htmx import render_page


@require_safe
def home(request):
    """The root page: the places of this installation the visitor may use."""
    return render_page(request, "web/home.html", {"places": places.for_request(request)})
