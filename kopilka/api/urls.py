from ninja import NinjaAPI

from kopilka import __version__
from kopilka.api import loyalty, manage, pos, problems, sales

api = NinjaAPI(
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
)
problems.install(api)
api.add_router("/pos", pos.router)
api.add_router("/pos", sales.router)
api.add_router("/manage", manage.router)
api.add_router("/manage", loyalty.router)
