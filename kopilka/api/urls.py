from django.urls import re_path
from ninja import NinjaAPI

from kopilka import __version__
from kopilka.api import (
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
    ratelimit,
    records,
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
api.add_router("", inbound.router)
api.add_router("", invitations.router)
