"""Reviews: the list, the dialog with the member, quality per cashier and store (#20).

- `reviews/`: the list with the purchase (date, receipt, amount, store, cashier), the member
  (phone masked unless the role may see phones), score, status, assignee and the date of the
  last comment; filters by status, score, store, cashier and period (GET, so a filtered list
  is a link).
- `reviews/<id>/`: the review and its dialog; answering (the member gets an SMS with a link),
  assigning and the status need `answer_reviews`.
- `reviews/quality/`: NPS, average and review count per cashier and store, with the sales
  behind them (FBK-3).
- `reviews/settings/`: asking for reviews after a purchase, the delay, how often, the low-score
  e-mail (`manage_messaging`).
"""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from kopilka.core.errors import DomainError
from kopilka.core.phones import mask_phone
from kopilka.feedback import quality
from kopilka.feedback import services as feedback
from kopilka.feedback.models import Review
from kopilka.tenancy import access
from kopilka.tenancy.counter import display_name
from kopilka.tenancy.models import Staff, Store
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.tabs import Tab, register
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page

PAGE = 100  # reviews per page of the list
DEFAULT_DAYS = 30


def _stores(merchant) -> list[Store]:
    return list(Store.objects.filter(merchant=merchant).order_by("name"))


def _cashiers(merchant) -> list[Staff]:
    return list(Staff.objects.filter(merchant=merchant).select_related("user")
                .order_by("user__first_name", "user__email"))


def _managers(merchant) -> list[Staff]:
    return [staff for staff in _cashiers(merchant)
            if staff.active and access.role_may(staff.role, "answer_reviews")]


