"""Demo data for `kopilka up --demo`: one café with a store, a terminal, a few members, and
counter staff: a manager who signs a browser in as the store's counter, and cashiers with PINs.

Created once. The secrets are written to `<data dir>/demo-credentials.txt` (mode 600) when the
demo is created, so later runs can print them again instead of creating anything twice.
"""

import os
import secrets
from datetime import date, time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django_scopes import scope

from kopilka.core.actor import Actor
from kopilka.members import services as members
from kopilka.members.models import Member
from kopilka.messaging import services as messaging
from kopilka.processing import services as processing
from kopilka.programs import services as programs
from kopilka.programs.engine import BasketLine
from kopilka.tenancy import counter
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Merchant, Staff

DEMO_SLUG = "demo"
OPERATOR_EMAIL = "admin@kopilka.local"
DEMO_MEMBERS = [
    ("+79161234567", "Анна", "Смирнова", date(1990, 3, 14)),
    ("+79167654321", "Иван", "Петров", date(1985, 11, 2)),
    ("+380501234567", "Олена", "Коваленко", None),
]
# The counter's people: (e-mail, first name, last name, role, PIN). The manager's password is
# made when the demo is; the PINs are fixed so the demo is easy to show.
DEMO_MANAGER = "maria@demo.kopilka.local"
DEMO_STAFF = [
    (DEMO_MANAGER, "Мария", "Иванова", Staff.Role.MANAGER, "4826"),
    ("darya@demo.kopilka.local", "Дарья", "Петренко", Staff.Role.CASHIER, "2580"),
    ("oleg@demo.kopilka.local", "Олег", "Сидоров", Staff.Role.CASHIER, "1397"),
]

# Bronze/Silver/Platinum from the seeds, a welcome bonus, a birthday bonus and
# "9-12 double bonuses" — enough to see every part of a quote at the demo counter.
DEMO_PROGRAM = {
    "type": "bonus",
    "max_redeem_percent": "50",
    "welcome_bonus": 5_000,
    "welcome_validity_days": 30,
    "expiry": {"mode": "after_accrual", "days": 365},
    "birthday": {"extra_percent": "5", "days_before": 3, "days_after": 3},
    "max_total_accrual_percent": "25",
    "transfers": {"enabled": True, "min_points": 100},
    "tiers": [
        {"code": "bronze", "name": "Bronze", "accrual": {"kind": "percent", "percent": "5"}},
        {"code": "silver", "name": "Silver", "threshold": 500_000,
         "accrual": {"kind": "percent", "percent": "7"}},
        {"code": "platinum", "name": "Platinum", "threshold": 2_500_000,
         "accrual": {"kind": "percent", "percent": "10"}},
    ],
    "rules": [{"code": "morning", "name": "9-12 double bonuses",
               "conditions": {"time_from": "09:00", "time_to": "12:00"},
               "effects": {"multiply_accrual": "2"}}],
}


def credentials_path():
    return settings.DATA_DIR / "demo-credentials.txt"


def ensure_demo(base_url: str) -> str:
    """Create the demo once; return the text telling how to log in."""
    path = credentials_path()
    if Merchant.objects.filter(slug=DEMO_SLUG).exists():
        if path.exists():
            return "Demo data already exists.\n" + path.read_text()
        return ("Demo data already exists; its keys were printed when it was created "
                f"({path} is gone). Use 'kopilka create-terminal --merchant {DEMO_SLUG} ...'.")
    text = _create_demo(base_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return text


@transaction.atomic
def _create_demo(base_url: str) -> str:
    actor = Actor(kind="system", label="demo")
    operator_password = secrets.token_urlsafe(9)
    User = get_user_model()
    if not User.objects.filter(username=OPERATOR_EMAIL).exists():
        User.objects.create_superuser(OPERATOR_EMAIL, OPERATOR_EMAIL, operator_password)
    created = tenancy.create_merchant(
        "Демо Кофейня", owner_email="owner@demo.kopilka.local", slug=DEMO_SLUG, actor=actor,
        currency="RUB", timezone="Europe/Moscow", language="ru",
    )
    merchant = created.merchant
    terminal, pos_key = tenancy.create_terminal(merchant, store_name="Тверская, 1", actor=actor)
    with scope(merchant=merchant):
        programs.save_program(merchant, DEMO_PROGRAM, actor=actor)
        # Receipts to every member, so the demo's console shows a message per sale.
        messaging.save_settings(merchant, transactional="all", quiet_from=time(21),
                                quiet_to=time(9), actor=actor)
        enrolled = [
            processing.enrol(
                merchant, phone=phone, first_name=first, last_name=last, birth_date=birth,
                channel=Member.Channel.CASHIER, actor=actor,
                consents=[members.ConsentGiven("personal_data", "demo-1")],
            )
            for phone, first, last, birth in DEMO_MEMBERS
        ]
        for n, (member, amount) in enumerate(zip(enrolled, (320_000, 85_000), strict=False)):
            sale = processing.Sale(lines=(BasketLine("1", amount, product_group="coffee"),))
            processing.commit_purchase(merchant, member, sale, receipt_id=f"DEMO-{n + 1}",
                                       source="demo", actor=actor, store=terminal.store)
        manager_password = _counter_staff(merchant, actor)
    return "\n".join([
        "Kopilka demo",
        f"  Operator admin:  {base_url}/admin/  login {OPERATOR_EMAIL}"
        f"  password {operator_password}",
        f"  Merchant owner:  {created.owner.user.email}  password {created.owner_password}",
        f"  Management API:  Authorization: Bearer {created.api_token}",
        f"  POS API key:     Authorization: Bearer {pos_key}   (terminal '{terminal.name}')",
        f"  Try:  curl -H 'Authorization: Bearer {pos_key}' "
        f"'{base_url}/api/v1/pos/members/lookup?phone=89161234567'",
        f"  API docs: {base_url}/api/v1/docs   OpenAPI: {base_url}/api/v1/openapi.json",
        f"  Cashier workplace: {base_url}/cashier/",
        f"    sign the device in as the manager: {DEMO_MANAGER}  password {manager_password}"
        "  (the cashiers' e-mails have it too)",
        "    then switch in with a PIN:  " + "   ".join(
            f"{first} {last} {pin}" for _email, first, last, _role, pin in DEMO_STAFF),
        "",
    ])


def _counter_staff(merchant: Merchant, actor: Actor) -> str:
    """The manager and the cashiers, with their PINs; returns the manager's password. Made
    directly, as the owner is (an invitation would mail its key to addresses nobody reads)."""
    password = secrets.token_urlsafe(9)
    User = get_user_model()
    for email, first, last, role, pin in DEMO_STAFF:
        user = User.objects.create_user(username=email, email=email, password=password,
                                        first_name=first, last_name=last)
        staff = Staff.objects.create(merchant=merchant, user=user, role=role,
                                     created_at=merchant.created_at)
        counter.set_pin(staff, pin, actor=actor)
    return password
