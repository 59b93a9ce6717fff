"""The check scripts/replica_drill.sh runs with DATABASE_URL (the primary) and
KOPILKA_REPLICA_URL (its streaming replica) set: a sale through the POS API lands on the
primary, reaches the replica, and the analytics figures are read there. Exits non-zero on any
difference; prints what it saw."""

import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kopilka.settings")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import django  # noqa: E402

django.setup()

from django.db import connections  # noqa: E402
from django.db.utils import DatabaseError  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django_scopes import scope, scopes_disabled  # noqa: E402

from kopilka.core.actor import Actor  # noqa: E402
from kopilka.members.models import Member  # noqa: E402
from kopilka.processing import services as processing  # noqa: E402
from kopilka.processing.models import Purchase  # noqa: E402
from kopilka.programs import services as programs  # noqa: E402
from kopilka.tenancy import services as tenancy  # noqa: E402


def main() -> int:
    actor = Actor.cli()
    created = tenancy.create_merchant("Replica Coffee", owner_email="replica@example.com",
                                      actor=actor)
    merchant = created.merchant
    _terminal, pos_key = tenancy.create_terminal(merchant, store_name="Main", actor=actor)
    with scope(merchant=merchant):
        programs.save_program(merchant, programs.DEFAULT_PROGRAM, actor=actor)
        member = processing.enrol(merchant, phone="+79160001122", first_name="Replica",
                                  channel=Member.Channel.CASHIER, actor=actor)
    client = Client(headers={"Accept-Language": "en"})
    sale = client.post("/api/v1/pos/purchases", {
        "receipt_id": "R-1", "member": {"id": member.pk},
        "lines": [{"line_id": "1", "amount": 20000}], "points_to_spend": 0},
        content_type="application/json",
        headers={"Authorization": f"Bearer {pos_key}", "Idempotency-Key": "R-1"})
    assert sale.status_code == 201, sale.content
    print(f"primary: purchase {sale.json()['purchase_id']} committed, "
          f"{sale.json()['points_accrued']} points")

    started = time.monotonic()
    with scopes_disabled():
        while not Purchase.objects.using("replica").filter(receipt_id="R-1").exists():
            assert time.monotonic() - started < 30, "the replica did not catch up in 30 s"
            time.sleep(0.05)
    print(f"replica: the purchase arrived after {1000 * (time.monotonic() - started):.0f} ms")
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone()[0] is True
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone()[0] is False

    manage = Client(headers={"Accept-Language": "en",
                             "Authorization": f"Bearer {created.api_token}"})
    with (CaptureQueriesContext(connections["replica"]) as on_replica,
          CaptureQueriesContext(connections["default"]) as on_primary):
        figures = manage.get("/api/v1/manage/analytics/figures")
    assert figures.status_code == 200, figures.content
    reads = [q["sql"] for q in on_replica.captured_queries if q["sql"].startswith("SELECT")]
    assert reads, "the figures read nothing on the replica"
    print(f"analytics figures: 200, {len(reads)} reads on the replica, "
          f"{len(on_primary.captured_queries)} queries on the primary "
          f"(authentication and the request's own bookkeeping)")
    print("figures:", json.dumps(figures.json())[:200])
    try:
        with connections["replica"].cursor() as cursor:
            cursor.execute("CREATE TABLE kopilka_write_test (id int)")
    except DatabaseError as error:
        print(f"a write on the replica is refused: {str(error).splitlines()[0]}")
    else:
        raise AssertionError("the replica accepted a write")
    print("== replica drill passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
