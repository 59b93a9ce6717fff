"""Limits on what a merchant may have (OPS-4: a billing plan's stores and members).

Tenancy and the operations below the features floor create stores and members, but the plan
that limits them lives in `billing`, a floor above. So the creating services call `check(...)`
here, and billing registers what to check (`register`, from its AppConfig.ready()), as the
apps above register their parts of the merchant context (`access.provide`). Without a
registered check (billing not installed) nothing is limited.

`check` is called inside the creating transaction, right AFTER the new row is written (so
the count includes it, and a refusal rolls the row back with the rest): a check raises
`LimitReached` when the merchant now has more than its plan allows.
"""

from collections.abc import Callable

from django.utils.translation import gettext_lazy as _

from kopilka.core.errors import Conflict
from kopilka.tenancy.models import Merchant

STORES = "stores"  # open stores (a closed one frees its place; reopening takes one)
MEMBERS = "members"  # members; `channel` says how one joined (a customer waiting or not)


class LimitReached(Conflict):
    """More than the merchant's plan allows: 409, `/problems/plan-limit`; `field` names the
    plan's limit (`max_stores`, `max_members`)."""

    problem = "plan-limit"
    title = _("The plan's limit is reached.")


Check = Callable[..., None]
_checks: dict[str, Check] = {}


def register(kind: str, check: Check) -> None:
    """`check(merchant, **context)` raises LimitReached when `merchant` has more `kind` than
    allowed. One per kind; registering again replaces it (Django may call ready() twice)."""
    if kind not in (STORES, MEMBERS):
        raise ValueError(f"unknown limit {kind!r}")  # a programming error
    _checks[kind] = check


def check(merchant: Merchant, kind: str, **context) -> None:
    """Refuse (LimitReached) when the row just written makes `merchant` exceed its limit of
    `kind`. Call inside the creating transaction."""
    found = _checks.get(kind)
    if found is not None:
        found(merchant, **context)
