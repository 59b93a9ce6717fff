"""One domain error type for every service.

Services raise `DomainError` subclasses; the API turns them into RFC 9457 problem+json
responses and the CLI into a one-line message with a non-zero exit code.
"""


class DomainError(Exception):
    status = 400
    problem = "bad-request"
    title = "The request cannot be carried out."

    def __init__(self, detail: str, *, field: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(DomainError):
    status = 422
    problem = "validation"
    title = "The request is not valid."


class NotFound(DomainError):
    status = 404
    problem = "not-found"
    title = "Not found."


class Conflict(DomainError):
    status = 409
    problem = "conflict"
    title = "Conflicts with the current state."


class Forbidden(DomainError):
    status = 403
    problem = "forbidden"
    title = "Not allowed."
