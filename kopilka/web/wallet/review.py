"""The review form from a purchase's signed link, and the member's side of the dialog (#20).

- `/my/r/<token>`: the link of a review request shows the purchase and the form without
  signing in (GET never uses the link up: SMS apps fetch links for previews). Sending the
  review uses the link and signs the device in to the wallet, on the review's page, where the
  member may change it for a day and reads and answers the shop. The same address takes the
  link of an "answer" SMS: a button signs in on the dialog. A used or expired link gets a page
  saying so (410), an unknown one 404.
- `/my/reviews/`, `/my/reviews/<id>/`: the signed-in person's reviews at every shop.
"""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from kopilka.core.errors import DomainError
from kopilka.feedback import services as feedback
from kopilka.feedback.models import AnswerLink, Review, ReviewRequest
from kopilka.members import wallet
from kopilka.tenancy import access
from kopilka.tenancy.logins import client_ip
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page
from kopilka.web.wallet import signin
from kopilka.web.wallet.person import as_member, wallet_view
from kopilka.web.wallet.person import tabs as _tabs

SCORES = [(n, str(n)) for n in range(1, 6)]


class ReviewForm(Form):
    score = forms.TypedChoiceField(label=gettext_lazy("Your score"), choices=SCORES, coerce=int,
                                   widget=forms.RadioSelect,
                                   error_messages={"required": gettext_lazy(
                                       "Choose a score from 1 to 5.")})
    comment = forms.CharField(label=gettext_lazy("Comment"), required=False,
                              max_length=feedback.MAX_TEXT,
                              widget=forms.Textarea(attrs={"rows": 4}))


class ReplyForm(Form):
    text = forms.CharField(label=gettext_lazy("Your message"), max_length=feedback.MAX_TEXT,
                           widget=forms.Textarea(attrs={"rows": 3}))


def _refuse(form, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, str(error.detail))


def _gone(request, state: str):
    return render_page(request, "wallet/review_gone.html", {"state": state}, status=410)


def _scoped(request, member):
    """The member's merchant scope and zone, as the wallet's pages work (as_member)."""
    return as_member(request, member)


@require_http_methods(["GET", "POST"])
def link(request, token: str):
    found = feedback.find_link(token)
    if found is None:
        raise Http404
    state = feedback.link_state(found)
    if state != "open":
        return _gone(request, state)
    if isinstance(found, AnswerLink):
        return _answer_link(request, found)
    return _rate(request, found, token)


def _rate(request, found: ReviewRequest, token: str):
    member = found.member
    with _scoped(request, member):
        form = ReviewForm(request.POST if request.method == "POST" else None)
        status = 200
        if form.is_bound:
            status = 422
            if form.is_valid():
                try:
                    review = feedback.submit(found, score=form.cleaned_data["score"],
                                             comment=form.cleaned_data["comment"])
                except DomainError as error:
                    if feedback.link_state(feedback.find_link(token)) != "open":
                        return _gone(request, "used")
                    _refuse(form, error)
                else:
                    messages.success(request, _("Thank you! The shop will read your review."))
                    response = redirect("wallet:review", review.pk)
                    signin.remember(response, member.person)
                    return response
        return render_page(request, "wallet/review.html", {
            "form": form, "purchase": found.purchase, "merchant": found.merchant,
            "store": found.purchase.store, "action": reverse("wallet:review-link", args=[token]),
        }, status=status)


def _answer_link(request, found: AnswerLink):
    review = found.review
    if request.method == "GET":
        return render_page(request, "wallet/review_open.html", {
            "merchant": found.merchant, "token_url": request.path})
    with access.enter(access.Principal.for_member(review.member, ip=client_ip(request))):
        try:
            feedback.use_answer_link(found)
        except DomainError:
            return _gone(request, "used")
    response = redirect("wallet:review", review.pk)
    signin.remember(response, review.member.person)
    return response


def _own_review(request, review_id: int) -> Review:
    """One of the signed-in person's reviews (any of their shops); 404 for anyone else's."""
    memberships = {member.pk: member for member in wallet.memberships(request.person)}
    for member in memberships.values():
        with access.enter(access.Principal.for_member(member)):
            review = (Review.objects.select_related("purchase", "store", "merchant")
                      .filter(merchant=member.merchant, member=member, pk=review_id).first())
        if review is not None:
            review.member = member
            return review
    raise Http404


@require_safe
@wallet_view
def reviews(request):
    found = []
    for member in wallet.memberships(request.person):
        with as_member(request, member):
            found += list(Review.objects.select_related("purchase", "merchant", "store")
                          .filter(merchant=member.merchant, member=member))
    found.sort(key=lambda review: review.last_message_at, reverse=True)
    return render_page(request, "wallet/reviews.html", {
        "reviews": found, "tabs": _tabs(request, "shops")})


@require_http_methods(["GET", "POST"])
@wallet_view
def review(request, review_id: int):
    review = _own_review(request, review_id)
    member = review.member
    with as_member(request, member) as actor:
        now = timezone.now()
        edit_form = reply_form = None
        status = 200
        action = request.POST.get("action", "") if request.method == "POST" else ""
        if action == "edit":
            edit_form = ReviewForm(request.POST)
            status = 422
            if edit_form.is_valid():
                try:
                    feedback.edit(review, score=edit_form.cleaned_data["score"],
                                  comment=edit_form.cleaned_data["comment"], actor=actor)
                except DomainError as error:
                    _refuse(edit_form, error)
                else:
                    messages.success(request, _("Your review is changed."))
                    return redirect("wallet:review", review.pk)
        elif action == "reply":
            reply_form = ReplyForm(request.POST)
            status = 422
            if reply_form.is_valid():
                try:
                    feedback.reply(review, text=reply_form.cleaned_data["text"], actor=actor)
                except DomainError as error:
                    _refuse(reply_form, error)
                else:
                    return redirect("wallet:review", review.pk)
        elif action:
            status = 422
        editable = now < review.editable_until
        if edit_form is None and editable:
            edit_form = ReviewForm(initial={"score": review.score, "comment": review.comment})
        if reply_form is None:
            reply_form = ReplyForm()
        return render_page(request, "wallet/review_thread.html", {
            "review": review, "merchant": review.merchant, "purchase": review.purchase,
            "thread": feedback.thread(review), "edit_form": edit_form if editable else None,
            "reply_form": reply_form, "closed": review.status == Review.Status.PROCESSED,
            "tabs": _tabs(request, "shops", member),
        }, status=status)


urlpatterns = [
    path("r/<str:token>", link, name="review-link"),
    path("reviews/", reviews, name="reviews"),
    path("reviews/<int:review_id>/", review, name="review"),
]
