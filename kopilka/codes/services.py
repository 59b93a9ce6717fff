"""One-time codes: send one, check it, use it up.

- `request_code` sends a fresh code by SMS (the `one_time_code` message, sent at once, also in
  the quiet hours and to members who opted out: they asked for it), replacing the phone's
  previous code for the same purpose — within the limits per phone and per asking client.
- `check` tells whether a code is right without using it up. A wrong code costs one of the
  code's attempts, written in its own (sub)transaction before the 422 is raised, so a caller
  whose own transaction then rolls back cannot hand out unlimited guesses.
- `consume` uses a checked code up inside the caller's transaction: the purchase or the
  registration it confirms. If that operation rolls back, so does the use, and the customer's
  code still works for the retry; if two operations race for one code, only one gets it.

The limits count rows of `OneTimeCode` in a sliding window (no shared cache needed, and
several processes count the same rows). Requests for one phone take turns (`_one_at_a_time`),
so two at the same moment cannot both pass the phone's count; the per-client counts are not
serialised, and requests racing at the same instant may exceed them by the number racing.
"""

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django_scopes import scope, scopes_disabled

from kopilka.codes.conf import Limits
from kopilka.codes.models import OneTimeCode, Purpose
from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, DomainError, InvalidInput
from kopilka.core.phones import mask_phone, normalize_phone
from kopilka.members.models import Member
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Event
from kopilka.tenancy.models import Merchant, Terminal


class RateLimited(DomainError):
    """Too many codes asked for: answered 429 with `Retry-After` (api/codes.py)."""

    status = 429
    problem = "rate-limited"
    title = gettext_lazy("Too many requests.")

    def __init__(self, detail: str, *, retry_after: int, field: str | None = None):
        super().__init__(detail, field=field)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Issued:
    code: OneTimeCode
    resend_after: int  # seconds until the phone may get another code


def conf() -> dict:
    return settings.ONE_TIME_CODES


def digest(merchant_id: int, phone: str, purpose: str, code: str) -> str:
    """HMAC-SHA256 keyed with SECRET_KEY, over the code and what it is for: a stolen table
    neither gives the codes away nor lets a hash be moved to another phone or purpose."""
    return salted_hmac("kopilka.codes.OneTimeCode", f"{merchant_id}:{phone}:{purpose}:{code}",
                       algorithm="sha256").hexdigest()


def _new_code(digits: int) -> str:
    return str(secrets.randbelow(10**digits)).zfill(digits)


def _check_purpose(purpose: str) -> None:
    if purpose not in Purpose.values:
        raise InvalidInput(_("%(field)s must be one of %(codes)s.")
                           % {"field": "purpose", "codes": ", ".join(Purpose.values)},
                           field="purpose")


# --- limits ----------------------------------------------------------------------------------


def wait(times: list[datetime], limits: Limits, now: datetime) -> int:
    """Seconds until one more code fits every limit, given the creation times of the recent
    codes (newest first); 0 if it fits now. A limit of n per w seconds is full while n codes
    are younger than w: it frees up when the n-th newest of them turns w seconds old."""
    longest = 0.0
    for count, seconds in limits:
        if len(times) >= count:
            frees_at = times[count - 1] + timedelta(seconds=seconds)
            longest = max(longest, (frees_at - now).total_seconds())
    return math.ceil(longest) if longest > 0 else 0


def _recent(rows, limits: Limits, now: datetime) -> list[datetime]:
    """Creation times of the newest codes that any of the limits can count (newest first):
    one query, bounded by the largest limit."""
    if not limits:
        return []
    window = max(seconds for _count, seconds in limits)
    most = max(count for count, _seconds in limits)
    return list(rows.filter(created_at__gt=now - timedelta(seconds=window))
                .order_by("-created_at").values_list("created_at", flat=True)[:most])


