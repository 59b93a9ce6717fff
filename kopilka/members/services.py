"""Member operations: registration, look-up, profile, cards, relatives and consents.

Callers run inside `scope(merchant=...)`; every function takes the merchant explicitly too,
so a row of another merchant can never be touched by passing its id.
"""

from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, F, Q, Subquery
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput, NotFound
from kopilka.core.phones import normalize_phone
from kopilka.core.prepared import PreparedQuery
from kopilka.members.models import Card, Consent, Member, Person, Relative, new_qr_token
from kopilka.tenancy.models import Merchant, Staff

PROFILE_FIELDS = (
    "first_name", "last_name", "gender", "birth_date", "email", "address", "comment", "tags",
)


MAX_TAGS = 20
MAX_TAG_LENGTH = 40


@dataclass(frozen=True)
class ConsentGiven:
    kind: str
    text_version: str


def clean_tags(tags) -> list[str]:
    """Trimmed, without empties and repeats, sorted; at most MAX_TAGS of MAX_TAG_LENGTH.

    Case is kept: program rules (`member_tags_any`) compare tags exactly, so lower-casing
    here would silently stop a rule written as "VIP" from matching.
    """
    clean = sorted({" ".join(str(tag).split()) for tag in tags} - {""})
    for tag in clean:
        if len(tag) > MAX_TAG_LENGTH:
            raise InvalidInput(
                _("A tag has at most %(max)s characters: %(tag)r.")
                % {"max": MAX_TAG_LENGTH, "tag": tag},
                field="tags",
            )
    if len(clean) > MAX_TAGS:
        raise InvalidInput(_("At most %(max)s tags.") % {"max": MAX_TAGS}, field="tags")
    return clean


def _clean_profile(changes: dict) -> dict:
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        first = sorted(unknown)[0]
        raise InvalidInput(_("Unknown field %(field)r.") % {"field": first}, field=first)
    clean = {}
    for field, value in changes.items():
        if field in ("first_name", "last_name", "address", "comment"):
            value = (value or "").strip()
        elif field == "email":
            # null clears the address, as "" does (the column holds no NULL).
            value = (value or "").strip().lower()
            if value:
                try:
                    validate_email(value)
                except ValidationError:
                    raise InvalidInput(
                        _("%(email)r is not an email address.") % {"email": value},
                        field="email",
                    ) from None
        elif field == "gender" and value is None:
            value = ""  # null clears it, as "" does
        elif field == "gender" and value not in Member.Gender.values:
            raise InvalidInput(_("gender must be female, male or empty."), field="gender")
        elif field == "birth_date" and value is not None:
            if not isinstance(value, date) or value > clock.now().date():
                raise InvalidInput(_("birth_date must be a past date."), field="birth_date")
        elif field == "tags":
            value = clean_tags(value or [])
        clean[field] = value
    return clean


@transaction.atomic
def register_member(
    merchant: Merchant,
    *,
    phone: str,
    actor: Actor,
    channel: str,
    staff: Staff | None = None,
    consents: list[ConsentGiven] = (),
    referrer_code: str = "",
    confirmed_by=None,
    **profile,
) -> Member:
    """`confirmed_by`: the one-time code (codes.OneTimeCode) the customer typed to prove the
    phone is theirs; the phone is then recorded as verified, and the consents as confirmed
    by that code (MEM-1). The caller checks and uses up the code."""
    e164 = normalize_phone(phone, merchant.country)
    profile = _clean_profile(profile)
    referrer_code = referrer_code.strip()
    now = clock.now()
    person, _created = Person.objects.get_or_create(phone=e164, defaults={"created_at": now})
    if Member.objects.filter(merchant=merchant, person=person).exists():
        raise Conflict(_("This phone number is already registered."), field="phone")
    try:
        # A savepoint: two cashiers registering the same phone at the same moment both pass
        # the check above; the unique constraints decide, and the loser gets a 409, not a 500.
        with transaction.atomic():
            member = Member.objects.create(
                merchant=merchant,
                person=person,
                registered_at=now,
                registered_by=staff,
                registered_via=channel,
                referrer_code=referrer_code,
                **profile,
            )
            Card.objects.create(
                merchant=merchant, member=member, number=e164.lstrip("+"),
                kind=Card.Kind.PHONE, issued_at=now,
            )
    except IntegrityError:
        raise Conflict(_("This phone number is already registered."), field="phone") from None
    if confirmed_by is not None:
        person.verified_at = now
        person.save(update_fields=["verified_at"])
    for consent in consents:
        _grant(member, consent, channel, now, confirmed_by=confirmed_by)
    audit.record(
        "members.member.registered",
        actor=actor,
        merchant=merchant,
        obj=member,
        data={"channel": channel, "consents": [c.kind for c in consents],
              "phone_verified": confirmed_by is not None},
    )
    return member


