"""Secret-code campaigns: campaigns, batches of codes, the one download, activation.

- `create_campaign` / `create_batch`: a batch's codes are drawn from the operating system's
  CSPRNG, made unique across the merchant, and written as keyed hashes in bulk (PostgreSQL
  COPY; SQLite executemany in big chunks). The plain codes are kept compressed on the batch
  only until `take_sheet` hands them out once for the printer.
- `activate(merchant, member, code, channel)`: each code once (a one-to-one activation row:
  the database refuses a second whatever races), inside the campaign's dates and its limits
  per member and per day, the points granted through processing (`processing.grants`, cause
  `campaign_code <activation id>`).
- Guessing: every wrong code is a `Guess` row written in its own transaction (a caller's
  rollback cannot hand out free guesses). A phone or an address with too many wrong codes in
  the window is locked out until the oldest of them leaves it; a campaign that sees a guessing
  storm alerts its owners by e-mail (once per window) and, while it lasts, locks out anyone
  with a few wrong codes already.
"""

import struct
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django_scopes import scopes_disabled

from kopilka.campaigns import secret
from kopilka.campaigns.models import Activation, Alphabet, Campaign, CodeBatch, Guess, SecretCode
from kopilka.core import audit, clock, events
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, DomainError, InvalidInput, NotFound
from kopilka.core.phones import mask_phone
from kopilka.ledger.models import Lot
from kopilka.members.models import Member
from kopilka.messaging import render
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Event
from kopilka.processing import grants
from kopilka.tenancy import access
from kopilka.tenancy.models import Merchant, Staff

MAX_BATCH = 1_000_000
LENGTHS = (6, 16)
# A random guess must hit one of the merchant's codes with odds of at most 1 in this.
GUESS_ODDS = 100_000
NEW_MEMBER_WITHIN = timedelta(days=1)  # joined this long before activating: "new"

DEFAULT_LIMITS = {
    "WINDOW": 3600,  # seconds the counts below look back
    "PHONE": 10,  # wrong codes from one phone (any merchant) in the window: locked out
    "ADDRESS": 30,  # wrong codes from one address in the window: locked out
    "STORM": 200,  # wrong codes for one campaign in the window: alert, and the storm rule
    "STORM_PHONE": 3,  # during a storm, wrong codes that lock a phone or address out
}


def limits() -> dict:
    return {**DEFAULT_LIMITS, **getattr(settings, "CAMPAIGN_CODE_LIMITS", {})}


class LockedOut(DomainError):
    """Too many wrong codes: answered 429 with Retry-After by the API."""

    status = 429
    problem = "rate-limited"
    title = gettext_lazy("Too many requests.")

    def __init__(self, detail: str, *, retry_after: int, field: str | None = "code"):
        super().__init__(detail, field=field)
        self.retry_after = retry_after


# --- campaigns and batches -----------------------------------------------------------------


def create_campaign(merchant: Merchant, *, name: str, starts_on: date, points: int,
                    actor: Actor, ends_on: date | None = None, per_member: int | None = None,
                    per_day: int | None = None, text: str = "",
                    validity_days: int | None = None) -> Campaign:
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("Name the campaign."), field="name")
    if type(points) is not int or points <= 0:
        raise InvalidInput(_("Points per code must be a positive whole number."),
                           field="points")
    if ends_on is not None and ends_on < starts_on:
        raise InvalidInput(_("The campaign cannot end before it starts."), field="ends_on")
    for field, value in (("per_member", per_member), ("per_day", per_day),
                         ("validity_days", validity_days)):
        if value is not None and (type(value) is not int or value <= 0):
            raise InvalidInput(_("Must be a positive whole number or empty."), field=field)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            merchant=merchant, name=name[:200], starts_on=starts_on, ends_on=ends_on,
            points=points, per_member=per_member, per_day=per_day, text=(text or "")[:500],
            validity_days=validity_days, created_at=clock.now())
        audit.record("campaigns.campaign.created", actor=actor, merchant=merchant, obj=campaign,
                     data={"name": campaign.name, "points": points})
    return campaign