def _one_at_a_time(merchant_id: int, phone: str) -> None:
    """Make code requests for one phone (at one merchant; 0: across merchants) take turns
    until the end of the transaction, so the second of two simultaneous requests counts the
    first one's code. SQLite needs nothing: its
    IMMEDIATE transactions let one writer in at a time. PostgreSQL takes a transaction-level
    advisory lock on the phone (without it, the second request's count misses the first's
    uncommitted code, and its replacing then retires that code: two SMS in the same second)."""
    if connection.vendor != "postgresql":
        return
    name = f"kopilka.codes:{merchant_id}:{phone}".encode()
    key = int.from_bytes(hashlib.sha256(name).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _phone_limited(seconds: int) -> RateLimited:
    return RateLimited(
        ngettext("Too many codes for this phone number: try again in %(seconds)s second.",
                 "Too many codes for this phone number: try again in %(seconds)s seconds.",
                 seconds) % {"seconds": seconds},
        retry_after=seconds, field="phone",
    )


def _codes_of_phone(merchant: Merchant, phone: str, purpose: str):
    """The rows a phone's limit counts: its codes at the merchant, or, for the wallet (which
    spans merchants), its wallet codes at every merchant. Evaluate it unscoped."""
    if purpose == Purpose.WALLET:
        return OneTimeCode.objects.filter(phone=phone, purpose=Purpose.WALLET)
    return OneTimeCode.objects.filter(merchant=merchant, phone=phone)


def _check_limits(merchant: Merchant, phone: str, terminal: Terminal | None, ip: str | None,
                  now: datetime, purpose: str) -> list[datetime]:
    """Refuse (429) a code beyond the limits; the phone's recent code times otherwise."""
    phone_limits = conf()["PHONE_LIMITS"]
    with scopes_disabled():  # the wallet's rows span merchants; the others name theirs
        phone_times = _recent(_codes_of_phone(merchant, phone, purpose), phone_limits, now)
    seconds = wait(phone_times, phone_limits, now)
    if seconds:
        raise _phone_limited(seconds)
    client_limits = conf()["CLIENT_LIMITS"]
    if terminal is not None:
        rows = OneTimeCode.objects.filter(merchant=merchant, terminal=terminal)
        times = _recent(rows, client_limits, now)
    elif ip is not None:
        with scopes_disabled():  # one address asking at many merchants is one client
            times = _recent(OneTimeCode.objects.filter(ip=ip), client_limits, now)
    else:
        return phone_times
    seconds = wait(times, client_limits, now)
    if not seconds:
        return phone_times
    if terminal is not None:
        detail = ngettext(
            "Too many codes requested from this terminal: try again in %(seconds)s second.",
            "Too many codes requested from this terminal: try again in %(seconds)s seconds.",
            seconds)
    else:
        detail = ngettext(
            "Too many codes requested from this address: try again in %(seconds)s second.",
            "Too many codes requested from this address: try again in %(seconds)s seconds.",
            seconds)
    raise RateLimited(detail % {"seconds": seconds}, retry_after=seconds)


# --- sending ---------------------------------------------------------------------------------


def request_code(merchant: Merchant, *, purpose: str, actor: Actor, phone: str | None = None,
                 member: Member | None = None, terminal: Terminal | None = None,
                 ip: str | None = None) -> Issued:
    """Send a new code for `purpose`: a registration code to `phone` (not yet a member here),
    a spending code to `member`'s phone. Replaces the phone's live code for the purpose."""
    _check_purpose(purpose)
    if member is not None:
        if member.merchant_id != merchant.pk:
            raise ValueError("the member belongs to another merchant")  # a programming error
        if member.status != Member.Status.ACTIVE or not member.person.phone:
            raise Conflict(_("This member's card is blocked or has left the program."),
                           field="member")
        e164 = str(member.person.phone)
    else:
        e164 = normalize_phone(phone or "", merchant.country)
    if purpose == Purpose.SPENDING and member is None:
        raise InvalidInput(_("A code to confirm spending is sent to a member: name the member."),
                           field="member")
    if purpose == Purpose.REGISTRATION:
        if member is not None:
            raise InvalidInput(_("A registration code is sent to a phone number, not to a "
                                 "member."), field="member")
        if Member.objects.filter(merchant=merchant, person__phone=e164).exists():
            raise Conflict(_("This phone number is already registered."), field="phone")
    options = conf()
    with transaction.atomic():
        wallet = purpose == Purpose.WALLET
        _one_at_a_time(0 if wallet else merchant.pk, e164)  # the wallet's turns span merchants
        now = clock.now()  # after the wait: the codes counted are all from before it
        phone_times = _check_limits(merchant, e164, terminal, ip, now, purpose)
        with scopes_disabled():  # one live wallet code per phone, whichever merchant sent it
            OneTimeCode.objects.filter(
                phone=e164, purpose=purpose, used_at__isnull=True, replaced_at__isnull=True,
                **({} if wallet else {"merchant": merchant}),
            ).update(replaced_at=now)
        code = _new_code(options["DIGITS"])
        message = messaging.queue(merchant, event=Event.ONE_TIME_CODE, member=member,
                                  recipient=None if member is not None else e164,
                                  context={"code": code})
        if message is None:
            raise Conflict(_("This merchant has switched off one-time code messages, so no "
                             "code can be sent."), field="purpose")
        try:
            with transaction.atomic():
                row = OneTimeCode.objects.create(
                    merchant=merchant, phone=e164, purpose=purpose, member=member,
                    code_hash=digest(merchant.pk, e164, purpose, code),
                    attempts_left=options["ATTEMPTS"], created_at=now,
                    expires_at=now + timedelta(seconds=options["TTL"]), terminal=terminal,
                    ip=ip, message=message,
                )
        except IntegrityError:
            # A second request for the same phone and purpose committed its code between our
            # replacing and inserting: that one stands, this one is refused like a resend.
            limits = options["PHONE_LIMITS"]
            raise _phone_limited(limits[0][1] if limits else 1) from None
        audit.record("codes.code.sent", actor=actor, merchant=merchant, obj=row,
                     data={"purpose": purpose, "phone": mask_phone(e164),
                           "member": member.pk if member is not None else None})
    return Issued(row, wait([now, *phone_times], options["PHONE_LIMITS"], now))


# --- checking and using up -------------------------------------------------------------------


def _wrong(left: int) -> str:
    if left == 0:
        return _("Wrong code, and no attempts are left. Request a new code.")
    return ngettext("Wrong code. %(left)s attempt left.", "Wrong code. %(left)s attempts left.",
                    left) % {"left": left}


def code_required() -> InvalidInput:
    return InvalidInput(_("Enter the one-time code sent to the customer's phone."),
                        field="code")


def check(merchant: Merchant, *, phone: str, purpose: str, code: str | None,
          at: datetime | None = None) -> OneTimeCode:
    """The live code of `phone` for `purpose` if `code` is it; 422 on `code` otherwise. A
    wrong code costs an attempt, kept even if the caller's transaction rolls back later (it
    is written in a block of its own, closed before the error is raised). Uses nothing up:
    `consume` does, in the operation the code confirms."""
    code = (code or "").strip()
    if not code:
        raise code_required()
    if not (code.isascii() and code.isdigit()):
        raise InvalidInput(_("A code is made of digits only."), field="code")
    now = at or clock.now()
    with transaction.atomic():
        row = (OneTimeCode.objects.select_for_update()
               .filter(merchant=merchant, phone=phone, purpose=purpose, used_at__isnull=True,
                       replaced_at__isnull=True)
               .first())
        if row is None:
            detail = _("No code is waiting for this phone number: it was used, replaced or "
                       "never requested. Request a new code.")
        elif row.expires_at <= now:
            detail = _("This code has expired. Request a new code.")
        elif row.attempts_left == 0:
            detail = _("Too many wrong attempts: this code no longer works. Request a new code.")
        elif constant_time_compare(row.code_hash, digest(merchant.pk, phone, purpose, code)):
            return row
        else:
            row.attempts_left -= 1
            row.save(update_fields=["attempts_left"])
            detail = _wrong(row.attempts_left)
    raise InvalidInput(detail, field="code")


def consume(row: OneTimeCode, at: datetime | None = None) -> None:
    """Use up a code `check` passed, inside the transaction of the operation it confirms. Of
    two operations racing for one code, the second gets a 422 on `code`."""
    now = at or clock.now()
    used = OneTimeCode.objects.filter(
        merchant_id=row.merchant_id, pk=row.pk, used_at__isnull=True, replaced_at__isnull=True,
    ).update(used_at=now)
    if not used:
        raise InvalidInput(_("This code has just been used or replaced. Request a new code."),
                           field="code")
    row.used_at = now


# --- the member wallet -----------------------------------------------------------------------


def wallet_sender(phone: str) -> Merchant | None:
    """The merchant that sends `phone`'s wallet codes: the person's oldest active membership
    at an active merchant (always the same one while it lasts, so the sender and the SMS cost
    are predictable); None when the phone is nobody's member."""
    with scopes_disabled():
        member = (Member.objects.filter(person__phone=phone, status=Member.Status.ACTIVE,
                                        merchant__status=Merchant.Status.ACTIVE)
                  .select_related("merchant").order_by("registered_at", "pk").first())
    return member.merchant if member is not None else None


def request_wallet_code(phone: str, *, actor: Actor, ip: str | None) -> Issued | None:
    """Send a wallet code to `phone` (E.164) by its sending merchant; None, sending nothing,
    when the phone is nobody's member. The caller answers the same either way, so the form
    does not tell who is a member."""
    merchant = wallet_sender(phone)
    if merchant is None:
        return None
    with scope(merchant=merchant):
        return request_code(merchant, purpose=Purpose.WALLET, actor=actor, phone=phone, ip=ip)


def check_wallet_code(phone: str, code: str | None) -> OneTimeCode:
    """The phone's live wallet code if `code` is it (see `check`); 422 on `code` otherwise."""
    with scopes_disabled():
        live = (OneTimeCode.objects.filter(phone=phone, purpose=Purpose.WALLET,
                                           used_at__isnull=True, replaced_at__isnull=True)
                .select_related("merchant").first())
    if live is None:
        if not (code or "").strip():
            raise code_required()
        raise InvalidInput(_("No code is waiting for this phone number: it was used, replaced "
                             "or never requested. Request a new code."), field="code")
    with scope(merchant=live.merchant):
        return check(live.merchant, phone=phone, purpose=Purpose.WALLET, code=code)