# Relations of the apps above that whoever finds a member at the counter reads next (the
# points account): those apps register them from their AppConfig.ready(), members never names
# them. The POS query budget counts on the look-up being one query.
_counter_joins: list[str] = []


def join_at_the_counter(*relations: str) -> None:
    """Join `relations` (of Member) into every counter look-up (find_member, get_member). Call
    from AppConfig.ready(): the look-ups compile once, on first use."""
    if any(query.compiled for query in _COUNTER_QUERIES):
        raise RuntimeError("the counter look-ups are compiled already; register in ready()")
    _counter_joins.extend(r for r in relations if r not in _counter_joins)


def _at_the_counter(lookup):
    """A member of the merchant (the first argument) found at the counter, with the person and
    the registered relations joined: whoever finds a member there shows the phone and the
    balance next. A joined row is a snapshot: writes lock and re-read it (ledger.Book.open).
    Compiled once per process (core/prepared.py)."""

    def build(merchant_id, value):
        members = Member.objects.filter(merchant_id=merchant_id).select_related(
            "person", *_counter_joins)
        return members.filter(**lookup(merchant_id, value))[:1]

    return build


# Each way in goes through its own unique index, and the phone and card ways compare the
# member column with a scalar subquery (one index probe, run once): with `IN (subquery)` the
# planner could pick a scan of the merchant's members when its statistics are stale.
_BY_PHONE = PreparedQuery(_at_the_counter(lambda merchant_id, phone: {
    "person_id": Subquery(Person.objects.filter(phone=phone).values("pk")[:1])}),
    kinds=(int, str))
_BY_CARD = PreparedQuery(_at_the_counter(lambda merchant_id, number: {
    "pk": Subquery(Card.objects.filter(
        merchant_id=merchant_id, number=number, status=Card.Status.ACTIVE,
    ).values("member_id")[:1])}), kinds=(int, str))
_BY_QR = PreparedQuery(_at_the_counter(lambda merchant_id, token: {"qr_token": token}),
                       kinds=(int, str))
_BY_ID = PreparedQuery(_at_the_counter(lambda merchant_id, member_id: {"pk": member_id}),
                       kinds=(int, int))
_COUNTER_QUERIES = (_BY_PHONE, _BY_CARD, _BY_QR, _BY_ID)


def find_member(
    merchant: Merchant, *, phone: str | None = None, card: str | None = None, qr: str | None = None
) -> Member:
    """Counter look-up by phone, card number or the QR token shown on the member page."""
    if phone:
        found = _BY_PHONE.first(merchant.pk, normalize_phone(phone, merchant.country))
    elif card:
        found = _BY_CARD.first(merchant.pk, card.strip())
    elif qr:
        found = _BY_QR.first(merchant.pk, qr.strip())
    else:
        raise InvalidInput(_("Give a phone, a card number or a QR token."), field="phone")
    if found is None:
        raise NotFound(_("No member found."))
    found.merchant = merchant  # the caller's instance: no query for member.merchant
    return found


def get_member(merchant: Merchant, member_id: int) -> Member:
    member_id = int(member_id)
    # Beyond 64 bits no row can match, and the database driver would refuse the number.
    found = _BY_ID.first(merchant.pk, member_id) if 0 < member_id < 2**63 else None
    if found is None:
        raise NotFound(_("No member %(id)s.") % {"id": member_id})
    found.merchant = merchant
    return found


@transaction.atomic
def update_member(member: Member, *, actor: Actor, **changes) -> Member:
    _check_not_erased(member)
    clean = _clean_profile(changes)
    changed = {field: value for field, value in clean.items() if getattr(member, field) != value}
    if not changed:
        return member
    for field, value in changed.items():
        setattr(member, field, value)
    member.save(update_fields=list(changed))
    audit.record(
        "members.member.updated",
        actor=actor,
        merchant=member.merchant,
        obj=member,
        data={"fields": sorted(changed)},
    )
    return member


