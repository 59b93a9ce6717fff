"""Browser counters: a device a manager signs in for a store, and the staff PINs cashiers switch
in with on it (the cashier workplace, kopilka/web/cashier/).

- A counter device is a browser `Terminal` (kind "browser"); signing it in needs a staff
  member whose role may `sign_in_counters` (managers, admins, owners), and so does signing it
  out (revoking the terminal).
- A PIN is 4 to 6 digits, stored as a Django password hash (argon2), never in clear. PINs
  anyone would try first are refused: one digit repeated (0000, 777777) and straight runs up or
  down (1234, 98765, 012345).
- A PIN is attempt-limited per staff member: PIN_FAILURE_LIMIT wrong PINs in a row lock it for
  PIN_LOCK, whichever device they were typed on; the lock is audited. A right PIN clears the
  count. With 10 000 four-digit PINs that is at most 5 guesses per quarter of an hour.
"""

import math
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_scopes import scope, scopes_disabled

from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import DomainError, Forbidden, InvalidInput, NotFound
from kopilka.tenancy import access
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.models import Merchant, Staff, Store, Terminal

PIN_LENGTHS = (4, 6)  # shortest, longest
PIN_FAILURE_LIMIT = 5
PIN_LOCK = timedelta(minutes=15)
PERMISSION = "sign_in_counters"
DIGITS = "0123456789"


# --- the device ---------------------------------------------------------------------------------


def counter_stores(user) -> list[Store]:
    """The open stores `user` may sign a counter device in for: those of every active merchant
    where they are active staff with a role that may. Forbidden when there are none (a cashier:
    a manager sets a device up)."""
    with scopes_disabled():  # before a merchant is chosen, as at any sign-in
        merchant_ids = [
            staff.merchant_id for staff in Staff.objects.filter(
                user=user, active=True, merchant__status=Merchant.Status.ACTIVE)
            if access.role_may(staff.role, PERMISSION)
        ] if user.is_active else []
        stores = list(Store.objects.select_related("merchant")
                      .filter(merchant_id__in=merchant_ids, active=True)
                      .order_by("merchant__name", "name"))
    if not merchant_ids:
        raise Forbidden(_("Only a manager can set up this device as a counter. Ask a manager "
                          "to sign it in."))
    if not stores:
        raise InvalidInput(_("Your business has no open store yet. Add a store first."))
    return stores


def default_device_name(store: Store) -> str:
    """"Counter N": the first number no live counter of the store has."""
    with scope(merchant=store.merchant):
        taken = set(Terminal.objects.filter(store=store, kind=Terminal.Kind.BROWSER,
                                            revoked_at__isnull=True)
                    .values_list("name", flat=True))
    number = 1
    while _("Counter %(number)d") % {"number": number} in taken:
        number += 1
    return _("Counter %(number)d") % {"number": number}


def sign_in_device(staff: Staff, store: Store, *, name: str, actor: Actor
                   ) -> tuple[Terminal, str]:
    """Make a browser terminal of `store`, signed in by `staff`: its key (returned once) is what
    the device keeps. Audited as the terminal's creation, by `staff`."""
    _require(staff)
    if store.merchant_id != staff.merchant_id or not store.active:
        raise NotFound(_("No such store."), field="store")
    name = name.strip()
    if not name:
        raise InvalidInput(_("Give the device a name, e.g. Counter 1."), field="name")
    if len(name) > Terminal._meta.get_field("name").max_length:
        raise InvalidInput(_("The name is too long."), field="name")
    return tenancy.create_terminal(staff.merchant, store_name=store.name, name=name,
                                   create_store_if_missing=False, kind=Terminal.Kind.BROWSER,
                                   actor=actor)


def sign_out_device(terminal: Terminal, *, by: Staff, actor: Actor) -> None:
    """The device is no counter any more: its terminal is revoked, so its cookie opens nothing."""
    _require(by)
    if by.merchant_id != terminal.merchant_id:
        raise NotFound(_("No such device."))
    tenancy.revoke_terminal(terminal, actor=actor)


def membership(user, merchant: Merchant) -> Staff | None:
    """`user`'s active membership in `merchant`, or None."""
    if not user.is_active:
        return None
    with scope(merchant=merchant):
        return Staff.objects.select_related("user", "merchant").filter(
            merchant=merchant, user=user, active=True).first()


def _require(staff: Staff) -> None:
    if not (staff.active and access.role_may(staff.role, PERMISSION)):
        raise Forbidden(_("Only a manager can sign a counter device in or out."))


# --- who may switch in --------------------------------------------------------------------------


def staff_at_device(terminal: Terminal) -> list[Staff]:
    """The staff who can switch in at `terminal`: its merchant's active staff with a PIN, by
    name."""
    with scope(merchant=terminal.merchant):
        found = list(Staff.objects.select_related("user").filter(
            merchant=terminal.merchant, active=True, user__is_active=True).exclude(pin_hash=""))
    return sorted(found, key=lambda staff: display_name(staff).casefold())


def staff_member(terminal: Terminal, staff_id) -> Staff:
    """One of `staff_at_device(terminal)`; NotFound for anyone else (another merchant's too)."""
    try:
        staff_id = int(staff_id)
    except (TypeError, ValueError):
        staff_id = None
    with scope(merchant=terminal.merchant):
        found = Staff.objects.select_related("user", "merchant").filter(
            pk=staff_id, merchant=terminal.merchant, active=True, user__is_active=True,
        ).exclude(pin_hash="").first()
    if found is None:
        raise NotFound(_("Choose yourself from the list."), field="staff")
    return found


