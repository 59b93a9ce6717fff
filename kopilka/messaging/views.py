"""The public unsubscribe page a member reaches from the link in a message (MSG-3)."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from kopilka.core.errors import NotFound
from kopilka.messaging import optout


# The signed token is the credential, and mail clients' one-click unsubscribe (RFC 8058)
# POSTs without any CSRF token. GET unsubscribes too: an SMS link can only be opened.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    try:
        member = optout.unsubscribe(token, ip=request.META.get("REMOTE_ADDR"))
    except NotFound:
        raise Http404 from None
    return render(request, "messaging/unsubscribed.html", {"merchant": member.merchant.name})
