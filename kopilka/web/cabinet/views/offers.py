"""Targeted offers in the cabinet (CMP-4): the list, a new offer for a saved segment, and an
offer's page — before sending the recipients, SMS parts, cost and the SMS balance, and the
send button; while sending the progress (polled by htmx); afterwards the results. No tab of
its own: the campaigns page and the member list's segments link here."""

from django import forms
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from kopilka.campaigns import offers
from kopilka.campaigns.models import Offer
from kopilka.core.errors import DomainError
from kopilka.members.models import Segment
from kopilka.messaging import billing
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.views.campaigns import PointsField, _program
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page


class OfferForm(Form):
    segment = forms.ModelChoiceField(label=gettext_lazy("Segment"), queryset=Segment.objects
                                     .none(), empty_label=None)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200,
                           help_text=gettext_lazy("For you; members do not see it."))
    text = forms.CharField(
        label=gettext_lazy("SMS text"), max_length=offers.MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Placeholders: {name} the member's name, {points} the gift, "
                               "{date} its last day, {merchant} your business's name."))
    points = PointsField(label=gettext_lazy("Gift points"), required=False,
                         help_text=gettext_lazy("Empty: no gift, only the SMS."))
    validity_days = forms.IntegerField(
        label=gettext_lazy("Gift valid for, days"), required=False, min_value=1,
        max_value=offers.MAX_DAYS, help_text=gettext_lazy("Empty: as the program says."))
    window_days = forms.IntegerField(
        label=gettext_lazy("Count purchases for, days"), initial=30, min_value=1,
        max_value=365, help_text=gettext_lazy("Purchases by recipients within this many days "
                                              "after their SMS are the offer's results."))

    def __init__(self, *args, merchant, precision: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = Segment.objects.filter(merchant=merchant) \
            .order_by("name")
        self.fields["points"].precision = precision


def _offer(request, offer_id: int) -> Offer:
    found = (Offer.objects.filter(pk=offer_id, merchant=request.cabinet.merchant)
             .select_related("merchant", "segment").first())
    if found is None:
        raise Http404
    return found


@require_safe
@cabinet_view("send_offers")
def offer_list(request):
    merchant = request.cabinet.merchant
    rows = Offer.objects.filter(merchant=merchant).order_by("-created_at", "-pk")[:200]
    return render_page(request, "cabinet/offers/list.html", {"offers": rows})


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("send_offers")
def offer_new(request):
    merchant = request.cabinet.merchant
    program = _program(merchant)
    initial = {"window_days": 30}
    chosen = request.GET.get("segment", "")
    if chosen.isdigit():
        initial["segment"] = int(chosen)
    form = OfferForm(request.POST if request.method == "POST" else None, merchant=merchant,
                     precision=program.points_precision if program else 0, initial=initial)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            created = offers.create_offer(
                merchant, segment=data["segment"], name=data["name"], text=data["text"],
                points=data["points"] or 0, validity_days=data["validity_days"],
                window_days=data["window_days"], actor=request.cabinet.principal.actor)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None,
                           str(error.detail))
        else:
            return redirect("cabinet:offer", created.pk)
    has_segments = form.fields["segment"].queryset.exists()
    return render_page(request, "cabinet/offers/new.html",
                       {"form": form, "has_segments": has_segments},
                       status=422 if form.is_bound else 200)


def _detail(request, offer: Offer, problem: str = "", status: int = 200,
            fragment: str = "content"):
    context = {"offer": offer, "program": _program(offer.merchant), "problem": problem}
    if offer.status == Offer.Status.DRAFT:
        figures = offers.estimate(offer)
        context.update(estimate=figures, sms_currency=billing.currency(),
                       preview=offers.preview(offer))
    else:
        context["results"] = offers.results(offer)
    return render_page(request, "cabinet/offers/detail.html", context, status=status,
                       fragment=fragment)


@require_safe
@cabinet_view("send_offers")
def offer_detail(request, offer_id: int):
    return _detail(request, _offer(request, offer_id))


@require_safe
@cabinet_view("send_offers")
def offer_progress(request, offer_id: int):
    return _detail(request, _offer(request, offer_id), fragment="progress")


@require_POST
@cabinet_view("send_offers")
def offer_send(request, offer_id: int):
    offer = _offer(request, offer_id)
    try:
        offers.send(offer, actor=request.cabinet.principal.actor)
    except DomainError as error:
        return _detail(request, offer, problem=str(error.detail), status=error.status)
    return redirect("cabinet:offer", offer.pk)


urlpatterns = [
    path("offers/", offer_list, name="offers"),
    path("offers/new/", offer_new, name="offer-new"),
    path("offers/<int:offer_id>/", offer_detail, name="offer"),
    path("offers/<int:offer_id>/progress/", offer_progress, name="offer-progress"),
    path("offers/<int:offer_id>/send/", offer_send, name="offer-send"),
]
