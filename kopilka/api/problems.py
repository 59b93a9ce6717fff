"""RFC 9457 problem+json responses for every error the API returns.

`type` URIs are stable (`/problems/<code>`): clients may branch on them. `title`, `detail` and
the field messages are for people: they come in the request's language (`Accept-Language`,
resolved by Django's LocaleMiddleware), falling back to the default language.
"""

from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from kopilka.core.errors import DomainError

CONTENT_TYPE = "application/problem+json"

# Pydantic's messages are English only: the common ones are translated here, keyed by the
# stable error `type`; the placeholders are filled from the error's `ctx`. Anything else keeps
# pydantic's own text.
FIELD_MESSAGES = {
    "missing": gettext_lazy("This field is required."),
    "extra_forbidden": gettext_lazy("Unknown field."),
    "string_type": gettext_lazy("Must be a string."),
    "string_too_short": gettext_lazy("Too short (minimum length: %(min_length)s)."),
    "string_too_long": gettext_lazy("Too long (maximum length: %(max_length)s)."),
    "int_type": gettext_lazy("Must be an integer."),
    "int_parsing": gettext_lazy("Must be an integer."),
    "int_from_float": gettext_lazy("Must be an integer."),
    "bool_type": gettext_lazy("Must be true or false."),
    "bool_parsing": gettext_lazy("Must be true or false."),
    "literal_error": gettext_lazy("Must be one of: %(expected)s."),
    "date_type": gettext_lazy("Must be a date (YYYY-MM-DD)."),
    "date_parsing": gettext_lazy("Must be a date (YYYY-MM-DD)."),
    "date_from_datetime_parsing": gettext_lazy("Must be a date (YYYY-MM-DD)."),
    "date_from_datetime_inexact": gettext_lazy("Must be a date (YYYY-MM-DD)."),
    "datetime_type": gettext_lazy("Must be a date and time (RFC 3339)."),
    "datetime_parsing": gettext_lazy("Must be a date and time (RFC 3339)."),
    "datetime_from_date_parsing": gettext_lazy("Must be a date and time (RFC 3339)."),
    "list_type": gettext_lazy("Must be a list."),
    "dict_type": gettext_lazy("Must be an object."),
    "model_type": gettext_lazy("Must be an object."),
    "model_attributes_type": gettext_lazy("Must be an object."),
    "json_invalid": gettext_lazy("Not valid JSON."),
}

# Titles for ninja's own HTTP errors (their messages are English; they stay in `detail`).
HTTP_TITLES = {
    400: gettext_lazy("The request cannot be read."),
    403: gettext_lazy("Not allowed."),
    429: gettext_lazy("Too many requests."),
}


def problem(status: int, code: str, title: str, detail: str = "", errors=None) -> JsonResponse:
    body = {"type": f"/problems/{code}", "title": str(title), "status": status}
    if detail:
        body["detail"] = str(detail)
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


def _field_message(error: dict) -> str:
    template = FIELD_MESSAGES.get(error.get("type", ""))
    if template is None:
        return error.get("msg", "")
    ctx = {key: str(value) for key, value in (error.get("ctx") or {}).items()}
    if "expected" in ctx:  # pydantic writes "'a', 'b' or 'c'": drop the English "or"
        ctx["expected"] = ctx["expected"].replace(" or ", ", ")
    try:
        return str(template) % ctx
    except (KeyError, ValueError, TypeError):  # a ctx this pydantic version does not give
        return error.get("msg", "")


def install(api) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
        return problem(exc.status, exc.problem, exc.title, exc.detail, errors)

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        errors = [{"field": _field_name(e.get("loc", ())), "message": _field_message(e)}
                  for e in exc.errors]
        return problem(422, "validation", _("The request is not valid."), "", errors)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc):
        return problem(
            401, "unauthenticated", _("Missing or invalid credentials."),
            # Translators: keep the header literally, it is what the client must send.
            _("Send 'Authorization: Bearer <key>'."),
        )

    @api.exception_handler(AuthorizationError)
    def forbidden(request, exc):
        return problem(403, "forbidden", _("Not allowed."))

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return problem(404, "not-found", _("Not found."))

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        message = str(exc.message)
        title = HTTP_TITLES.get(exc.status_code)
        if title is None:
            return problem(exc.status_code, "http-error", message)
        return problem(exc.status_code, "http-error", title, message)