def _check_card_number(number: str) -> str:
    number = number.strip().replace(" ", "")
    if not number or not number.isalnum() or len(number) > 40:
        raise InvalidInput(_("A card number is 1-40 letters or digits."), field="number")
    return number


def _new_card(member: Member, number: str, kind: str) -> Card:
    try:
        with transaction.atomic():
            return Card.objects.create(
                merchant=member.merchant, member=member, number=number, kind=kind,
                issued_at=clock.now(),
            )
    except IntegrityError:
        raise Conflict(
            _("Card %(number)s is already in use.") % {"number": number}, field="number"
        ) from None


@transaction.atomic
def issue_card(member: Member, *, number: str, actor: Actor, kind: str = Card.Kind.PLASTIC) -> Card:
    _check_not_erased(member)
    card = _new_card(member, _check_card_number(number), kind)
    audit.record("members.card.issued", actor=actor, merchant=member.merchant, obj=card)
    return card


@transaction.atomic
def replace_card(card: Card, *, new_number: str, actor: Actor, lost: bool = False) -> Card:
    """A lost or worn card is replaced: the member, and so the balance, stay the same."""
    if card.status != Card.Status.ACTIVE:
        raise Conflict(_("Card %(number)s is not active.") % {"number": card.number}, field="card")
    new_card = _new_card(card.member, _check_card_number(new_number), card.kind)
    card.status = Card.Status.LOST if lost else Card.Status.REPLACED
    card.replaced_by = new_card
    card.save(update_fields=["status", "replaced_by"])
    audit.record(
        "members.card.replaced",
        actor=actor,
        merchant=card.merchant,
        obj=card,
        data={"new_card": new_card.number, "lost": lost},
    )
    return new_card


@transaction.atomic
def add_relative(
    member: Member, *, name: str, actor: Actor, relation: str = "", birth_date: date | None = None
) -> Relative:
    if not name.strip():
        raise InvalidInput(_("The relative needs a name."), field="name")
    relative = Relative.objects.create(
        merchant=member.merchant, member=member, name=name.strip(), relation=relation.strip(),
        birth_date=birth_date,
    )
    audit.record("members.relative.added", actor=actor, merchant=member.merchant, obj=relative)
    return relative


def _grant(member: Member, consent: ConsentGiven, channel: str, now,
           confirmed_by=None) -> Consent:
    if consent.kind not in Consent.Kind.values:
        raise InvalidInput(
            _("Unknown consent %(kind)r.") % {"kind": consent.kind}, field="consents"
        )
    if not consent.text_version.strip():
        raise InvalidInput(
            _("A consent names the version of the text agreed to."), field="consents"
        )
    return Consent.objects.create(
        merchant=member.merchant, member=member, kind=consent.kind,
        text_version=consent.text_version.strip(), channel=channel, granted_at=now,
        evidence=Consent.Evidence.ONE_TIME_CODE if confirmed_by else Consent.Evidence.NONE,
        one_time_code=confirmed_by,
    )


@transaction.atomic
def grant_consent(member: Member, consent: ConsentGiven, *, channel: str, actor: Actor) -> Consent:
    row = _grant(member, consent, channel, clock.now())
    audit.record("members.consent.granted", actor=actor, merchant=member.merchant, obj=row)
    return row


@transaction.atomic
def revoke_consent(member: Member, kind: str, *, actor: Actor) -> int:
    revoked = Consent.objects.filter(
        merchant=member.merchant, member=member, kind=kind, revoked_at__isnull=True
    ).update(revoked_at=clock.now())
    audit.record(
        "members.consent.revoked", actor=actor, merchant=member.merchant, obj=member,
        data={"kind": kind, "rows": revoked},
    )
    return revoked


def has_consent(member: Member, kind: str) -> bool:
    return Consent.objects.filter(
        merchant=member.merchant, member=member, kind=kind, revoked_at__isnull=True
    ).exists()


# --- searching, tags and erasure -------------------------------------------------------------


