"""RFC 9457 problem+json responses for every error the API returns.

`type` URIs are stable (`/problems/<code>`): clients may branch on them.
"""

from django.http import Http404, JsonResponse
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from kopilka.core.errors import DomainError

CONTENT_TYPE = "application/problem+json"


def problem(status: int, code: str, title: str, detail: str = "", errors=None) -> JsonResponse:
    body = {"type": f"/problems/{code}", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status=status, content_type=CONTENT_TYPE)


def _field_name(loc) -> str:
    # ninja puts the source first ("body", "query", "path") and the schema name second for
    # bodies; the client wants the field path it sent.
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "form", "cookie"):
        parts = parts[1:]
        if len(parts) > 1 and parts[0] in ("payload", "data", "body"):
            parts = parts[1:]
    return ".".join(parts)


def install(api) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
        return problem(exc.status, exc.problem, exc.title, exc.detail, errors)

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        errors = [{"field": _field_name(e.get("loc", ())), "message": e.get("msg", "")}
                  for e in exc.errors]
        return problem(422, "validation", "The request is not valid.", "", errors)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc):
        return problem(401, "unauthenticated", "Missing or invalid credentials.",
                       "Send 'Authorization: Bearer <key>'.")

    @api.exception_handler(AuthorizationError)
    def forbidden(request, exc):
        return problem(403, "forbidden", "Not allowed.")

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return problem(404, "not-found", "Not found.")

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        return problem(exc.status_code, "http-error", str(exc.message))
