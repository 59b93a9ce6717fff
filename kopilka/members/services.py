"""Member operations: registration, look-up, profile, cards, relatives and consents.

Callers run inside `scope(merchant=...)`; every function takes the merchant explicitly too,
so a row of another merchant can never be touched by passing its id.
"""

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput, NotFound
from kopilka.core.phones import normalize_phone
from kopilka.members.models import Card, Consent, Member, Person, Relative
from kopilka.tenancy.models import Merchant, Staff

PROFILE_FIELDS = (
    "first_name", "last_name", "gender", "birth_date", "email", "address", "comment", "tags",
)


@dataclass(frozen=True)
class ConsentGiven:
    kind: str
    text_version: str


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
            value = sorted({str(tag).strip() for tag in (value or []) if str(tag).strip()})
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
    **profile,
) -> Member:
    e164 = normalize_phone(phone, merchant.country)
    profile = _clean_profile(profile)
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
                **profile,
            )
            Card.objects.create(
                merchant=merchant, member=member, number=e164.lstrip("+"),
                kind=Card.Kind.PHONE, issued_at=now,
            )
    except IntegrityError:
        raise Conflict(_("This phone number is already registered."), field="phone") from None
    for consent in consents:
        _grant(member, consent, channel, now)
    audit.record(
        "members.member.registered",
        actor=actor,
        merchant=merchant,
        obj=member,
        data={"channel": channel, "consents": [c.kind for c in consents]},
    )
    return member


def _first(rows):
    """The one row a unique look-up finds, or None — without `.first()`'s ORDER BY id, which
    can turn an index look-up into a scan."""
    found = list(rows[:1])
    return found[0] if found else None


def find_member(
    merchant: Merchant, *, phone: str | None = None, card: str | None = None, qr: str | None = None
) -> Member:
    """Counter look-up by phone, card number or the QR token shown on the member page.

    Each way goes through its own unique index (person phone, card number per merchant, QR
    token) before touching members, so the plan does not depend on table statistics.
    """
    members = Member.objects.filter(merchant=merchant).select_related("person")
    if phone:
        person = Person.objects.filter(phone=normalize_phone(phone, merchant.country))
        found = _first(members.filter(person_id__in=person.values("pk")))
    elif card:
        cards = Card.objects.filter(
            merchant=merchant, number=card.strip(), status=Card.Status.ACTIVE
        )
        found = _first(members.filter(pk__in=cards.values("member_id")))
    elif qr:
        found = _first(members.filter(qr_token=qr.strip()))
    else:
        raise InvalidInput(_("Give a phone, a card number or a QR token."), field="phone")
    if found is None:
        raise NotFound(_("No member found."))
    return found


def get_member(merchant: Merchant, member_id: int) -> Member:
    try:
        return Member.objects.select_related("person").get(merchant=merchant, pk=member_id)
    except Member.DoesNotExist:
        raise NotFound(_("No member %(id)s.") % {"id": member_id}) from None


@transaction.atomic
def update_member(member: Member, *, actor: Actor, **changes) -> Member:
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


def _grant(member: Member, consent: ConsentGiven, channel: str, now) -> Consent:
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
