from django.core.management.base import BaseCommand, CommandError

from kopilka.ledger.verify import verify
from kopilka.tenancy.models import Merchant


class Command(BaseCommand):
    help = "Re-prove every ledger invariant and name the first broken row of each account."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", help="merchant slug (default: all merchants)")

    def handle(self, *args, merchant=None, **options):
        merchant_id = None
        if merchant:
            found = Merchant.objects.filter(slug=merchant).first()
            if found is None:
                raise CommandError(f"No merchant with slug {merchant!r}.")
            merchant_id = found.pk
        checked, breaches = verify(merchant_id)
        for breach in breaches:
            self.stderr.write(f"BROKEN {breach}")
        if breaches:
            raise CommandError(f"{len(breaches)} of {checked} accounts are broken.")
        self.stdout.write(f"OK: {checked} accounts verified.")