class FilterForm(Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False)
    score = forms.TypedChoiceField(label=gettext_lazy("Score"), required=False, coerce=int,
                                   empty_value=None)
    store = forms.TypedChoiceField(label=gettext_lazy("Store"), required=False, coerce=int,
                                   empty_value=None)
    cashier = forms.TypedChoiceField(label=gettext_lazy("Cashier"), required=False, coerce=int,
                                     empty_value=None)
    since = forms.DateField(label=gettext_lazy("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=gettext_lazy("To"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, merchant, **kwargs):
        super().__init__(*args, **kwargs)
        anything = [("", _("Any"))]
        self.fields["status"].choices = anything + list(Review.Status.choices)
        self.fields["score"].choices = anything + [(n, str(n)) for n in range(5, 0, -1)]
        self.fields["store"].choices = anything + [(s.pk, s.name) for s in _stores(merchant)]
        self.fields["cashier"].choices = anything + [(s.pk, display_name(s))
                                                     for s in _cashiers(merchant)]

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            self.add_error("until", _("The period must not end before it starts."))
        return data


def _member_label(member, principal) -> str:
    person = member.person
    if member.phone_hidden:
        phone = f"@{person.alias}" if person.alias else ""
    elif person.phone:
        phone = str(person.phone)
        if not principal.sees_full_phones:
            phone = mask_phone(phone)
    else:
        phone = ""
    return " · ".join(part for part in (member.full_name, phone) if part) or str(_("erased"))


@require_safe
@cabinet_view("read_reviews")
def review_list(request):
    cabinet = request.cabinet
    merchant = cabinet.merchant
    form = FilterForm(request.GET or None, merchant=merchant)
    rows = (Review.objects.filter(merchant=merchant)
            .select_related("purchase", "store", "cashier__user", "member__person",
                            "assigned__user")
            .order_by("-last_message_at", "-pk"))
    status = 200
    if form.is_bound:
        if form.is_valid():
            data = form.cleaned_data
            for name, lookup in (("status", "status"), ("score", "score"),
                                 ("store", "store_id"), ("cashier", "cashier_id")):
                if data.get(name) not in (None, ""):
                    rows = rows.filter(**{lookup: data[name]})
            if data.get("since") or data.get("until"):
                since, before = quality.bounds(merchant, data.get("since") or data["until"],
                                               data.get("until") or data["since"])
                rows = rows.filter(Q(created_at__gte=since) if data.get("since") else Q(),
                                   Q(created_at__lt=before) if data.get("until") else Q())
        else:
            rows, status = rows.none(), 422
    page = request.GET.get("page", "1")
    page = int(page) if page.isascii() and page.isdigit() and 0 < int(page) < 10_000 else 1
    found = list(rows[(page - 1) * PAGE: page * PAGE + 1])
    more = len(found) > PAGE
    items = [{"review": review, "member": _member_label(review.member, cabinet.principal),
              "cashier": display_name(review.cashier) if review.cashier else ""}
             for review in found[:PAGE]]
    query = request.GET.copy()
    query.pop("page", None)
    return render_page(request, "cabinet/reviews/list.html", {
        "form": form, "items": items, "page": page, "more": more, "query": query.urlencode(),
        "currency": merchant.currency, "section": "list",
        "may_settings": cabinet.principal.may("manage_messaging"),
    }, status=status)


class AnswerForm(Form):
    text = forms.CharField(label=gettext_lazy("Answer"), max_length=feedback.MAX_TEXT,
                           widget=forms.Textarea(attrs={"rows": 4}),
                           help_text=gettext_lazy("The member gets an SMS with a link to "
                                                  "this dialog."))


def _review(merchant, review_id: int) -> Review:
    review = (Review.objects.select_related("purchase", "store", "cashier__user",
                                            "member__person", "assigned__user", "merchant")
              .filter(merchant=merchant, pk=review_id).first())
    if review is None:
        raise Http404
    return review


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("read_reviews")
def review_detail(request, review_id: int):
    cabinet = request.cabinet
    merchant = cabinet.merchant
    review = _review(merchant, review_id)
    may_answer = cabinet.principal.may("answer_reviews")
    form = AnswerForm()
    status, refusal = 200, ""
    if request.method == "POST":
        if not may_answer:
            return render_page(request, "cabinet/refused.html",
                               {"staff": cabinet.staff, "counter": False}, status=403)
        action = request.POST.get("action", "")
        actor = cabinet.principal.actor
        try:
            if action == "answer":
                form = AnswerForm(request.POST)
                status = 422
                if form.is_valid():
                    feedback.answer(review, staff=cabinet.staff,
                                    text=form.cleaned_data["text"], actor=actor)
                    messages.success(request, _("Answer sent. The member gets an SMS."))
                    return redirect("cabinet:review", review.pk)
            elif action == "assign":
                raw = request.POST.get("assigned", "")
                staff_id = int(raw) if raw.isascii() and raw.isdigit() else None
                if raw and staff_id is None:
                    raise Http404
                feedback.assign(review, staff_id=staff_id, actor=actor)
                messages.success(request, _("Saved."))
                return redirect("cabinet:review", review.pk)
            elif action == "status":
                feedback.set_status(review, status=request.POST.get("status", ""), actor=actor)
                messages.success(request, _("Status changed."))
                return redirect("cabinet:review", review.pk)
            else:
                status = 422
        except DomainError as error:
            refusal = str(error.detail)
            status = error.status if error.status in (404, 409) else 422
    now = timezone.now()
    return render_page(request, "cabinet/reviews/detail.html", {
        "review": review, "purchase": review.purchase, "currency": merchant.currency,
        "member": _member_label(review.member, cabinet.principal),
        "cashier": display_name(review.cashier) if review.cashier else "",
        "thread": feedback.thread(review), "form": form, "may_answer": may_answer,
        "closed": review.status == Review.Status.PROCESSED,
        "managers": [(staff.pk, display_name(staff)) for staff in _managers(merchant)],
        "statuses": Review.Status.choices, "editable": now < review.editable_until,
        "refusal": refusal,
        "section": "list",
        "may_settings": cabinet.principal.may("manage_messaging"),
    }, status=status)


class PeriodForm(Form):
    since = forms.DateField(label=gettext_lazy("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=gettext_lazy("To"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))


@require_safe
@cabinet_view("read_reviews")
def review_quality(request):
    merchant = request.cabinet.merchant
    form = PeriodForm(request.GET or None)
    today = timezone.localdate()
    start, end = today - timedelta(days=DEFAULT_DAYS - 1), today
    status = 200
    if form.is_bound:
        if form.is_valid():
            start = form.cleaned_data.get("since") or start
            end = form.cleaned_data.get("until") or end
        if not form.is_valid() or end < start or (end - start).days > 3 * 366:
            form.add_error(None, _("The period must not end before it starts."))
            start, end, status = today - timedelta(days=DEFAULT_DAYS - 1), today, 422
    cashiers = {staff.pk: display_name(staff) for staff in _cashiers(merchant)}
    stores = {store.pk: store.name for store in _stores(merchant)}
    return render_page(request, "cabinet/reviews/quality.html", {
        "form": form, "start": start, "end": end,
        "total": quality.summary(merchant, start, end),
        "cashiers": quality.per(merchant, start, end, "cashier_id", labels=cashiers),
        "stores": quality.per(merchant, start, end, "store_id", labels=stores),
        "section": "quality",
        "may_settings": request.cabinet.principal.may("manage_messaging"),
    }, status=status)


class SettingsForm(Form):
    requests_on = forms.BooleanField(label=gettext_lazy("Ask members for a review after a "
                                                        "purchase"), required=False)
    delay_minutes = forms.IntegerField(
        label=gettext_lazy("Minutes after the purchase"), min_value=0, max_value=7 * 24 * 60,
        help_text=gettext_lazy("The SMS waits for the end of quiet hours. Only members who "
                               "agreed to messages get it."))
    once_per_days = forms.IntegerField(
        label=gettext_lazy("At most one request per member in this many days"),
        min_value=1, max_value=365)
    alert_on = forms.BooleanField(label=gettext_lazy("E-mail the owners about a low score"),
                                  required=False)
    alert_score = forms.TypedChoiceField(
        label=gettext_lazy("A low score is"), coerce=int,
        choices=[(n, gettext_lazy("%(score)s or less") % {"score": n}) for n in range(1, 5)])


@require_http_methods(["GET", "HEAD", "POST"])
@cabinet_view("manage_messaging")
def review_settings(request):
    cabinet = request.cabinet
    merchant = cabinet.merchant
    row = feedback.settings_for(merchant)
    initial = {name: getattr(row, name) for name in SettingsForm.base_fields}
    form = SettingsForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if form.is_bound:
        status = 422
        if form.is_valid():
            try:
                feedback.save_settings(merchant, **form.cleaned_data,
                                       actor=cabinet.principal.actor)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None,
                               str(error.detail))
            else:
                messages.success(request, _("Saved."))
                return redirect("cabinet:review-settings")
    return render_page(request, "cabinet/reviews/settings.html",
                       {"form": form, "section": "settings", "may_settings": True}, status=status)


urlpatterns = [
    path("reviews/", review_list, name="reviews"),
    path("reviews/<int:review_id>/", review_detail, name="review"),
    path("reviews/quality/", review_quality, name="review-quality"),
    path("reviews/settings/", review_settings, name="review-settings"),
]
register(Tab("reviews", gettext_lazy("Reviews"), "cabinet:reviews", "read_reviews", order=50))
