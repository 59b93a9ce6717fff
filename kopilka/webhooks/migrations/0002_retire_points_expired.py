"""`points.expired` leaves the catalogue: nothing ever sent it (points expire both in the daily
sweep and inside any operation that opens the account, so no one place sees every expiry).
Endpoints that listed it stop listing it; their other events are unchanged."""

from django.db import migrations

RETIRED = "points.expired"


def forwards(apps, schema_editor):
    for name in ("Endpoint", "Subscription"):
        model = apps.get_model("webhooks", name)
        for row in model._base_manager.filter(events__icontains=RETIRED):
            if RETIRED in row.events:
                row.events = [event for event in row.events if event != RETIRED]
                if name == "Subscription" and not row.events:
                    row.delete()
                else:
                    row.save(update_fields=["events"])


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
