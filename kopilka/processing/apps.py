from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProcessingConfig(AppConfig):
    name = "kopilka.processing"
    label = "processing"
    verbose_name = _("Processing")

    def ready(self):
        from kopilka.ledger import causes
        from kopilka.members import services as members

        # The counter look-ups join the member's points account: the POS answers with the
        # balance, and `_book.account` uses the joined row instead of another query. Registered
        # by its reader, not named by members (members sits below the ledger).
        members.join_at_the_counter("account")

        # Why processing changes balances, and what each cause id names (ledger/causes.py).
        causes.register("welcome", "members.Member id: the welcome bonus at enrolment")
        causes.register("self_registration",
                        "members.Member id: the gift for joining by the merchant's link (MEM-5)")
        causes.register("purchase", "processing.Purchase id: its accrual and spent points")
        causes.register("first_purchase", "processing.Purchase id: the first-purchase gift")
        causes.register("refund", "processing.Refund id: points reversed and returned")
        causes.register("transfer", "processing.Transfer id: points sent between members")
        causes.register("adjustment", "processing.Adjustment id: a staff member's grant or "
                                      "deduction")
