"""The member base: filters, saved segments, keyset pages and bulk tags (#16). A member's page
and its actions are in members_page.py.

The filters are the fields of members/segments.py, so what the list shows is what a saved
segment sends to. A page is the 50 newest members below the `before` id (keyset: no OFFSET,
and no COUNT(*) over the base on each page); phones are masked unless the role has
`see_phones`, and a member who joined showing only an alias shows no phone at all (MEM-6).
"""

from decimal import Decimal
from urllib.parse import urlencode

from babel.numbers import get_currency_precision
from django import forms
from django.contrib import messages
from django.http import Http404, QueryDict
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods

from kopilka.core.errors import DomainError
from kopilka.core.phones import mask_phone
from kopilka.members import segments
from kopilka.members import services as members
from kopilka.members.models import Member, Segment
from kopilka.programs import services as programs
from kopilka.tenancy import access
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.tabs import Tab, register
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page

PAGE = 50
PERMISSION = "read_members"


def program_of(merchant):
    """The merchant's compiled program, or None before it has one."""
    if access.context(merchant)["program"] is None:
        return None
    return programs.load(merchant)


def phone_shown(member: Member, principal) -> str:
    """What staff see of the member's phone: all of it with `see_phones`, masked without, and
    nothing when the member joined showing only an alias (or was erased)."""
    if member.phone_hidden or not member.person.phone:
        return ""
    phone = str(member.person.phone)
    return phone if principal.sees_full_phones else mask_phone(phone)


def alias_shown(member: Member) -> str:
    return f"@{member.person.alias}" if member.person.alias else ""


# --- the filters --------------------------------------------------------------------------------


class AmountField(forms.DecimalField):
    """A sum typed in major units ("1500,50") kept in minor units (150050)."""

    def __init__(self, *, precision: int = 2, **kwargs):
        self.precision = precision
        super().__init__(min_value=0, max_digits=15, decimal_places=precision, localize=True,
                         required=False, **kwargs)
        self.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})

    def minor(self, value: Decimal | None) -> int | None:
        return None if value is None else int(value.scaleb(self.precision))

    def major(self, value: int | None) -> Decimal | None:
        return None if value is None else Decimal(value).scaleb(-self.precision)


def _count(label, **kwargs) -> forms.IntegerField:
    field = forms.IntegerField(label=label, min_value=0, max_value=100_000, required=False,
                               **kwargs)
    field.widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})
    return field


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self):
        super().__init__(format="%Y-%m-%d")