@dataclass(frozen=True)
class MemberFilter:
    """What the member list can be narrowed by; None means "any". Time bounds: from
    inclusive, to exclusive. Spend, purchases and tier are the points account's."""

    phone: str | None = None
    q: str | None = None
    tier: str | None = None
    tag: str | None = None
    status: str | None = None
    registered_from: datetime | None = None
    registered_to: datetime | None = None
    last_purchase_from: datetime | None = None
    last_purchase_to: datetime | None = None
    spend_min: int | None = None
    spend_max: int | None = None
    purchases_min: int | None = None
    purchases_max: int | None = None
    # The cabinet's member list (#16, members/segments.py) narrows by these too.
    find: str | None = None  # a phone number, card number, @alias or words of the name
    gender: str | None = None
    born_from: date | None = None  # birth date bounds: from inclusive, to exclusive
    born_to: date | None = None
    average_min: int | None = None  # average check: lifetime spend / purchases
    average_max: int | None = None
    balance_min: int | None = None  # spendable points as of the account's last change
    balance_max: int | None = None


def _with_tag(rows, tag: str):
    if connection.features.supports_json_field_contains:  # PostgreSQL: jsonb @> '["tag"]'
        return rows.filter(tags__contains=[tag])
    # SQLite has no JSON containment: look through the array with json_each.
    has_tag = RawSQL(
        f"EXISTS (SELECT 1 FROM json_each({Member._meta.db_table}.tags) WHERE value = %s)",
        (tag,), output_field=BooleanField(),
    )
    return rows.alias(has_tag=has_tag).filter(has_tag=True)


def _found(rows, merchant: Merchant, text: str):
    """Members a search box's text names: a phone number or card number (exact), an @alias,
    else the words of the name."""
    text = " ".join(text.split())
    if text.startswith("@"):
        alias = text[1:].strip().casefold()
        return rows.filter(person__alias_key=alias) if alias else rows.none()
    digits = sum(char.isdigit() for char in text)
    if digits >= 4 and digits >= len(text.replace(" ", "")) - 4:
        # Two look-ups by unique indexes, then the members by id: an OR of the two in one
        # query would read the whole base. A phone card's number is the phone: it is found
        # (or not, when the member hides it) as a phone.
        ids = set(Card.objects.filter(merchant=merchant, number=text.replace(" ", ""))
                  .exclude(kind=Card.Kind.PHONE).values_list("member_id", flat=True))
        with suppress(InvalidInput):  # not a phone number: a card number only
            ids |= set(Member.objects.filter(
                merchant=merchant, person__phone=normalize_phone(text, merchant.country),
                phone_hidden=False).values_list("pk", flat=True))
        return rows.filter(pk__in=sorted(ids))
    for word in text.split():
        rows = rows.filter(Q(first_name__icontains=word) | Q(last_name__icontains=word))
    return rows


def search_members(merchant: Merchant, wanted: MemberFilter):
    """The merchant's members matching every given criterion, person and account joined (one
    query for a page of any size, whatever the filter; a number in `find` costs two indexed
    look-ups more)."""
    rows = Member.objects.filter(merchant=merchant).select_related("person", "account")
    if wanted.phone is not None:
        e164 = normalize_phone(wanted.phone, merchant.country)
        rows = rows.filter(person__phone=e164)
    for word in (wanted.q or "").split():
        rows = rows.filter(Q(first_name__icontains=word) | Q(last_name__icontains=word))
    if wanted.tag is not None:
        rows = _with_tag(rows, " ".join(wanted.tag.split()))
    bounds = {
        "account__tier_code": wanted.tier,
        "status": wanted.status,
        "registered_at__gte": wanted.registered_from,
        "registered_at__lt": wanted.registered_to,
        "account__last_purchase_at__gte": wanted.last_purchase_from,
        "account__last_purchase_at__lt": wanted.last_purchase_to,
        "account__lifetime_spend__gte": wanted.spend_min,
        "account__lifetime_spend__lte": wanted.spend_max,
        "account__purchase_count__gte": wanted.purchases_min,
        "account__purchase_count__lte": wanted.purchases_max,
        "gender": wanted.gender,
        "birth_date__gte": wanted.born_from,
        "birth_date__lt": wanted.born_to,
        "account__available__gte": wanted.balance_min,
        "account__available__lte": wanted.balance_max,
    }
    if wanted.find:
        rows = _found(rows, merchant, wanted.find)
    if wanted.average_min is not None or wanted.average_max is not None:
        rows = rows.filter(account__purchase_count__gt=0)
        count = F("account__purchase_count")
        if wanted.average_min is not None:
            rows = rows.filter(account__lifetime_spend__gte=count * wanted.average_min)
        if wanted.average_max is not None:
            rows = rows.filter(account__lifetime_spend__lte=count * wanted.average_max)
    return rows.filter(**{lookup: value for lookup, value in bounds.items() if value is not None})


