"""A merchant's branding on the wallet's pages (tenancy/branding.py): its colour as a stylesheet
of one rule (the CSP allows no inline style) and its logo. Both are public — the join page shows
them to people not signed in — and say nothing about anyone."""

from django.http import FileResponse, Http404, HttpResponse
from django.urls import path
from django.views.decorators.http import require_safe
from django_scopes import scopes_disabled

from kopilka.core import images
from kopilka.tenancy import branding
from kopilka.tenancy.models import Merchant


def _merchant(merchant_id: int) -> Merchant:
    with scopes_disabled():  # a merchant is not a tenant row: it is the tenant
        merchant = Merchant.objects.filter(pk=merchant_id,
                                           status=Merchant.Status.ACTIVE).first()
    if merchant is None:
        raise Http404
    return merchant


@require_safe
def colour(request, merchant_id: int):
    merchant = _merchant(merchant_id)
    if not merchant.brand_colour:
        raise Http404
    body = (f".brand--{merchant.pk} {{ --brand-bg: {merchant.brand_colour}; "
            f"--brand-fg: {branding.text_colour(merchant.brand_colour)}; }}\n")
    response = HttpResponse(body, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"  # the page's link names the colour
    return response


@require_safe
def logo(request, merchant_id: int, size: int):
    merchant = _merchant(merchant_id)
    found = branding.open_logo(merchant, size)
    if found is None:
        raise Http404
    response = FileResponse(found, content_type=images.CONTENT_TYPE)
    response["Cache-Control"] = "public, max-age=86400"  # the page's link names the logo
    return response


urlpatterns = [
    path("brand/<int:merchant_id>.css", colour, name="brand-css"),
    path("brand/<int:merchant_id>/logo/<int:size>/", logo, name="brand-logo"),
]
