"""Reviews and NPS: a request after a purchase, the member's score and comment, the merchant's
answer in a dialog, quality per cashier and store (FBK-1 … FBK-3)."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    name = "kopilka.feedback"
    label = "feedback"
    verbose_name = _("Reviews")

    def ready(self):
        from kopilka.automation import tick
        from kopilka.feedback import hooks, services  # noqa: F401  (subscribe to domain events)
        from kopilka.feedback.models import Settings
        from kopilka.tenancy import access

        # Every sale asks whether to schedule a review request: joined where tenancy
        # authenticates, so a POS sale pays no query for it.
        access.provide("review_settings", relation="review_settings",
                       load=lambda merchant: Settings.objects.filter(merchant=merchant).first())
        # The safety net of the deferred task, and the only sender where the tasks backend
        # cannot defer (Celery): requests whose moment has come.
        tick.register("review requests due", lambda at: services.send_due(at))