class MemberFilterForm(Form):
    """The list's filters (a GET form). `filters()` gives segments.FIELDS' JSON."""

    find = forms.CharField(label=gettext_lazy("Phone, card, @alias or name"), max_length=100,
                           required=False,
                           widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}))
    gender = forms.ChoiceField(label=gettext_lazy("Gender"), required=False, choices=[
        ("", gettext_lazy("any")), ("female", gettext_lazy("female")),
        ("male", gettext_lazy("male")), ("unknown", gettext_lazy("not stated"))])
    tier = forms.ChoiceField(label=gettext_lazy("Tier"), required=False)
    tag = forms.CharField(label=gettext_lazy("Tag"), max_length=40, required=False)
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False,
                               choices=[("", gettext_lazy("any")), *Member.Status.choices])
    age_min = forms.IntegerField(label=gettext_lazy("Age from"), min_value=0, max_value=150,
                                 required=False)
    age_max = forms.IntegerField(label=gettext_lazy("Age to"), min_value=0, max_value=150,
                                 required=False)
    balance_min = AmountField(label=gettext_lazy("Balance from"))
    balance_max = AmountField(label=gettext_lazy("Balance to"))
    average_min = AmountField(label=gettext_lazy("Average check from"))
    average_max = AmountField(label=gettext_lazy("Average check to"))
    spend_min = AmountField(label=gettext_lazy("Total spend from"))
    spend_max = AmountField(label=gettext_lazy("Total spend to"))
    purchases_min = _count(gettext_lazy("Purchases from"))
    purchases_max = _count(gettext_lazy("Purchases to"))
    idle_days_min = _count(gettext_lazy("Last purchase, days ago, from"))
    idle_days_max = _count(gettext_lazy("Last purchase, days ago, to"))
    registered_from = forms.DateField(label=gettext_lazy("Joined from"), required=False,
                                      widget=DateInput())
    registered_to = forms.DateField(label=gettext_lazy("Joined to"), required=False,
                                    widget=DateInput())

    MONEY = ("average_min", "average_max", "spend_min", "spend_max")
    POINTS = ("balance_min", "balance_max")
    PAIRS = (("age_min", "age_max"), ("average_min", "average_max"),
             ("spend_min", "spend_max"), ("purchases_min", "purchases_max"),
             ("idle_days_min", "idle_days_max"), ("registered_from", "registered_to"),
             ("balance_min", "balance_max"))

    def __init__(self, *args, merchant, program, **kwargs):
        super().__init__(*args, **kwargs)
        tiers = program.tiers.values() if program is not None else ()
        self.fields["tier"].choices = [("", _("any")),
                                       *((tier.code, tier.name) for tier in tiers)]
        money = get_currency_precision(merchant.currency)
        for name in self.MONEY:
            self._precision(name, money)
        points = program.config.points_precision if program is not None else 2
        for name in self.POINTS:
            self._precision(name, points)

    def _precision(self, name: str, precision: int) -> None:
        """The sum's field with the currency's (or the points') decimals."""
        self.fields[name] = AmountField(label=self.fields[name].label, precision=precision)

    def clean(self):
        data = super().clean()
        for name in ("registered_from", "registered_to"):
            if data.get(name) is not None and not 1970 <= data[name].year <= 2200:
                self.add_error(name, _("Enter a date between 1970 and 2200."))
                data.pop(name, None)
        for low, high in self.PAIRS:
            if data.get(low) is not None and data.get(high) is not None \
                    and data[low] > data[high]:
                self.add_error(high, _("Must not be less than “from”."))
        return data

    def filters(self) -> dict:
        """The valid filters as segments.FIELDS' JSON (empty ones left out)."""
        kept = {}
        for name, value in self.cleaned_data.items():
            if value is None or value == "":
                continue
            if isinstance(value, Decimal):
                value = self.fields[name].minor(value)
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            elif isinstance(value, str):
                value = " ".join(value.split())
                if not value:
                    continue
            kept[name] = value
        return kept

    @classmethod
    def query_of(cls, filters: dict, merchant, program) -> QueryDict:
        """A saved segment's filters as the list's query string."""
        form = cls(merchant=merchant, program=program)
        query = QueryDict(mutable=True)
        for name, value in filters.items():
            field = form.fields.get(name)
            if isinstance(field, AmountField):
                value = field.major(value)
            if field is not None:
                query[name] = str(value)  # "1500.50" reads back in every language
        return query


# --- the list -----------------------------------------------------------------------------------


def _before(request) -> int | None:
    try:
        before = int(request.GET.get("before", ""))
    except ValueError:
        return None
    return before if 0 < before < 2**63 else None


def _rows(found: list[Member], principal, program) -> list[dict]:
    rows = []
    for member in found:
        account = getattr(member, "account", None)
        tier = program.tiers.get(account.tier_code) if program and account else None
        rows.append({
            "member": member, "phone": phone_shown(member, principal),
            "alias": alias_shown(member), "account": account,
            "tier": tier.name if tier else "",
        })
    return rows


