from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from kopilka import __version__


@require_GET
def health(request):
    """Liveness and database check for load balancers and monitoring."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any database failure means "not healthy", whatever its type
        return JsonResponse(
            {"status": "error", "database": "unreachable", "detail": type(error).__name__},
            status=503,
        )
    return JsonResponse(
        {"status": "ok", "database": connection.vendor, "version": __version__}
    )
