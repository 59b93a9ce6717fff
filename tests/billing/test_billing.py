"""Billing (OPS-4): plans' prices, the daily debit across a month with a top-up and a run-out
(grace, then a read-only cabinet while the POS still accrues), period plans, statements and
their PDF and XLSX, exact to the kopeck."""

import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from kopilka.billing import services, statements, tasks
from kopilka.billing.models import Entry, Plan
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput
from tests.cabinet.tools import owner_of, staff_client
from tests.shop import Shop

MSK = ZoneInfo("Europe/Moscow")  # alice's merchant's zone
OPERATOR = Actor.cli()


def at(*moment) -> datetime:
    return datetime(*moment, tzinfo=MSK)


_capture = []


@pytest.fixture(autouse=True)
def _on_commit(django_capture_on_commit_callbacks):
    """The owners' warnings go out after the commit: run those callbacks in these tests."""
    _capture.append(django_capture_on_commit_callbacks)
    yield
    _capture.clear()


def tick(moment: datetime) -> int:
    """The tick's billing job at `moment`, its after-commit work done."""
    with time_machine.travel(moment, tick=False), _capture[0](execute=True):
        return tasks.run(moment)


def words(laid_out) -> str:
    """The text WeasyPrint laid out, in reading order, one space between pieces."""
    from weasyprint.formatting_structure.boxes import TextBox

    def texts(box):
        if isinstance(box, TextBox):
            yield box.text
        for child in getattr(box, "children", ()):
            yield from texts(child)

    return " ".join(" ".join(texts(page._page_box)) for page in laid_out.pages)


def six_months() -> Plan:
    return services.save_plan(code="half-year", name="6 months", months=6,
                              monthly_price=180_000, discount_percent=15, actor=OPERATOR)


def daily() -> Plan:
    return services.save_plan(code="daily", name="Daily", kind=Plan.Kind.DAILY,
                              daily_price=6_000, actor=OPERATOR)


def balance(merchant) -> int:
    with scope(merchant=merchant):
        return services.account(merchant).balance


def test_a_six_month_plan_with_15_percent_off_costs_9180():
    # 1 800,00 ₽ a month x 6 = 10 800,00 ₽; less 15 % (1 620,00 ₽) = 9 180,00 ₽.
    plan = Plan(monthly_price=180_000, months=6, discount_percent=15)
    assert 180_000 * 6 == 1_080_000
    assert 1_080_000 * 15 // 100 == 162_000
    assert plan.period_price == 1_080_000 - 162_000 == 918_000
    # 12 months with -30 %: 21 600,00 ₽ less 6 480,00 ₽.
    assert Plan(monthly_price=180_000, months=12, discount_percent=30).period_price == 1_512_000
    # Half a kopeck rounds up: 3 x 333 x 0.85 = 849.15 -> 849.
    assert Plan(monthly_price=333, months=3, discount_percent=15).period_price == 849


def test_a_period_plan_is_charged_at_the_start_of_each_period_once(alice):
    plan = six_months()
    merchant = alice.merchant
    with scope(merchant=merchant), time_machine.travel(at(2027, 1, 1, 0, 1), tick=False):
        services.top_up(merchant, 1_000_000, note="invoice 1", actor=OPERATOR)
        services.subscribe(merchant, plan, start=date(2027, 1, 1), actor=OPERATOR)
    assert tick(at(2027, 1, 1, 0, 5)) == 1
    assert tick(at(2027, 1, 1, 0, 6)) == 0  # the same day again: nothing
    assert tick(at(2027, 6, 30, 23, 59)) == 0
    assert balance(merchant) == 1_000_000 - 918_000 == 82_000
    # The second period: the money runs out (the charge, and the owners are warned).
    assert tick(at(2027, 7, 1, 0, 5)) == 2
    assert balance(merchant) == 82_000 - 918_000 == -836_000
    with scope(merchant=merchant):
        rows = list(Entry.objects.filter(kind="period").order_by("pk")
                    .values_list("day", "amount", "balance_after", "note"))
        assert rows == [
            (date(2027, 1, 1), -918_000, 82_000, "6 months: 2027-01-01 – 2027-06-30"),
            (date(2027, 7, 1), -918_000, -836_000, "6 months: 2027-07-01 – 2027-12-31"),
        ]
        assert services.subscription(merchant).next_charge_on == date(2028, 1, 1)


