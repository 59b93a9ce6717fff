"""Who is using the wallet: a person (one phone, all memberships), signed in by a one-time
code or by a link from an SMS, and remembered on the device by a signed cookie.

- The cookie holds "<person id>:<generation>", signed (Django's signing, its own salt), for
  400 days (the most browsers keep one), HTTP-only, only for /my/. A cookie whose generation
  is not the person's current one is void: "sign out everywhere" raises the generation.
- A link `/m/<token>` signs in once: the token is 10 random letters and digits (59 bits; an
  SMS part is 70-160 characters), stored as a hash, used up in one UPDATE, valid LINK_TTL.
- No passwords anywhere.
"""

import hashlib
import secrets
import string
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django_scopes import scope

from kopilka.codes import services as codes
from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.members.models import Person
from kopilka.messaging import push
from kopilka.web.wallet.models import SessionGeneration, SignInLink

COOKIE = "kopilka_wallet"
COOKIE_SALT = "kopilka.wallet.person"
COOKIE_AGE = 400 * 24 * 3600
COOKIE_PATH = "/my/"
LINK_TTL = timedelta(hours=24)
LINK_ALPHABET = string.ascii_letters + string.digits
LINK_LENGTH = 10


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generation(person: Person) -> int:
    row = SessionGeneration.objects.filter(person=person).first()
    return row.generation if row is not None else 0


def person_of(request: HttpRequest) -> Person | None:
    """The person this device is signed in as, or None (no cookie, a forged or old one)."""
    value = request.get_signed_cookie(COOKIE, default=None, salt=COOKIE_SALT,
                                      max_age=COOKIE_AGE)
    if not value:
        return None
    person_id, _sep, gen = value.partition(":")
    if not (person_id.isdigit() and gen.isdigit()):
        return None
    # The person and their generation in one statement: every wallet page starts here.
    current = SessionGeneration.objects.filter(person=OuterRef("pk")).values("generation")[:1]
    person = (Person.objects.filter(pk=int(person_id), phone__isnull=False)
              .annotate(session_generation=Coalesce(Subquery(current), 0)).first())
    if person is None or person.session_generation != int(gen):
        return None
    return person


def remember(response: HttpResponse, person: Person) -> None:
    response.set_signed_cookie(
        COOKIE, f"{person.pk}:{generation(person)}", salt=COOKIE_SALT, max_age=COOKIE_AGE,
        path=COOKIE_PATH, secure=settings.SESSION_COOKIE_SECURE, httponly=True, samesite="Lax",
    )


def forget(response: HttpResponse) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, samesite="Lax")


def sign_out_everywhere(person: Person) -> None:
    """Void every wallet cookie the person has, on every device, and stop pushing to them."""
    push.forget(person)
    SessionGeneration.objects.get_or_create(person=person)
    SessionGeneration.objects.filter(person=person).update(generation=F("generation") + 1)
    audit.record("wallet.signed_out_everywhere", actor=actor_for(person), merchant=None,
                 obj=person)


def actor_for(person: Person, ip: str | None = None) -> Actor:
    return Actor(kind="member", label=f"person:{person.pk}", ip=ip)


# --- by one-time code ------------------------------------------------------------------------


def send_code(phone: str, *, ip: str | None) -> codes.Issued | None:
    """Send the phone (E.164) a wallet code. None when the phone is nobody's member: the page
    answers exactly as if a code had gone, so it does not tell who is a member."""
    return codes.request_wallet_code(phone, actor=Actor(kind="member", label="wallet", ip=ip),
                                     ip=ip)


def sign_in_with_code(phone: str, code: str) -> Person:
    """The person holding `phone`, once `code` is their live wallet code (used up here)."""
    row = codes.check_wallet_code(phone, code)
    with transaction.atomic(), scope(merchant=row.merchant):
        codes.consume(row)
        person = Person.objects.get(phone=phone)
        if person.verified_at is None:
            person.verified_at = clock.now()
            person.save(update_fields=["verified_at"])
    return person


def confirm_with_code(person: Person, code: str) -> None:
    """Use up the person's live wallet code (an erasure's confirmation); 422 on `code`."""
    row = codes.check_wallet_code(str(person.phone), code)
    with transaction.atomic(), scope(merchant=row.merchant):
        codes.consume(row)


# --- by link ---------------------------------------------------------------------------------


def issue_link(person: Person, *, ttl: timedelta = LINK_TTL) -> str:
    """A new single-use sign-in token for `person` (the path is /m/<token>)."""
    token = "".join(secrets.choice(LINK_ALPHABET) for _ in range(LINK_LENGTH))
    now = clock.now()
    SignInLink.objects.create(person=person, token_hash=_hash(token), created_at=now,
                              expires_at=now + ttl)
    return token


def wallet_link(member) -> str:
    """An absolute single-use sign-in link to the member's wallet, for a message's {link}."""
    return f"{settings.PUBLIC_URL}/m/{issue_link(member.person)}"


def use_link(token: str) -> Person | None:
    """The person a live link signs in, using it up; None for a used, expired or unknown one."""
    if len(token) != LINK_LENGTH or not all(char in LINK_ALPHABET for char in token):
        return None
    now = clock.now()
    with transaction.atomic():
        link = (SignInLink.objects.select_for_update().select_related("person")
                .filter(token_hash=_hash(token)).first())
        if link is None or link.used_at is not None or link.expires_at <= now:
            return None
        link.used_at = now
        link.save(update_fields=["used_at"])
    return link.person if link.person.phone else None
