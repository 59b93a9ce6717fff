"""An RFC 9457 problem+json response: the one error shape every HTTP face answers with.

Down here, not in `api/`, because answers that are not the API's own need it too: the 503 of a
lost database (`core/dbdown.py`) is given by a middleware around every path. The API's
translations of validation messages and its exception handlers stay in `api/problems.py`.
"""

from django.http import JsonResponse

CONTENT_TYPE = "application/problem+json"


def problem(status: int, code: str, title: str, detail: str = "", errors=None) -> JsonResponse:
    """`type` is the stable `/problems/<code>`; `title`, `detail` and `errors` are for people."""
    body = {"type": f"/problems/{code}", "title": str(title), "status": status}
    if detail:
        body["detail"] = str(detail)
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status=status, content_type=CONTENT_TYPE)
