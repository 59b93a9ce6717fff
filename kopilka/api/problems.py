"""RFC 9457 problem+json responses for every error the API returns.

`type` URIs are stable (`/problems/<code>`): clients may branch on them. `title`, `detail` and
the field messages are for people: they come in the request's language (`Accept-Language`,
resolved by Django's LocaleMiddleware), falling back to the default language.
"""

from functools import wraps

from django.conf import settings
from django.core import signals
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404
from django.utils.log import log_response
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from kopilka.core.errors import DomainError
from kopilka.core.problem import CONTENT_TYPE, problem

# Pydantic's messages are English only: the common ones are translated here, keyed by the
# stable error `type`; the placeholders are filled from the error's `ctx`. Anything else keeps
# pydantic's own text.
FIELD_MESSAGES = {
    "missing": gettext_lazy("This field is required."),
    "extra_forbidden": gettext_lazy("Unknown field."),
    "query_repeated": gettext_lazy("Given more than once: send it once."),
    "string_type": gettext_lazy("Must be a string."),
    "string_unicode": gettext_lazy("Must be valid Unicode text."),
    "string_nul": gettext_lazy("Must not contain the NUL character."),
    "string_too_short": gettext_lazy("Too short (minimum length: %(min_length)s)."),
    "string_too_long": gettext_lazy("Too long (maximum length: %(max_length)s)."),
    "int_type": gettext_lazy("Must be an integer."),
    "int_parsing": gettext_lazy("Must be an integer."),
    "int_from_float": gettext_lazy("Must be an integer."),
    "greater_than": gettext_lazy("Must be more than %(gt)s."),
    "greater_than_equal": gettext_lazy("Must be at least %(ge)s."),
    "less_than": gettext_lazy("Must be less than %(lt)s."),
    "less_than_equal": gettext_lazy("Must be at most %(le)s."),
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
    "timezone_aware": gettext_lazy("Must have a time zone offset (RFC 3339)."),
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
    405: gettext_lazy("This method is not allowed here."),
    429: gettext_lazy("Too many requests."),
}


def _field_name(loc, ctx=None) -> str:
    # ninja puts the source first ("body", "query", "path") and the schema name second for
    # bodies; the client wants the field path it sent.
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "form", "cookie"):
        parts = parts[1:]
        if len(parts) > 1 and parts[0] in ("payload", "data", "body"):
            parts = parts[1:]
    if (ctx or {}).get("at"):  # a text inside a list or object field (schemas.storable_text)
        parts.append(str(ctx["at"]))
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


def document(schema: dict) -> dict:
    """Make the OpenAPI document tell the truth: error answers are problem+json, not JSON."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content") or {}
                if str(status).isdigit() and int(status) >= 400 and "application/json" in content:
                    content[CONTENT_TYPE] = content.pop("application/json")
    return schema


def not_found_view(request, *args, **kwargs):
    """Any path under the API that names no operation: a 404 problem, not Django's HTML
    page. (A path parameter of the wrong type, e.g. a member id that is not a number, is a
    422 from the operation itself.)"""
    return problem(404, "not-found", _("Not found."))


not_found_view.csrf_exempt = True  # as the API's own views: CSRF is checked per operation


def method_problems(view):
    """An API path called with a method it does not have: ninja answers a plain-text 405;
    this answers the same status, with its `Allow` header, as a problem."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and response.get("Content-Type") != CONTENT_TYPE:
            allowed = response.get("Allow", "")
            replaced = problem(
                405, "method-not-allowed", HTTP_TITLES[405],
                _("Allowed methods: %(methods)s.") % {"methods": allowed},
            )
            replaced["Allow"] = allowed
            return replaced
        return response

    return wrapped


def install(api) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
        return problem(exc.status, exc.problem, exc.title, exc.detail, errors)

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        errors = [{"field": _field_name(e.get("loc", ()), e.get("ctx")),
                   "message": _field_message(e)} for e in exc.errors]
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

    @api.exception_handler(PermissionDenied)
    def permission_denied(request, exc):
        return problem(403, "forbidden", _("Not allowed."))

    @api.exception_handler(SuspiciousOperation)
    def suspicious(request, exc):
        # E.g. a body over DATA_UPLOAD_MAX_MEMORY_SIZE: Django itself answers 400 (in HTML).
        return problem(400, "http-error", HTTP_TITLES[400], str(exc))

    @api.exception_handler(Exception)
    def server_error(request, exc):
        # A bug: still a problem (Django's own 500 page is HTML). Logged with the traceback as
        # Django logs it, and reported through the same signal (the test client re-raises it).
        if settings.DEBUG_PROPAGATE_EXCEPTIONS:
            raise exc
        signals.got_request_exception.send(sender=None, request=request)
        response = problem(500, "server-error", _("Something went wrong on our side."))
        log_response("Internal Server Error: %s", request.path, response=response,
                     request=request, exception=exc)
        return response
