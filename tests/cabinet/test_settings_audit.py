"""The audit log in the cabinet: filters by actor, action, object and period, keyset pages
that neither skip nor repeat a row (even rows of the same moment), bad input a form error,
another merchant's entries never shown, a cashier refused."""

import re
from datetime import timedelta

import time_machine
from django_scopes import scopes_disabled

from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.models import AuditEntry
from kopilka.tenancy.models import Staff, Store
from tests.cabinet.tools import owner_of, staff_client

ROW = re.compile(r'data-entry="(\d+)"')


def ids(html: str) -> list[int]:
    return [int(found) for found in ROW.findall(html)]


def test_filters_and_keyset_pages(alice, bob):
    owner = owner_of(alice)
    manager, client = staff_client(alice, Staff.Role.MANAGER)
    with scopes_disabled():
        store = Store.objects.get(merchant=alice.merchant)
        start = AuditEntry.objects.filter(merchant=alice.merchant).count()
        at = clock.now()
        made = AuditEntry.objects.bulk_create(
            AuditEntry(merchant=alice.merchant, actor_kind="staff",
                       actor_label=manager.user.email, actor_user_id=manager.user_id,
                       action="tenancy.store.updated", object_type="tenancy.store",
                       object_id=str(store.pk), data={"n": n},
                       created_at=at - timedelta(minutes=n // 2))  # pairs share a moment
            for n in range(120))
        audit.record("tenancy.store.updated", actor=Actor.cli(), merchant=bob.merchant,
                     obj=Store.objects.get(merchant=bob.merchant))
        expected = list(AuditEntry.objects.filter(actor_user_id=manager.user_id)
                        .order_by("-created_at", "-pk").values_list("pk", flat=True))
    assert len(expected) == 122  # with the manager's own joining: invited, accepted
    assert set(expected) >= {row.pk for row in made}
    seen, url = [], f"/cabinet/settings/audit/?actor={manager.user_id}"
    while url:
        html = client.get(url).content.decode()
        seen += ids(html)
        following = re.search(r'href="([^"]+)" data-next', html)
        url = "/cabinet/settings/audit/" + following.group(1).replace("&amp;", "&") \
            if following else None
    assert seen == expected  # 50 + 50 + 22, none skipped, none twice
    everything = ids(owner.get("/cabinet/settings/audit/?action=tenancy.store").content.decode())
    assert len(everything) == 50
    with scopes_disabled():
        assert AuditEntry.objects.filter(merchant=alice.merchant).count() == start + 120
    one = owner.get(f"/cabinet/settings/audit/?object_type=tenancy.store&object_id={store.pk}"
                    f"&action=tenancy.store.updated&actor={manager.user_id}").content.decode()
    assert ids(one) == [pk for pk in expected if pk in {row.pk for row in made}][:50]


def test_the_period_and_the_actions_own_words(alice):
    client = owner_of(alice)
    with time_machine.travel("2026-03-01 10:00Z", tick=False), scopes_disabled():
        first = audit.record("messaging.template.saved", actor=Actor.cli(),
                             merchant=alice.merchant, data={"event": "accrual"})
    with time_machine.travel("2026-03-05 10:00Z", tick=False), scopes_disabled():
        second = audit.record("messaging.template.saved", actor=Actor.cli(),
                              merchant=alice.merchant)
    html = client.get("/cabinet/settings/audit/?action=messaging.&start=2026-03-01"
                      "&end=2026-03-04").content.decode()
    assert ids(html) == [first.pk]
    assert '{"event": "accrual"}' in html.replace("&quot;", '"')
    assert ids(client.get("/cabinet/settings/audit/?action=messaging.&start=2026-03-05"
                          ).content.decode()) == [second.pk]


def test_bad_input_is_a_form_error_and_a_cashier_is_refused(alice):
    client = owner_of(alice, language="ru")
    wrong = client.get("/cabinet/settings/audit/?start=2026-03-05&end=2026-03-01")
    assert wrong.status_code == 422 and "Не раньше начала." in wrong.content.decode()
    odd = client.get("/cabinet/settings/audit/?start=yesterday&after=%00_x&actor=nobody")
    assert odd.status_code == 422 and "Введите правильную дату." in odd.content.decode()
    assert client.get("/cabinet/settings/audit/?after=not-a-cursor").status_code == 200
    _cashier, cashier = staff_client(alice, Staff.Role.CASHIER)
    assert cashier.get("/cabinet/settings/audit/").status_code == 403
