"""/cabinet/: each part of the cabinet keeps its own routes (and registers its tab) next to its
views."""

from kopilka.web.cabinet.views import (
    account,
    analytics,
    billing,
    campaigns,
    home,
    members,
    members_page,
    offers,
    program,
    promo_codes,
    referrals,
    reviews,
    rewards,
    sales,
    settings,
    settings_audit,
    settings_brand,
    settings_keys,
    settings_messages,
    settings_webhooks,
    start,
)

app_name = "cabinet"
urlpatterns = [
    *home.urlpatterns,  # "" (the home)
    *account.urlpatterns,  # sign-up, sign-in and out, choosing the business
    *start.urlpatterns,  # program templates, the first store, cashier and counter
    *members.urlpatterns,  # members/
    *members_page.urlpatterns,  # members/<id>/
    *sales.urlpatterns,  # sales/
    *program.urlpatterns,  # program/
    *settings.urlpatterns,  # settings/
    *settings_keys.urlpatterns,  # settings/keys/, settings/tokens/
    *settings_webhooks.urlpatterns,  # settings/webhooks/
    *settings_messages.urlpatterns,  # settings/messages/, settings/sms/
    *settings_audit.urlpatterns,  # settings/audit/
    *settings_brand.urlpatterns,  # settings/brand/
    *analytics.urlpatterns,  # analytics/
    *reviews.urlpatterns,  # reviews/
    *campaigns.urlpatterns,  # campaigns/
    *offers.urlpatterns,  # offers/
    *promo_codes.urlpatterns,  # campaigns/promo/
    *rewards.urlpatterns,  # rewards/
    *referrals.urlpatterns,  # referrals/
    *billing.urlpatterns,  # billing/
]
