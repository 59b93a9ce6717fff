"""The alias (MEM-4, bsUA's pseudonym): one short name a person takes in their wallet and
tells at any merchant's counter instead of the phone number.

- One per person, unique platform-wide whatever the case ("Anna" and "anna" are one alias),
  kept as typed; changed or dropped by the person (the wallet confirms it by a code).
- 3 to 16 letters (any alphabet), digits, "_" or "."; it starts with a letter, so it never
  reads as a phone or a card number, and is shorter than a QR token. A leading "@" is how
  people write it and is not part of it.
- A counter finds a member by it (`find_by_alias`): counted per client in a fixed window
  (`ALIAS_LOOKUPS`, default 30 per 60 s) so nobody can walk the alias space to learn who
  shops where; beyond the limit a 429.
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, DomainError, InvalidInput, NotFound
from kopilka.members import services as members
from kopilka.members.models import Member, Person
from kopilka.tenancy.models import Merchant

ALIAS = re.compile(r"[^\W\d_][\w.]{2,15}")
DEFAULT_LOOKUPS = (30, 60)  # look-ups per client per window of seconds


class TooManyLookups(DomainError):
    status = 429
    problem = "rate-limited"
    title = gettext_lazy("Too many requests.")


def clean_alias(text: str) -> str:
    """The alias as typed, without the "@" and the spaces around; 422 when it is not one."""
    alias = (text or "").strip().removeprefix("@").strip()
    if not ALIAS.fullmatch(alias):
        raise InvalidInput(_("An alias is 3 to 16 letters, digits, “_” or “.”, starting with a "
                             "letter."), field="alias")
    return alias


def owner(alias: str) -> Person | None:
    """The person whose alias this is (case-insensitively), or None."""
    return Person.objects.filter(alias_key=key(alias), phone__isnull=False).first()


def key(alias: str) -> str:
    """What makes two aliases one: "Anna", "ANNA" and "anna" are the same."""
    return alias.casefold()


@transaction.atomic
def set_alias(person: Person, text: str, *, actor: Actor) -> Person:
    """Take or change the person's alias; 409 on `alias` when somebody else has it."""
    alias = clean_alias(text)
    taken = owner(alias)
    if taken is not None and taken.pk != person.pk:
        raise Conflict(_("This alias is taken. Try another one."), field="alias")
    previous = person.alias
    person.alias, person.alias_key = alias, key(alias)
    try:
        with transaction.atomic():  # two people taking one alias at once: the index decides
            person.save(update_fields=["alias", "alias_key"])
    except IntegrityError:
        person.alias, person.alias_key = previous, key(previous) if previous else None
        raise Conflict(_("This alias is taken. Try another one."), field="alias") from None
    audit.record("members.alias.set", actor=actor, merchant=None, obj=person,
                 data={"previous": previous or "", "alias": alias})
    return person


@transaction.atomic
def drop_alias(person: Person, *, actor: Actor) -> Person:
    """Drop the alias: it no longer finds the person anywhere and anybody may take it.
    Members who joined a merchant showing only the alias stay hidden (phone_hidden)."""
    previous = person.alias
    person.alias = person.alias_key = None
    person.save(update_fields=["alias", "alias_key"])
    audit.record("members.alias.dropped", actor=actor, merchant=None, obj=person,
                 data={"previous": previous or ""})
    return person


def _count(client: str) -> None:
    limit, window = getattr(settings, "ALIAS_LOOKUPS", DEFAULT_LOOKUPS)
    now = int(clock.now().timestamp())
    start = now - now % window
    key = f"alias-lookups:{client}:{start}"
    cache.add(key, 0, timeout=window + 1)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 1)
        used = 1
    if used > limit:
        raise TooManyLookups(
            _("Too many look-ups by alias: try again in %(seconds)s seconds.")
            % {"seconds": start + window - now})


@dataclass(frozen=True)
class AliasLookup:
    member: Member | None  # the merchant's member with this alias
    has_wallet: bool  # somebody has the alias: not yet a member here (when member is None)


def find_by_alias(merchant: Merchant, text: str, *, client: str) -> AliasLookup:
    """The merchant's member whose person has the alias `text`; counted against `client`
    (the counter, the staff member...). Call in the merchant's scope. Not a member here:
    `has_wallet` says whether the alias is anybody's, nothing more (no name, no phone)."""
    alias = clean_alias(text)
    _count(client)
    person = owner(alias)
    if person is None:
        return AliasLookup(None, False)
    try:
        return AliasLookup(members.find_member(merchant, phone=str(person.phone)), True)
    except NotFound:
        return AliasLookup(None, True)
