from django_scopes import scopes_disabled


class OperatorScopesMiddleware:
    """The Django admin is for platform operators, who see every merchant: tenant scopes are
    lifted for /admin/ only. Every other request runs under the scope of its own merchant."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/admin/"):
            with scopes_disabled():
                return self.get_response(request)
        return self.get_response(request)