def _check_batch(merchant: Merchant, count: int, length: int, alphabet: str, prefix: str,
                 ) -> None:
    if type(count) is not int or not 1 <= count <= MAX_BATCH:
        raise InvalidInput(_("A batch has from 1 to %(most)s codes.") % {"most": MAX_BATCH},
                           field="count")
    if type(length) is not int or not LENGTHS[0] <= length <= LENGTHS[1]:
        raise InvalidInput(_("A code has from %(least)s to %(most)s characters.")
                           % {"least": LENGTHS[0], "most": LENGTHS[1]}, field="length")
    if alphabet not in Alphabet.values:
        raise InvalidInput(_("Choose one of the alphabets."), field="alphabet")
    if prefix and not (prefix.isascii() and prefix.isalnum() and prefix.upper() == prefix):
        raise InvalidInput(_("A prefix has capital Latin letters and digits only."),
                           field="prefix")
    existing = CodeBatch.objects.filter(merchant=merchant).aggregate(n=Sum("count"))["n"] or 0
    if len(alphabet) ** length < GUESS_ODDS * (existing + count):
        raise InvalidInput(
            _("Codes this short would be too easy to guess: make them longer or the batch "
              "smaller."), field="length")


def create_batch(campaign: Campaign, *, count: int, length: int, actor: Actor,
                 alphabet: str = Alphabet.CLEAR, check_char: bool = False, prefix: str = "",
                 points: int | None = None) -> CodeBatch:
    """Draw `count` new codes, store their hashes, keep the plain codes for one download."""
    merchant = campaign.merchant
    prefix = (prefix or "").strip()
    if points is not None and (type(points) is not int or points <= 0):
        raise InvalidInput(_("Points per code must be a positive whole number."),
                           field="points")
    with transaction.atomic():
        _check_batch(merchant, count, length, alphabet, prefix)
        batch = CodeBatch.objects.create(
            merchant=merchant, campaign=campaign, count=count, length=length,
            alphabet=alphabet, check_char=check_char, prefix=prefix, points=points,
            created_at=clock.now())
        codes = _store_unique(batch, count)
        batch.sheet = zlib.compress("\n".join(codes).encode(), 1)
        batch.save(update_fields=["sheet"])
        audit.record("campaigns.batch.created", actor=actor, merchant=merchant, obj=batch,
                     data={"campaign": campaign.pk, "count": count, "length": length,
                           "prefix": prefix, "check_char": check_char})
    return batch


def _store_unique(batch: CodeBatch, count: int) -> list[str]:
    """New codes for the batch, none equal to another of the merchant's: drawn, hashed and
    written; on the rare clash (the unique index refuses the write) the clashing ones are found
    and drawn again."""
    kept: list[str] = []
    wanted = count
    while wanted:
        drawn = list(dict.fromkeys(secret.make(
            secret.random_bodies(wanted, batch.length, batch.alphabet), batch.prefix,
            batch.alphabet, batch.check_char)))
        hashes = secret.digests(drawn)
        try:
            with transaction.atomic():
                _write(batch, hashes)
        except IntegrityError:
            taken = _existing(batch.merchant_id, hashes)
            pairs = [(c, h) for c, h in zip(drawn, hashes, strict=True) if h not in taken]
            with transaction.atomic():
                _write(batch, [h for _c, h in pairs])
            drawn = [c for c, _h in pairs]
        kept += drawn
        wanted = count - len(kept)
    return kept


def _existing(merchant_id: int, hashes: list[bytes]) -> set[bytes]:
    found: set[bytes] = set()
    for start in range(0, len(hashes), 10_000):
        found.update(bytes(d) for d in SecretCode.objects.filter(
            merchant_id=merchant_id, digest__in=hashes[start:start + 10_000],
        ).values_list("digest", flat=True))
    return found


_ROW = struct.Struct(">hiqiqi16s")  # a COPY binary row: 3 fields, int8, int8, bytea(16)