def test_a_daily_debit_across_a_month_with_a_top_up_and_a_run_out(alice, client):
    merchant = alice.merchant
    plan = daily()
    shop = Shop(alice)
    owner = owner_of(alice)
    with scope(merchant=merchant), time_machine.travel(at(2026, 12, 1, 0, 1), tick=False):
        shop.program()
        member = shop.join("+79990000077")
        services.top_up(merchant, 100_000, note="invoice 1", actor=OPERATOR)
        services.subscribe(merchant, plan, start=date(2026, 12, 1), actor=OPERATOR)
    mail.outbox.clear()
    for day in range(1, 17):  # 16 days x 60,00 ₽ = 960,00 ₽ of 1 000,00 ₽
        assert tick(at(2026, 12, day, 0, 5)) == 1
        assert tick(at(2026, 12, day, 9, 0)) == 0  # once per merchant-day
    assert balance(merchant) == 100_000 - 16 * 6_000 == 4_000
    assert mail.outbox == []
    # The 17th: 40,00 ₽ left, 60,00 ₽ taken: 20,00 ₽ of debt, the grace period starts.
    assert tick(at(2026, 12, 17, 0, 5)) == 2  # the charge and the owners' warning
    assert balance(merchant) == -2_000
    [warning] = mail.outbox
    assert warning.to == ["alice@example.com"]
    assert warning.body.startswith("Баланс Alice Coffee в Копилке: -20,00")
    assert "До 20 декабря 2026\u202fг. всё работает как обычно" in warning.body
    sms_policy = reverse("cabinet:settings-sms-policy")
    with time_machine.travel(at(2026, 12, 19, 12, 0), tick=False):
        assert tick(at(2026, 12, 18, 0, 5)) == 2
        assert tick(at(2026, 12, 19, 0, 5)) == 2
        with scope(merchant=merchant):
            assert not services.read_only(merchant)
        # Still in grace: changes go through.
        assert owner.post(sms_policy, {"transactional_when_empty": "hold"}).status_code == 302
    assert len(mail.outbox) == 3
    assert tick(at(2026, 12, 20, 0, 5)) == 2
    # In the merchant's language (alice's is Russian).
    assert mail.outbox[-1].subject == (
        "Alice Coffee: кабинет доступен только для просмотра до оплаты счёта")
    with time_machine.travel(at(2026, 12, 20, 12, 0), tick=False):
        with scope(merchant=merchant):
            assert services.read_only(merchant)
        refused = owner.post(sms_policy, {"transactional_when_empty": "send"})
        assert refused.status_code == 403
        assert "The cabinet is read-only" in refused.content.decode()
        assert owner.get(reverse("cabinet:billing")).status_code == 200  # reading goes on
        # The POS keeps accruing: a 1 500,00 ₽ sale earns 5 %.
        with scope(merchant=merchant):
            done = shop.buy(member, 150_000)
            assert done.purchase.points_accrued == 7_500
    for day in (21, 22):
        assert tick(at(2026, 12, day, 0, 5)) == 2
    assert balance(merchant) == 4_000 - 6 * 6_000 == -32_000
    with scope(merchant=merchant), time_machine.travel(at(2026, 12, 22, 12, 0), tick=False):
        entry = services.top_up(merchant, 100_000, note="invoice 2", actor=OPERATOR)
        assert entry.balance_after == 68_000
        assert not services.read_only(merchant)
        assert owner.post(sms_policy, {"transactional_when_empty": "send"}).status_code == 302
    for day in range(23, 32):
        assert tick(at(2026, 12, day, 0, 5)) == 1
    assert balance(merchant) == 68_000 - 9 * 6_000 == 14_000
    assert len(mail.outbox) == 6  # 17th–22nd

    with scope(merchant=merchant):
        december = statements.statement(merchant, date(2026, 12, 1), date(2026, 12, 31))
        assert (december.opening, december.charges, december.payments, december.closing) == (
            0, 31 * 6_000, 200_000, 14_000)
        assert len(december.entries) == 33
        assert december.entries[-1].balance_after == december.closing
        week = statements.statement(merchant, date(2026, 12, 17), date(2026, 12, 22))
        assert (week.opening, week.charges, week.payments, week.closing) == (
            4_000, 36_000, 100_000, 68_000)
        january = statements.statement(merchant, date(2027, 1, 1), date(2027, 1, 31))
        assert (january.opening, january.entries, january.closing) == (14_000, [], 14_000)

        book = openpyxl.load_workbook(io.BytesIO(statements.xlsx(week)))
        sheet = book.active
        values = list(sheet.iter_rows(values_only=True))
        assert values[5][0] == "Opening balance" and values[5][4] == 40.0
        assert [row[2] for row in values[7:13]] == [60.0] * 6
        assert values[13][1:5] == ("Payment · invoice 2", 0.0, 1000.0, 680.0)
        assert values[14][1:4] == ("Total", 360.0, 1000.0)
        assert values[15][0] == "Closing balance" and values[15][4] == 680.0
        laid_out = statements.document(december)
        assert len(laid_out.pages) == 1  # 33 entries fit on one A4 page
        text = words(laid_out)
        assert "Opening balance: RUB0.00" in text and "Closing balance: RUB140.00" in text
        assert "Total RUB1,860.00 RUB2,000.00" in text
        assert laid_out.write_pdf().startswith(b"%PDF-")
        act = statements.document(week, "billing/act.html")
        assert len(act.pages) == 1
        text = words(act)
        assert "Opening balance RUB40.00" in text
        assert "Turnover for the period RUB360.00 RUB1,000.00" in text
        assert "Closing balance RUB680.00" in text
        assert "Prepaid by Alice Coffee at the end of the period: RUB680.00." in text

    with time_machine.travel(at(2026, 12, 31, 12, 0), tick=False):
        owner = owner_of(alice)  # a fresh session: the first one has aged out by now
        page = owner.get(reverse("cabinet:billing"), {"start": "2026-12-17", "end": "2026-12-22"})
        html = page.content.decode()
        assert page.status_code == 200
        assert "RUB40.00" in html and "RUB680.00" in html and "RUB360.00" in html
        xlsx = owner.get(reverse("cabinet:billing-xlsx"), {"start": "2026-12-17",
                                                           "end": "2026-12-22"})
        assert xlsx["Content-Disposition"] == (
            'attachment; filename="statement-alice-coffee-2026-12-17-2026-12-22.xlsx"')
        sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
        assert sheet["E16"].value == 680.0
        pdf = owner.get(reverse("cabinet:billing-act"), {"start": "2026-12-01",
                                                         "end": "2026-12-31"})
        assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")


