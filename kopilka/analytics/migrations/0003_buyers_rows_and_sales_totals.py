"""Buyers rows in the roll-up (figures 5 and 10 without reading the period's purchases) and
the gross sums the cabinet's sales list shows. Existing roll-ups get both by a rebuild from
the raw rows, here: the new columns cannot be filled any other way."""

import datetime

from django.db import migrations, models


def rebuild(apps, schema_editor):
    # The live code (not the historical models): `derive` is the one definition of the rows.
    # A database without merchants (a fresh one, the tests') has nothing to do.
    Merchant = apps.get_model("tenancy", "Merchant")
    if not Merchant.objects.exists():
        return
    from django_scopes import scopes_disabled

    from kopilka.analytics import rollup
    from kopilka.tenancy.models import Merchant as LiveMerchant

    with scopes_disabled():
        # Only the columns rebuild reads: a later migration may add others to the live model.
        rollup.rebuild(LiveMerchant.objects.only("pk", "slug", "timezone").order_by("pk"))


class Migration(migrations.Migration):

    dependencies = [
        ("analytics", "0002_exports"),
        ("processing", "0002_shift"),
        ("members", "0007_member_merchant_newest"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="dayfigures", name="dayfigures_cell"),
        *(migrations.AddField(model_name="dayfigures", name=name,
                              field=models.BigIntegerField(default=0))
          for name in ("purchases", "total", "refunded", "points_reversed", "points_returned",
                       "paid_with_points", "buyers", "customers")),
        migrations.AddField(model_name="dayfigures", name="previous_day",
                            field=models.DateField(default=datetime.date(9999, 12, 31))),
        migrations.AddConstraint(
            model_name="dayfigures",
            constraint=models.UniqueConstraint(
                fields=("merchant", "previous_day", "day", "store_id", "cashier_id"),
                name="dayfigures_key"),
        ),
        migrations.AddIndex(
            model_name="dayfigures",
            index=models.Index(fields=["merchant", "store_id", "day", "previous_day",
                                       "customers", "buyers"], name="dayfigures_buyers"),
        ),
        migrations.RunPython(rebuild, migrations.RunPython.noop, elidable=True),
    ]