def _write(batch: CodeBatch, hashes: list[bytes]) -> None:
    """Insert the hashes, sorted (the unique index then fills page after page instead of
    touching a random page per code): PostgreSQL through COPY in its binary format, built
    here in one buffer; SQLite with executemany in big chunks."""
    hashes = sorted(hashes)
    table = SecretCode._meta.db_table
    if connection.vendor == "postgresql":
        pack, merchant_id, batch_id = _ROW.pack, batch.merchant_id, batch.pk
        with connection.cursor() as cursor, cursor.connection.cursor().copy(
                f"COPY {table} (merchant_id, batch_id, digest) FROM STDIN "
                "WITH (FORMAT binary)") as copy:
            copy.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8))  # signature, flags, extension
            for start in range(0, len(hashes), 100_000):
                copy.write(b"".join(pack(3, 8, merchant_id, 8, batch_id, 16, h)
                                    for h in hashes[start:start + 100_000]))
            copy.write(b"\xff\xff")  # the trailer
        return
    rows = [(batch.merchant_id, batch.pk, h) for h in hashes]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 50_000):
            cursor.executemany(
                f"INSERT INTO {table} (merchant_id, batch_id, digest) VALUES (%s, %s, %s)",
                rows[start:start + 50_000])


def take_sheet(batch: CodeBatch, *, actor: Actor) -> list[str]:
    """The batch's plain codes, once: the sheet is emptied in the same transaction, so a second
    download (or a second click racing the first) finds nothing."""
    with transaction.atomic():
        locked = CodeBatch.objects.select_for_update().filter(pk=batch.pk).first()
        if locked is None or locked.sheet is None:
            raise Conflict(_("The codes of this batch were downloaded already: only their "
                             "hashes are kept, nobody can see them again."), field="batch")
        codes = zlib.decompress(bytes(locked.sheet)).decode().split("\n")
        now = clock.now()
        CodeBatch.objects.filter(pk=batch.pk).update(sheet=None, downloaded_at=now)
        batch.sheet, batch.downloaded_at = None, now
        audit.record("campaigns.batch.downloaded", actor=actor, merchant=batch.merchant,
                     obj=batch, data={"count": len(codes)})
    return codes


# --- statistics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchStats:
    batch: CodeBatch
    printed: int
    activated: int
    points: int
    new_members: int


def batch_stats(campaign: Campaign) -> list[BatchStats]:
    batches = list(CodeBatch.objects.filter(campaign=campaign).order_by("pk").annotate(
        activated=Count("activations"), points_granted=Sum("activations__points"),
        new_members=Count("activations", filter=Q(activations__new_member=True))))
    return [BatchStats(b, b.count, b.activated, b.points_granted or 0, b.new_members)
            for b in batches]


# --- activation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activated:
    activation: Activation
    campaign: Campaign
    points: int
    available: int
    pending: int


def _wait(rows, most: int, window: int, now: datetime) -> int:
    """Seconds until `rows` (guesses) fall below `most` in the window; 0 if they are."""
    if most <= 0:
        return 0
    times = list(rows.filter(at__gt=now - timedelta(seconds=window))
                 .order_by("-at").values_list("at", flat=True)[:most])
    if len(times) < most:
        return 0
    return max(1, int((times[most - 1] + timedelta(seconds=window) - now).total_seconds()) + 1)


def _locked(detail_minutes: int) -> str:
    return ngettext(
        "Too many wrong codes. For your safety, codes are not accepted for %(minutes)s "
        "minute.",
        "Too many wrong codes. For your safety, codes are not accepted for %(minutes)s "
        "minutes.", detail_minutes) % {"minutes": detail_minutes}