def test_top_ups_refuse_bad_amounts_and_a_payment_is_recorded_once(alice):
    merchant = alice.merchant
    with scope(merchant=merchant):
        for bad in (0, -1, 10**13, "100", 1.5):
            with pytest.raises(InvalidInput):
                services.top_up(merchant, bad, actor=OPERATOR)
        entry, created = services.record_payment(merchant, 50_000, payment_id="p-1",
                                                 actor=OPERATOR)
        again, created_again = services.record_payment(merchant, 50_000, payment_id="p-1",
                                                       actor=OPERATOR)
        assert (created, created_again, again.pk) == (True, False, entry.pk)
        with pytest.raises(Conflict):
            services.top_up(merchant, 1, key="p-1", actor=OPERATOR)
        assert services.account(merchant).balance == 50_000


def test_the_billing_page_is_for_managers_and_up(alice):
    _staff, cashier = staff_client(alice, "cashier")
    assert cashier.get(reverse("cabinet:billing")).status_code == 403
    _staff, manager = staff_client(alice, "manager")
    assert manager.get(reverse("cabinet:billing")).status_code == 200
    bad = owner_of(alice).get(reverse("cabinet:billing"), {"start": "2026-12-10",
                                                           "end": "2026-12-01"})
    assert bad.status_code == 422
    assert "Must not be before the start." in bad.content.decode()


@override_settings(BILLING_GRACE_DAYS=0)
def test_with_no_grace_the_cabinet_is_read_only_the_day_the_money_runs_out(alice):
    merchant = alice.merchant
    with scope(merchant=merchant), time_machine.travel(at(2026, 12, 1, 0, 1), tick=False):
        services.subscribe(merchant, daily(), actor=OPERATOR)
    tick(at(2026, 12, 1, 0, 5))
    with scopes_disabled(), time_machine.travel(at(2026, 12, 1, 0, 6), tick=False):
        assert services.read_only(merchant)
        assert [a.merchant for a in services.debts()] == [merchant]
    assert timedelta(0) == timedelta(days=0)


def test_odd_periods_never_give_500(alice):
    client = owner_of(alice)
    for name in ("billing", "billing-xlsx", "billing-pdf", "billing-act"):
        for query in ({"start": "\x00"}, {"start": "1e400", "end": "x"},
                      {"start": "2026-12-31", "end": "2026-01-01"},
                      {"start": "1900-01-01", "end": "2026-01-01"}):
            assert client.get(reverse(f"cabinet:{name}"), query).status_code == 422, (
                name, query)
        assert client.post(reverse(f"cabinet:{name}")).status_code == 405


def test_a_pdf_covers_at_most_a_year_and_the_xlsx_any_period(alice):
    client = owner_of(alice)
    year = {"start": "2026-01-01", "end": "2026-12-31"}
    longer = {"start": "2025-01-01", "end": "2026-12-31"}
    assert client.get(reverse("cabinet:billing-pdf"), year).status_code == 200
    refused = client.get(reverse("cabinet:billing-act"), longer)
    assert refused.status_code == 422
    assert refused.content.decode() == (
        "A PDF covers at most a year; download the XLSX for longer.")
    assert client.get(reverse("cabinet:billing-xlsx"), longer).status_code == 200