def display_name(staff: Staff) -> str:
    return staff.user.get_full_name() or staff.user.email


@transaction.atomic
def add_counter_cashier(merchant: Merchant, *, name: str, pin: str, by: Staff | None,
                        actor: Actor) -> Staff:
    """A cashier who only works at counters: a name and a PIN, no e-mail and no password (the
    account can never sign in anywhere else). Whoever may manage cashiers adds one; an e-mail
    address joins by invitation instead (tenancy/invitations.py)."""
    name = " ".join(name.split())
    if not name:
        raise InvalidInput(_("Give the cashier's name."), field="name")
    if len(name) > 150:
        raise InvalidInput(_("The name is too long."), field="name")
    check_new_pin(pin)
    if by is not None and not access.role_may(by.role, "manage_staff"):
        raise access.refuse("manage_staff")
    user = get_user_model()(username=f"counter-{secrets.token_hex(8)}", first_name=name)
    user.set_unusable_password()
    user.save()
    with scope(merchant=merchant):
        staff = Staff.objects.create(merchant=merchant, user=user, role=Staff.Role.CASHIER,
                                     created_at=clock.now(), pin_hash=make_password(pin))
        audit.record("tenancy.staff.counter_cashier_added", actor=actor, merchant=merchant,
                     obj=staff, data={"name": name})
    return staff


# --- PINs ---------------------------------------------------------------------------------------


def check_new_pin(pin: str) -> str:
    """The PIN if it is acceptable; InvalidInput on "pin" otherwise."""
    shortest, longest = PIN_LENGTHS
    if not (pin.isascii() and pin.isdigit() and shortest <= len(pin) <= longest):
        raise InvalidInput(_("A PIN is %(shortest)d to %(longest)d digits.")
                           % {"shortest": shortest, "longest": longest}, field="pin")
    if len(set(pin)) == 1 or pin in DIGITS or pin in DIGITS[::-1]:
        raise InvalidInput(_("This PIN is the first one anyone would try. Choose another."),
                           field="pin")
    return pin


@transaction.atomic
def set_pin(staff: Staff, pin: str, *, actor: Actor) -> None:
    """Set `staff`'s PIN (hashed); a new PIN also lifts a lock."""
    check_new_pin(pin)
    with scope(merchant=staff.merchant):
        staff.pin_hash = make_password(pin)
        staff.pin_failures = 0
        staff.pin_locked_until = None
        staff.save(update_fields=["pin_hash", "pin_failures", "pin_locked_until"])
        audit.record("tenancy.staff.pin_set", actor=actor, merchant=staff.merchant, obj=staff,
                     data={"email": staff.user.email})


def check_pin(staff: Staff, pin: str, *, actor: Actor) -> None:
    """Nothing when `pin` is `staff`'s PIN. Otherwise InvalidInput on "pin" saying how many
    attempts are left, or Forbidden while the PIN is locked, saying for how long. A wrong PIN
    is counted even though the error is raised (after the commit)."""
    outcome = _check_pin(staff, pin, actor)
    if outcome is not None:
        raise outcome


@transaction.atomic
def _check_pin(staff: Staff, pin: str, actor: Actor) -> DomainError | None:
    with scope(merchant=staff.merchant):
        # Locked: two devices typing at once count every attempt.
        row = Staff.objects.select_for_update().get(pk=staff.pk)
        now = clock.now()
        if row.pin_locked_until is not None and row.pin_locked_until > now:
            return _locked(row.pin_locked_until - now)
        if not row.pin_hash:
            return InvalidInput(_("You have no PIN yet. Set one first."), field="pin")
        if check_password(pin or "", row.pin_hash):
            if row.pin_failures or row.pin_locked_until:
                row.pin_failures = 0
                row.pin_locked_until = None
                row.save(update_fields=["pin_failures", "pin_locked_until"])
            return None
        row.pin_failures += 1
        if row.pin_failures < PIN_FAILURE_LIMIT:
            row.save(update_fields=["pin_failures"])
            left = PIN_FAILURE_LIMIT - row.pin_failures
            return InvalidInput(ngettext("Wrong PIN. %(left)d attempt left.",
                                         "Wrong PIN. %(left)d attempts left.", left)
                                % {"left": left}, field="pin")
        row.pin_failures = 0
        row.pin_locked_until = now + PIN_LOCK
        row.save(update_fields=["pin_failures", "pin_locked_until"])
        audit.record("tenancy.staff.pin_locked", actor=actor, merchant=staff.merchant, obj=row,
                     data={"email": staff.user.email, "failures": PIN_FAILURE_LIMIT,
                           "until": row.pin_locked_until.isoformat()})
        return _locked(PIN_LOCK)


def _locked(left: timedelta) -> Forbidden:
    minutes = max(1, math.ceil(left.total_seconds() / 60))
    return Forbidden(ngettext(
        "Too many wrong PINs. Try again in %(minutes)d minute, or set a new PIN with your "
        "password.",
        "Too many wrong PINs. Try again in %(minutes)d minutes, or set a new PIN with your "
        "password.", minutes) % {"minutes": minutes}, field="pin")
