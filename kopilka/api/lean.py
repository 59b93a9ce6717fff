"""The lean request path of the POS API: `/api/v1/pos/` calls skip the browser's middleware.

A till calls `/api/v1/pos/` with its key in `Authorization`; it has no session, no CSRF token
and no flash messages, and it is the busiest caller there is. `LeanPosMiddleware`, right after
the metrics middleware (which times and logs every answer, these too), sends such requests
through a short chain of its own, `settings.POS_MIDDLEWARE`: security headers, the CSP, the
language, the rate limit, the 503 for a lost database and the POS's Idempotency-Key
(`idempotency.PosIdempotencyMiddleware`: the claim, the operation and its stored answer in
one transaction). Session, CSRF, authentication, messages, htmx, the operator's scopes, the
replica reads and axes do no work for them: none of it applies to a key-authenticated JSON
call (every /pos/ route authenticates with `TerminalKey` only, so a session could not sign
one in anyway).

The chain ends in the view itself, resolved as Django's handler resolves it
(`request.resolver_match` is set: the metrics name the route from it). Each middleware is
wrapped by `convert_exception_to_response` as Django wraps its own chain, so an exception
becomes the same 500 (and `got_request_exception` fires, which the 503 middleware needs).
"""

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.urls import get_resolver
from django.utils.module_loading import import_string

POS_PREFIX = "/api/v1/pos/"


def _view(request):
    match = get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
    request.resolver_match = match
    response = match.func(request, *match.args, **match.kwargs)
    if response is None:  # as Django's handler refuses it
        raise ValueError(f"The view {match.func.__module__}.{match.func.__name__} didn't "
                         "return an HttpResponse object. It returned None instead.")
    return response


def chain(paths) -> callable:
    """The middleware `paths` around the view, innermost last (as settings.MIDDLEWARE)."""
    handler = convert_exception_to_response(_view)
    for path in reversed(paths):
        handler = convert_exception_to_response(import_string(path)(handler))
    return handler


def is_lean(request) -> bool:
    """A key-authenticated POS call (any /pos/ call with an Authorization header)."""
    return request.path.startswith(POS_PREFIX) and "HTTP_AUTHORIZATION" in request.META


class LeanPosMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.lean = chain(settings.POS_MIDDLEWARE)

    def __call__(self, request):
        if is_lean(request):
            return self.lean(request)
        return self.get_response(request)
