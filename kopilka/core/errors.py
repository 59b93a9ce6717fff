"""One domain error type for every service.

Services raise `DomainError` subclasses; the API turns them into RFC 9457 problem+json
responses and the CLI into a one-line message with a non-zero exit code.

Messages are for people, so they are translated: services build `detail` with `gettext` at the
moment they raise (the request's or the operator's language is active then), with named
placeholders so translators can reorder them: `InvalidInput(_("%(value)r is ...") % {...})`.
Titles are class attributes and so lazy: they are rendered in the language active when the
response is written.
"""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    status = 400
    problem = "bad-request"
    title = _("The request cannot be carried out.")

    def __init__(self, detail: str, *, field: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(DomainError):
    status = 422
    problem = "validation"
    title = _("The request is not valid.")


class NotFound(DomainError):
    status = 404
    problem = "not-found"
    title = _("Not found.")


class Conflict(DomainError):
    status = 409
    problem = "conflict"
    title = _("Conflicts with the current state.")


class Forbidden(DomainError):
    status = 403
    problem = "forbidden"
    title = _("Not allowed.")