def _check_not_erased(member: Member) -> None:
    if member.status == Member.Status.ERASED:
        raise Conflict(_("This member was erased."), field="member")


@transaction.atomic
def set_tags(member: Member, tags: list[str], *, actor: Actor) -> Member:
    """Replace the member's tags. Tags decide which program rules apply to the member
    (`member_tags_any`), so every change is in the audit log with both lists."""
    _check_not_erased(member)
    clean = clean_tags(tags)
    if clean != member.tags:
        before, member.tags = member.tags, clean
        member.save(update_fields=["tags"])
        audit.record("members.member.tagged", actor=actor, merchant=member.merchant, obj=member,
                     data={"before": before, "after": clean})
    return member


@transaction.atomic
def set_blocked(member: Member, blocked: bool, *, actor: Actor) -> Member:
    """Block a member (no purchases, no points until unblocked; refunds and deductions still
    settle what happened) or unblock them. Only an active member is blocked and only a blocked
    one unblocked; asking for the state the member is in changes nothing."""
    member = Member.objects.select_for_update().get(pk=member.pk, merchant=member.merchant)
    wanted = Member.Status.BLOCKED if blocked else Member.Status.ACTIVE
    if member.status == wanted:
        return member
    if member.status not in (Member.Status.ACTIVE, Member.Status.BLOCKED):
        raise Conflict(_("This member has left the program or was erased."), field="member")
    member.status = wanted
    member.save(update_fields=["status"])
    audit.record("members.member.blocked" if blocked else "members.member.unblocked",
                 actor=actor, merchant=member.merchant, obj=member)
    return member


@transaction.atomic
def erase_member(member: Member, *, actor: Actor) -> Member:
    """Erase a member's personal data (GDPR "right to erasure"), keeping the financial records.

    What goes: the profile (names, gender, email, birth date, address, comment, tags), the
    relatives; consents are revoked (the rows stay as the record of what was agreed to and
    when); every card is blocked, and the number of the phone card — the phone itself — is
    replaced; the QR token is renewed. The points account, its ledger, purchases and refunds
    stay: they are accounting records, and without the profile they no longer say whose.

    The phone lives on `Person`, the global identity other merchants' memberships share, and
    `Member.person` is PROTECT and not nullable (every look-up and answer relies on a person).
    So the member is re-pointed to a fresh tombstone Person without a phone; the old Person is
    deleted when no other merchant's membership uses it. Either way the phone no longer finds
    this member, and the person can register again as a new member with a new account.
    Erasing twice changes nothing.
    """
    member = Member.objects.select_for_update().select_related("person").get(pk=member.pk)
    if member.status == Member.Status.ERASED:
        return member
    now = clock.now()
    old_person = member.person
    member.person = Person.objects.create(phone=None, created_at=now)
    for field in ("first_name", "last_name", "gender", "email", "address", "comment"):
        setattr(member, field, "")
    member.birth_date, member.tags = None, []
    member.status, member.qr_token = Member.Status.ERASED, new_qr_token()
    member.save()
    relatives, _deleted = Relative.objects.filter(merchant=member.merchant, member=member).delete()
    consents = Consent.objects.filter(
        merchant=member.merchant, member=member, revoked_at__isnull=True
    ).update(revoked_at=now)
    cards = list(Card.objects.filter(merchant=member.merchant, member=member))
    for card in cards:
        card.status = Card.Status.BLOCKED
        if card.kind == Card.Kind.PHONE:
            card.number = f"erased{card.pk}"  # unique, and the phone may register again
    Card.objects.bulk_update(cards, ["status", "number"])
    # The old person goes with its phone unless another merchant's membership still uses it
    # (the join is not scoped: it looks at every merchant on purpose).
    Person.objects.filter(pk=old_person.pk, memberships__isnull=True).delete()
    audit.record("members.member.erased", actor=actor, merchant=member.merchant, obj=member,
                 data={"relatives": relatives, "consents": consents, "cards": len(cards)})
    return member
