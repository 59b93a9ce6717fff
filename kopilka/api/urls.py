from django.conf import settings
from django.urls import re_path
from ninja import NinjaAPI, Swagger

from kopilka import __version__
from kopilka.api import (
    analytics,
    billing,
    campaigns,
    codes,
    counter,
    idempotency,
    inbound,
    invitations,
    loyalty,
    manage,
    messaging,
    pos,
    problems,
    promo_codes,
    ratelimit,
    records,
    reviews,
    sales,
    staff,
    webhooks,
)
from kopilka.api.parser import SingleValueQueryParser
from kopilka.core import dbdown


class KopilkaAPI(NinjaAPI):
    """Every answer under /api/v1/ that is an error is a problem, and the OpenAPI document
    says so."""

    def get_openapi_schema(self, **kwargs):
        schema = super().get_openapi_schema(**kwargs)
        # The middlewares' answers (Idempotency-Key on writes, 429 and 503 everywhere) are
        # declared too.
        return problems.document(
            dbdown.document(ratelimit.document(idempotency.document(schema)))
        )

    def _get_urls(self):
        patterns = super()._get_urls()
        for pattern in patterns:
            pattern.callback = problems.method_problems(pattern.callback)
        return [*patterns, re_path(r"", problems.not_found_view, name="not-found")]


class LocalSwagger(Swagger):
    """The docs page with Swagger UI's files from this site (ninja ships them; with "ninja" in
    INSTALLED_APPS its template links them instead of a CDN), so it works offline and under
    our Content-Security-Policy. Served only when settings.API_DOCS is on (off in production
    unless KOPILKA_API_DOCS=1)."""

    def render_page(self, request, api, **kwargs):
        if not settings.API_DOCS:
            return problems.not_found_view(request)
        return super().render_page(request, api, **kwargs)


api = KopilkaAPI(
    title="Kopilka API",
    version=__version__,
    description=(
        "Loyalty processing (POS) and management API. Money amounts are integers in the "
        "merchant currency's minor unit; points are integers in the program's unit. Errors "
        "are RFC 9457 problem+json."
    ),
    openapi_url="/openapi.json",
    docs_url="/docs",
    # No validator badge: Swagger UI would fetch it from validator.swagger.io.
    docs=LocalSwagger(settings={"validatorUrl": None}),
    urls_namespace="api",
    parser=SingleValueQueryParser(),
)
problems.install(api)
codes.install(api)
api.add_router("/pos", pos.router)
api.add_router("/pos", sales.router)
api.add_router("/pos", counter.router)
api.add_router("/pos", codes.router)
api.add_router("/manage", manage.router)
api.add_router("/manage", loyalty.router)
api.add_router("/manage", staff.router)
api.add_router("/manage", records.router)
api.add_router("/manage", webhooks.router)
api.add_router("/manage", messaging.router)
api.add_router("/manage", analytics.router)
api.add_router("/manage", campaigns.router)
api.add_router("/manage", reviews.router)
api.add_router("/manage", promo_codes.router)
api.add_router("", inbound.router)
api.add_router("", invitations.router)
api.add_router("/operator/billing", billing.router)
api.add_router("", billing.payments)