def check_lockout(phone: str, ip: str | None, *, campaign: Campaign | None = None) -> None:
    """Refuse (LockedOut) a phone or an address that guessed too often; with `campaign`, only
    the tighter rule of a campaign in a guessing storm (the general one was checked first)."""
    conf, now = limits(), clock.now()
    window = conf["WINDOW"]
    with scopes_disabled():
        waits = [0] if campaign is not None else [
            _wait(Guess.objects.filter(phone=phone), conf["PHONE"], window, now)
            if phone else 0,
            _wait(Guess.objects.filter(ip=ip), conf["ADDRESS"], window, now) if ip else 0]
        if campaign is not None and _storming(campaign, now):
            tight = conf["STORM_PHONE"]
            if phone:
                waits.append(_wait(Guess.objects.filter(phone=phone), tight, window, now))
            if ip:
                waits.append(_wait(Guess.objects.filter(ip=ip), tight, window, now))
    seconds = max(waits)
    if seconds:
        raise LockedOut(_locked(max(1, (seconds + 59) // 60)), retry_after=seconds)


def _storming(campaign: Campaign, now: datetime) -> bool:
    conf = limits()
    since = now - timedelta(seconds=conf["WINDOW"])
    return Guess.objects.filter(campaign=campaign, at__gt=since).count() >= conf["STORM"]


def _campaign_of_guess(merchant: Merchant | None, code: str) -> Campaign | None:
    """Which campaign a wrong code was aimed at: the batch whose prefix it starts with, else
    the merchant's only running campaign."""
    if merchant is None:
        return None
    batches = [b for b in CodeBatch.objects.filter(merchant=merchant).exclude(prefix="")
               .select_related("campaign").order_by("-pk")[:200]
               if code.startswith(b.prefix)]
    if batches:
        return batches[0].campaign
    today = timezone.localdate()
    running = list(Campaign.objects.filter(merchant=merchant, starts_on__lte=today).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=today))[:2])
    return running[0] if len(running) == 1 else None


def _wrong(merchant: Merchant | None, code: str, phone: str, ip: str | None) -> DomainError:
    """Record a wrong code (committed whatever the caller does next) and say so."""
    conf, now = limits(), clock.now()
    with transaction.atomic():
        campaign = _campaign_of_guess(merchant, code)
        Guess.objects.create(merchant=merchant, campaign=campaign, phone=phone or "", ip=ip,
                             at=now)
        if campaign is not None:
            _maybe_alert(campaign, now)
    with scopes_disabled():
        used = Guess.objects.filter(phone=phone, at__gt=now - timedelta(
            seconds=conf["WINDOW"])).count() if phone else 0
    left = conf["PHONE"] - used
    if phone and left <= 0:
        wait = _wait(Guess.objects.filter(phone=phone), conf["PHONE"], conf["WINDOW"], now)
        return LockedOut(_locked(max(1, (wait + 59) // 60)), retry_after=wait)
    if phone and left <= 3:
        return InvalidInput(ngettext(
            "There is no such code. Check it and try again: %(left)s attempt left.",
            "There is no such code. Check it and try again: %(left)s attempts left.",
            left) % {"left": left}, field="code")
    return InvalidInput(_("There is no such code. Check it and try again."), field="code")


def _maybe_alert(campaign: Campaign, now: datetime) -> None:
    """E-mail the owners once per window when the campaign sees a guessing storm."""
    window = timedelta(seconds=limits()["WINDOW"])
    if campaign.storm_alerted_at and campaign.storm_alerted_at > now - window:
        return
    if not _storming(campaign, now):
        return
    updated = Campaign.objects.filter(pk=campaign.pk).filter(
        Q(storm_alerted_at__isnull=True) | Q(storm_alerted_at__lte=now - window),
    ).update(storm_alerted_at=now)
    if not updated:
        return
    campaign.storm_alerted_at = now
    merchant = campaign.merchant
    audit.record("campaigns.campaign.guessing_storm", actor=Actor(kind="system", label="guard"),
                 merchant=merchant, obj=campaign, data={"window": int(window.total_seconds())})
    owners = Staff.objects.filter(merchant=merchant, role=Staff.Role.OWNER, active=True) \
        .select_related("user")
    addresses = [staff.user.email for staff in owners if staff.user.email]
    if not addresses:
        return
    with translation.override(merchant.language):
        subject = _("%(merchant)s: someone is guessing the codes of “%(campaign)s”") % {
            "merchant": merchant.name, "campaign": campaign.name}
        body = _(
            "Campaign “%(campaign)s” got %(count)s wrong codes within the last hour. "
            "Someone may be trying to guess codes.\n\nWhile it lasts, a phone or an address "
            "with a few wrong codes is locked out of this campaign. Nothing else needs doing; "
            "if it goes on, make the codes of the next batch longer.") % {
            "campaign": campaign.name, "count": limits()["STORM"]}
    transaction.on_commit(lambda: EmailMessage(
        subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=addresses,
    ).send(), robust=True)


def find_code(merchant: Merchant, code: str) -> SecretCode | None:
    if not code or len(code) > 40:
        return None
    return SecretCode.objects.filter(merchant=merchant, digest=secret.digest(code)) \
        .select_related("batch__campaign").first()


def merchant_of_code(code: str) -> Merchant | None:
    """The merchant of a code that names none (a QR link, an SMS), or None. Codes are unique
    per merchant only: when several merchants have it, None (the member must use the wallet)."""
    if not code or len(code) > 40:
        return None
    with scopes_disabled():
        rows = list(SecretCode.objects.filter(digest=secret.digest(code))
                    .select_related("merchant")[:2])
    return rows[0].merchant if len(rows) == 1 else None


def activate(merchant: Merchant, member: Member, code: str, channel: str, *, actor: Actor,
             ip: str | None = None) -> Activated:
    """Use `code` for `member`: the batch's points on their account, once."""
    if member.merchant_id != merchant.pk:
        raise ValueError("the member belongs to another merchant")
    if channel not in Activation.Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    normal = secret.normalise(code)
    if not normal:
        raise InvalidInput(_("Enter the code."), field="code")
    phone = str(member.person.phone or "")
    check_lockout(phone, ip)
    found = find_code(merchant, normal)
    if found is None:
        raise _wrong(merchant, normal, phone, ip)
    batch = found.batch
    campaign = batch.campaign
    check_lockout(phone, ip, campaign=campaign)
    with transaction.atomic():
        Member.objects.select_for_update().filter(pk=member.pk).first()  # one at a time
        used = Activation.objects.filter(code=found).select_related("member").first()
        if used is not None:
            if used.member_id == member.pk:
                raise Conflict(_("You have already activated this code."), field="code")
            raise Conflict(_("This code has already been activated."), field="code")
        now = clock.now()
        today = timezone.localdate(now, timezone=_zone(merchant))
        if today < campaign.starts_on:
            raise Conflict(_("The campaign starts on %(date)s: come back then.")
                           % {"date": campaign.starts_on.strftime("%d.%m.%Y")}, field="code")
        if campaign.ends_on is not None and today > campaign.ends_on:
            raise Conflict(_("The campaign is over: codes are no longer accepted."),
                           field="code")
        mine = Activation.objects.filter(merchant=merchant, campaign=campaign, member=member)
        if campaign.per_member is not None and mine.count() >= campaign.per_member:
            raise Conflict(ngettext(
                "One member may activate %(count)s code of this campaign, and you have.",
                "One member may activate %(count)s codes of this campaign, and you have.",
                campaign.per_member) % {"count": campaign.per_member}, field="code")
        if campaign.per_day is not None:
            start = _local_midnight(merchant, today)
            if mine.filter(at__gte=start).count() >= campaign.per_day:
                raise Conflict(ngettext(
                    "You may activate %(count)s code of this campaign a day: come back "
                    "tomorrow.",
                    "You may activate %(count)s codes of this campaign a day: come back "
                    "tomorrow.", campaign.per_day) % {"count": campaign.per_day},
                    field="code")
        if member.status != Member.Status.ACTIVE:
            raise Conflict(_("This member's card is blocked or has left the program."),
                           field="member")
        points = batch.points_per_code
        try:
            with transaction.atomic():
                activation = Activation.objects.create(
                    merchant=merchant, code=found, campaign=campaign, batch=batch,
                    member=member, points=points, channel=channel, at=now,
                    new_member=member.registered_at >= now - NEW_MEMBER_WITHIN)
        except IntegrityError:  # another request used it a moment ago
            raise Conflict(_("This code has already been activated."), field="code") from None
        granted = grants.grant_points(
            merchant, member, points=points, cause_type="campaign_code",
            cause_id=str(activation.pk), lot_kind=Lot.Kind.CODE, actor=actor,
            validity_days=campaign.validity_days)
        audit.record("campaigns.code.activated", actor=actor, merchant=merchant,
                     obj=activation, data={"campaign": campaign.pk, "batch": batch.pk,
                                           "member": member.pk, "points": points,
                                           "channel": channel, "phone": mask_phone(phone)
                                           if phone else ""})
        events.publish(events.CodeActivated(
            merchant=merchant, activation=activation, member=member, points=points,
            available=granted.available, pending=granted.pending))
    return Activated(activation, campaign, points, granted.available, granted.pending)


def _zone(merchant: Merchant):
    from zoneinfo import ZoneInfo

    return ZoneInfo(merchant.timezone)


def _local_midnight(merchant: Merchant, day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=_zone(merchant))


def campaign(merchant: Merchant, campaign_id: int) -> Campaign:
    found = Campaign.objects.filter(merchant=merchant, pk=campaign_id).first()
    if found is None:
        raise NotFound(_("No such campaign."))
    return found


# --- codes that name no merchant: the QR link under the cap, an SMS ---------------------------


class NotAMember(Conflict):
    """The code is right but the person has no card at its merchant yet: join first."""

    def __init__(self, merchant: Merchant):
        super().__init__(_("This code is from %(shop)s, where you have no card yet: join, then "
                           "activate the code.") % {"shop": merchant.name}, field="code")
        self.merchant = merchant


def locate(code: str, *, phone: str, ip: str | None = None) -> tuple[Merchant, Member]:
    """The merchant of a code that came without one, and the member there of the person with
    `phone`. A wrong code counts as a guess of the phone and the address; a right one of a
    shop where the person has no card raises NotAMember (and costs nothing)."""
    normal = secret.normalise(code)
    if not normal:
        raise InvalidInput(_("Enter the code."), field="code")
    check_lockout(phone, ip)
    merchant = merchant_of_code(normal)
    if merchant is None:
        raise _wrong(None, normal, phone, ip)
    with scopes_disabled():
        member = Member.objects.select_related("person", "merchant").filter(
            merchant=merchant, person__phone=phone).first() if phone else None
    if member is None:
        raise NotAMember(merchant)
    return merchant, member


SMS_KEYWORDS = ("CODE", "КОД")


def code_in_sms(text: str) -> str | None:
    """The code in an SMS: "CODE 7XQ29F4K" (or КОД, any case); None for any other text."""
    words = text.strip().split()
    if len(words) >= 2 and words[0].upper() in SMS_KEYWORDS:
        return "".join(words[1:])
    return None


@dataclass(frozen=True)
class SmsAnswer:
    reply: str
    activated: Activated | None
    merchant: Merchant | None


def activate_by_sms(phone: str, text: str, *, actor: Actor) -> SmsAnswer | None:
    """An inbound SMS with a code: activate it for the member with the sender's phone and
    write the reply (queued as an SMS from the code's merchant when it is known). None when
    the text holds no code."""
    code = code_in_sms(text)
    if code is None:
        return None
    merchant = None
    activated = None
    try:
        merchant, member = locate(code, phone=phone)
    except NotAMember as refused:
        merchant = refused.merchant
        with translation.override(merchant.language):
            reply = _("This code is from %(shop)s. Join at the counter or in the wallet, "
                      "then send the code again.") % {"shop": merchant.name}
    except DomainError as refused:
        reply = str(refused.detail)
    else:
        principal = access.Principal.for_member(member, ip=actor.ip)
        with access.enter(principal), translation.override(merchant.language):
            try:
                activated = activate(merchant, member, code, Activation.Channel.SMS,
                                     actor=principal.actor)
            except DomainError as refused:
                reply = str(refused.detail)
            else:
                fmt = render.formats(merchant, merchant.language)
                reply = render.render(_("+{points} for the code. Your balance: {balance}."),
                                      merchant, fmt, {"points": activated.points,
                                                      "balance": activated.available})
                if activated.campaign.text:
                    reply = f"{reply} {activated.campaign.text}"
    reply = reply.replace("{", "(").replace("}", ")")  # no placeholders in a reply
    if merchant is not None:
        with access.enter(access.Principal.system(merchant)), transaction.atomic():
            messaging.queue(merchant, event=Event.ONE_TIME_CODE, recipient=phone,
                            context={}, body=reply)
    return SmsAnswer(reply=reply, activated=activated, merchant=merchant)
