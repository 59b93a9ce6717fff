"""`/my/alias/`: the person's alias (MEM-4). Taking or changing it is confirmed by a code sent
to the phone (the first POST checks the alias is free and sends it, the second saves);
dropping it takes one tap."""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from kopilka.core.errors import Conflict, DomainError
from kopilka.core.phones import mask_phone
from kopilka.members import aliases
from kopilka.tenancy.logins import client_ip
from kopilka.web.htmx import render_page
from kopilka.web.wallet import signin
from kopilka.web.wallet.forms import AliasForm
from kopilka.web.wallet.person import tabs, wallet_view


def _page(request, form, *, code_sent: bool = False, status: int = 200):
    return render_page(request, "wallet/alias.html", {
        "form": form, "code_sent": code_sent, "alias": request.person.alias or "",
        "masked": mask_phone(str(request.person.phone)), "tabs": tabs(request, "alias"),
    }, status=status)


def _refused(request, form, error: DomainError, *, code_sent: bool):
    field = error.field if error.field in form.fields else None
    form.add_error(field, str(error.detail))
    return _page(request, form, code_sent=code_sent, status=429 if error.status == 429 else 422)


@require_http_methods(["GET", "POST"])
@wallet_view
def alias(request):
    person = request.person
    action = request.POST.get("action", "")
    if request.method == "GET":
        return _page(request, AliasForm(initial={"alias": person.alias or ""}))
    actor = signin.actor_for(person, client_ip(request))
    if action == "drop":
        aliases.drop_alias(person, actor=actor)
        messages.success(request, _("Your alias is dropped."))
        return redirect("wallet:alias")
    form = AliasForm(request.POST)
    code_sent = action == "save"
    if action not in ("send_code", "save") or not form.is_valid():
        return _page(request, form, code_sent=code_sent, status=422)
    try:
        wanted = aliases.clean_alias(form.cleaned_data["alias"])
        taken = aliases.owner(wanted)
        if taken is not None and taken.pk != person.pk:
            raise Conflict(_("This alias is taken. Try another one."), field="alias")
        if not code_sent:
            signin.send_code(str(person.phone), ip=client_ip(request))
            form = AliasForm(initial={"alias": wanted})
            form.fields["code"].widget.attrs["autofocus"] = True
            del form.fields["alias"].widget.attrs["autofocus"]
            return _page(request, form, code_sent=True)
        signin.confirm_with_code(person, form.cleaned_data["code"])
        aliases.set_alias(person, wanted, actor=actor)
    except DomainError as error:
        return _refused(request, form, error, code_sent=code_sent)
    messages.success(request, _("Your alias is @%(alias)s. Say it at the counter instead of "
                                "your phone number.") % {"alias": wanted})
    return redirect("wallet:alias")