def _query_without(request, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


@require_http_methods(["GET", "HEAD"])
@cabinet_view(PERMISSION)
def member_list(request):
    cabinet = request.cabinet
    merchant = cabinet.merchant
    program = program_of(merchant)
    segment = None
    if request.GET.get("segment"):
        segment = _segment(request, request.GET["segment"])
        query = MemberFilterForm.query_of(segment.filters, merchant, program)
        return redirect(reverse("cabinet:members") + "?" + query.urlencode())
    filtering = bool(set(request.GET) & set(segments.FIELDS))
    form = MemberFilterForm(request.GET if filtering else None, merchant=merchant,
                            program=program)
    found, before, filters = [], None, {}
    if not filtering or form.is_valid():
        filters = form.filters() if filtering else {}
        rows = segments.search(merchant, filters).order_by("-pk")
        after = _before(request)
        if after is not None:
            rows = rows.filter(pk__lt=after)
        found = list(rows[: PAGE + 1])
        if len(found) > PAGE:
            found = found[:PAGE]
            before = found[-1].pk
    principal = cabinet.principal
    base = _query_without(request, "before")
    return render_page(request, "cabinet/members/list.html", {
        "form": form, "filtering": filtering, "filters": filters,
        "rows": _rows(found, principal, program), "program": program and program.config,
        "currency": merchant.currency,
        "next_url": "?" + urlencode({**{k: v for k, v in request.GET.items()
                                        if k != "before"}, "before": before})
        if before else "",
        "first_url": ("?" + base) if _before(request) else "",
        "query": base,
        "segments": list(Segment.objects.filter(merchant=merchant).order_by("name")),
        "may": {name: principal.may(name) for name in
                ("tag_members", "export_members", "export_records", "send_offers")},
        "segment_form": SegmentForm(),
        "tag_form": TagForm(),
    }, status=422 if filtering and not form.is_valid() else 200)


# --- segments -----------------------------------------------------------------------------------


class SegmentForm(Form):
    name = forms.CharField(label=gettext_lazy("Segment name"), max_length=100)


def _segment(request, segment_id) -> Segment:
    try:
        segment_id = int(segment_id)
    except (TypeError, ValueError):
        raise Http404 from None
    segment = Segment.objects.filter(merchant=request.cabinet.merchant, pk=segment_id).first() \
        if 0 < segment_id < 2**63 else None
    if segment is None:
        raise Http404
    return segment


def _list_url(query: str) -> str:
    return reverse("cabinet:members") + ("?" + query if query else "")


@require_http_methods(["POST"])
@cabinet_view("tag_members")
def segment_save(request):
    """Save the list's current filters (the query string the form carries) as a segment."""
    cabinet = request.cabinet
    merchant = cabinet.merchant
    query = request.POST.get("query", "")[:4000]
    form = SegmentForm(request.POST)
    filter_form = MemberFilterForm(QueryDict(query), merchant=merchant,
                                   program=program_of(merchant))
    if form.is_valid() and filter_form.is_valid():
        try:
            segment = segments.save_segment(
                merchant, name=form.cleaned_data["name"], filters=filter_form.filters(),
                by=cabinet.staff, actor=cabinet.principal.actor)
        except DomainError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
    else:
        messages.error(request, _("Give the segment a name and check the filters."))
    return redirect(_list_url(query))


@require_http_methods(["POST"])
@cabinet_view("tag_members")
def segment_delete(request, segment_id: int):
    segment = _segment(request, segment_id)
    segments.delete_segment(segment, actor=request.cabinet.principal.actor)
    messages.success(request, _("Segment “%(name)s” deleted.") % {"name": segment.name})
    return redirect("cabinet:members")


# --- bulk tags ----------------------------------------------------------------------------------


class TagForm(Form):
    tag = forms.CharField(label=gettext_lazy("Tag"), max_length=members.MAX_TAG_LENGTH)
    action = forms.ChoiceField(choices=[("add", gettext_lazy("Add the tag")),
                                        ("remove", gettext_lazy("Remove the tag"))],
                               widget=forms.HiddenInput, initial="add")


@require_http_methods(["POST"])
@cabinet_view("tag_members")
def bulk_tag(request):
    """Add or remove one tag on the members ticked on a page (each change audited)."""
    cabinet = request.cabinet
    merchant = cabinet.merchant
    query = request.POST.get("query", "")[:4000]
    form = TagForm(request.POST)
    ids = []
    for value in request.POST.getlist("member")[:PAGE]:
        try:
            ids.append(int(value))
        except ValueError:
            continue
    ids = [pk for pk in ids if 0 < pk < 2**63]
    if not form.is_valid() or not ids:
        messages.error(request, _("Tick the members and type the tag."))
        return redirect(_list_url(query))
    tag, adding = " ".join(form.cleaned_data["tag"].split()), form.cleaned_data["action"] == "add"
    changed = 0
    try:
        for member in Member.objects.filter(merchant=merchant, pk__in=ids) \
                .exclude(status=Member.Status.ERASED):
            tags = set(member.tags) | {tag} if adding else set(member.tags) - {tag}
            if sorted(tags) != member.tags:
                members.set_tags(member, sorted(tags), actor=cabinet.principal.actor)
                changed += 1
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, ngettext("%(count)s member changed.",
                                           "%(count)s members changed.", changed)
                         % {"count": changed})
    return redirect(_list_url(query))


urlpatterns = [
    path("members/", member_list, name="members"),
    path("members/segments/", segment_save, name="segment-save"),
    path("members/segments/<int:segment_id>/delete/", segment_delete, name="segment-delete"),
    path("members/tags/", bulk_tag, name="members-tag"),
]
register(Tab("members", gettext_lazy("Members"), "cabinet:members", PERMISSION, order=20))
