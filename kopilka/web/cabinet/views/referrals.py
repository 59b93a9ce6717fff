"""Referral settings and figures (#18): `/cabinet/referrals/`.

The program's referral settings in words (they are edited with the program, in the program
editor) and what they did: members who brought friends, the newcomers, how many of them
bought, the points paid for them (less what refunds took back), and the top referrers.
"""

from decimal import Decimal

from django.db.models import Count
from django.urls import path
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods

from kopilka.members.models import Member
from kopilka.programs import services as programs
from kopilka.programs.config import ProgramConfig, ReferralProgram
from kopilka.referrals import services as referrals
from kopilka.referrals.models import Referral
from kopilka.tenancy import access
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.tabs import Tab, register
from kopilka.web.htmx import render_page
from kopilka.web.templatetags.kopilka import points, points_word

TOP = 10


def _percent(value: Decimal) -> str:
    return number_format(value.normalize() if value % 1 else int(value))


def settings_lines(config: ReferralProgram, program: ProgramConfig) -> list[str]:
    """The referral settings as the owner would say them."""
    lines = []
    if config.newcomer_gift is not None:
        lines.append(_("A newcomer gets %(points)s for joining by a recommendation.")
                     % {"points": points(config.newcomer_gift.points, program)})
    for level, rule in enumerate(config.levels, start=1):
        if config.basis == "fixed":
            amount = points(rule.points, program)
        elif config.basis == "points":
            amount = _("%(percent)s%% of the points the friend earns") % {
                "percent": _percent(rule.percent)}
        else:
            amount = _("%(percent)s%% of the friend's purchase") % {
                "percent": _percent(rule.percent)}
        lines.append(_("Level %(level)s: %(amount)s") % {"level": level, "amount": amount})
    if config.period == "first_purchase":
        lines.append(_("Only the friend's first purchase is rewarded."))
    else:
        lines.append(ngettext("Every purchase of the friend within %(days)s day of joining is "
                              "rewarded.",
                              "Every purchase of the friend within %(days)s days of joining is "
                              "rewarded.", config.days) % {"days": config.days})
    if config.invite_only:
        lines.append(_("By invitation only: a newcomer must name a member who may invite."))
    if config.invite_after_points:
        lines.append(_("Members may invite after earning %(points)s.")
                     % {"points": points(config.invite_after_points, program)})
    return lines


def _figure(amount: int, program: ProgramConfig | None) -> str:
    """Points as a big figure: the number, and the word smaller (`figure__unit`)."""
    if program is None:
        return "0"
    return format_html('{}\u00a0<span class="figure__unit">{}</span>',
                       points(amount, program, word=False), points_word(amount, program))


@require_http_methods(["GET", "HEAD"])
@cabinet_view("read_analytics")
def overview(request):
    cabinet = request.cabinet
    merchant = cabinet.merchant
    program = None
    if access.context(merchant)["program"] is not None:
        program = programs.load(merchant).config
    config = program.referral if program is not None else None
    figures = referrals.figures(merchant)
    top = list(Referral.objects.filter(merchant=merchant).values("referrer_id")
               .annotate(friends=Count("pk")).order_by("-friends", "referrer_id")[:TOP])
    names = Member.objects.select_related("person").in_bulk([row["referrer_id"] for row in top])
    return render_page(request, "cabinet/referrals/overview.html", {
        "merchant": merchant, "program": program, "config": config,
        "lines": settings_lines(config, program) if config is not None else [],
        "figures": figures,
        "paid": _figure(figures.rewards_points - figures.rewards_reversed, program),
        "gifts": _figure(figures.newcomer_gifts, program),
        "top": [{"member": names[row["referrer_id"]], "friends": row["friends"]}
                for row in top],
        "may_edit": cabinet.principal.may("edit_program"),
    })


urlpatterns = [
    path("referrals/", overview, name="referrals"),
]
register(Tab("referrals", gettext_lazy("Referrals"), "cabinet:referrals", "read_analytics",
             order=60))
