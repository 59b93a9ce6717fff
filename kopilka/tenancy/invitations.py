"""Staff invitations: how a person comes to work for a merchant.

A merchant's owner or admin invites an email address with a role. The answer is the same
whether or not that address has a Kopilka account, and it carries no password: the merchant
learns nothing about who works elsewhere. The invitation's secret key goes by email to the
address, and only the person who reads that mail can accept it:

- an address without an account accepts with the password it chooses (Django's password
  validators apply) and so gets its account;
- an address with an account accepts with that account's password; five wrong ones revoke
  the invitation (each is counted, even though the call fails).

Only then is the person staff, active, with the invited role. Invitations last
`INVITATION_TTL`; inviting the same address again replaces the pending invitation (its key stops
working), and the merchant can revoke one. Keys are stored hashed, like API keys.
"""

from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django_scopes import scope, scopes_disabled

from kopilka.core import audit, clock, keys
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, DomainError, InvalidInput, NotFound
from kopilka.tenancy.models import Invitation, Merchant, Staff
from kopilka.tenancy.services import check_email, check_may_manage

INVITATION_TTL = timedelta(days=7)
MAX_WRONG_PASSWORDS = 5
ACCEPT_PATH = "/api/v1/invitations/accept"


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    key: str  # what went by email; never shown to the merchant


@transaction.atomic
def invite_staff(merchant: Merchant, *, email: str, role: str, by: Staff | None,
                 actor: Actor) -> NewInvitation:
    """Invite `email` to work for the merchant with `role`; the key is mailed once the
    invitation is committed. A pending invitation to the same address is replaced."""
    email = check_email(email, field="email")
    if role not in Staff.Role.values:
        raise InvalidInput(_("Unknown role %(role)r.") % {"role": role}, field="role")
    check_may_manage(by, role)
    # Two admins inviting the same address at once: the second waits, then replaces.
    Merchant.objects.select_for_update().filter(pk=merchant.pk).first()
    if Staff.objects.filter(merchant=merchant, user__username=email).exists():
        raise Conflict(
            _("%(email)s already works for this merchant.") % {"email": email}, field="email"
        )
    now = clock.now()
    pending = Invitation.objects.filter(merchant=merchant, email=email,
                                        status=Invitation.Status.PENDING)
    replaced = list(pending.values_list("pk", flat=True))
    pending.update(status=Invitation.Status.REVOKED, decided_at=now)
    key = keys.new_key("inv")
    invitation = Invitation.objects.create(
        merchant=merchant, email=email, role=role, key_prefix=key.prefix, key_hash=key.digest,
        invited_by=by, created_at=now, expires_at=now + INVITATION_TTL,
    )
    audit.record("tenancy.invitation.created", actor=actor, merchant=merchant, obj=invitation,
                 data={"email": email, "role": role, "replaced": replaced})
    # robust: a mail server that is down must not undo the invitation; inviting again sends
    # a new key.
    transaction.on_commit(partial(send_invitation, invitation.pk, key.plaintext), robust=True)
    return NewInvitation(invitation=invitation, key=key.plaintext)


def send_invitation(invitation_id: int, key: str) -> None:
    """Mail the invitation's key to its address, in the merchant's language. Runs after the
    commit that made the invitation."""
    with scopes_disabled():  # one row by id, just committed
        invitation = (Invitation.objects.select_related("merchant", "invited_by__user")
                      .get(pk=invitation_id))
    merchant = invitation.merchant
    # The mail may tell its reader whether the address has an account: only they read it.
    has_account = get_user_model().objects.filter(username=invitation.email).exists()
    with translation.override(merchant.language), timezone.override(merchant.timezone):
        context = {
            "merchant": merchant.name,
            "role": Staff.Role(invitation.role).label,
            "inviter": (invitation.invited_by.user.email if invitation.invited_by
                        else _("the platform operator")),
            "email": invitation.email,
            "expires": formats.date_format(timezone.localtime(invitation.expires_at),
                                           "DATETIME_FORMAT"),
            "url": settings.PUBLIC_URL + ACCEPT_PATH,
            "key": key,
        }
        subject = _("Invitation to work for %(merchant)s") % context
        if has_account:
            password = _("the password of your Kopilka account %(email)s") % context
        else:
            password = _("the password you choose for your new Kopilka account "
                         "%(email)s") % context
        body = _(
            "%(inviter)s invites you to work for %(merchant)s as %(role)s.\n\n"
            "To accept, send your invitation key and %(password)s before %(expires)s:\n\n"
            "POST %(url)s\n"
            "{\"token\": \"%(key)s\", \"password\": \"...\"}\n\n"
            "If you do not want to, do nothing: without your answer you do not become staff "
            "of %(merchant)s, and the invitation expires."
        ) % {**context, "password": password}
    EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL,
                 to=[invitation.email]).send()


def accept_invitation(key: str, *, password: str, ip: str | None = None) -> Staff:
    """Accept an invitation with its key: the person becomes active staff with the invited
    role. See the module's docstring for the password."""
    outcome = _accept(key, password, ip)
    if isinstance(outcome, DomainError):
        raise outcome  # after the commit: a wrong password stays counted
    return outcome


def _invalid() -> NotFound:
    return NotFound(_("This invitation key is not valid."), field="token")


@transaction.atomic
def _accept(key: str, password: str, ip: str | None) -> Staff | DomainError:
    prefix = keys.split_key(key or "", "inv")
    if prefix is None:
        return _invalid()
    with scopes_disabled():  # the key names the merchant; the scope is entered below
        invitation = (Invitation.objects.select_for_update(of=("self",))
                      .select_related("merchant").filter(key_prefix=prefix).first())
    if invitation is None or not keys.same_digest(key, invitation.key_hash):
        return _invalid()
    now = clock.now()
    state = invitation.state(now)
    if state != Invitation.Status.PENDING:
        return Conflict({
            "accepted": _("This invitation has been accepted already."),
            "revoked": _("This invitation was withdrawn or replaced by a newer one; ask for "
                         "a new one."),
            "expired": _("This invitation has expired; ask for a new one."),
        }[state], field="token")
    merchant = invitation.merchant
    User = get_user_model()
    with scope(merchant=merchant):
        user = User.objects.filter(username=invitation.email).first()
        if user is None:
            try:
                validate_password(password, User(username=invitation.email,
                                                 email=invitation.email))
            except ValidationError as error:
                return InvalidInput(" ".join(error.messages), field="password")
            user = User.objects.create_user(username=invitation.email, email=invitation.email,
                                            password=password)
        elif not (user.is_active and user.check_password(password)):
            return _wrong_password(invitation, now, ip)
        if Staff.objects.filter(merchant=merchant, user=user).exists():
            return Conflict(_("%(email)s already works for this merchant.")
                            % {"email": invitation.email}, field="token")
        staff = Staff.objects.create(merchant=merchant, user=user, role=invitation.role,
                                     created_at=now)
        invitation.status = Invitation.Status.ACCEPTED
        invitation.decided_at = now
        invitation.staff = staff
        invitation.save(update_fields=["status", "decided_at", "staff"])
        actor = Actor(kind="staff", label=user.email, user_id=user.pk, ip=ip)
        # Nothing here says whether the account was new: the merchant reads its audit log.
        audit.record("tenancy.invitation.accepted", actor=actor, merchant=merchant,
                     obj=invitation, data={"email": invitation.email, "role": invitation.role})
        audit.record("tenancy.staff.added", actor=actor, merchant=merchant, obj=staff,
                     data={"email": invitation.email, "role": invitation.role,
                           "invitation": invitation.pk})
    return staff


def _wrong_password(invitation: Invitation, now, ip: str | None) -> DomainError:
    invitation.wrong_passwords += 1
    fields = ["wrong_passwords"]
    if invitation.wrong_passwords >= MAX_WRONG_PASSWORDS:
        invitation.status = Invitation.Status.REVOKED
        invitation.decided_at = now
        fields += ["status", "decided_at"]
    with scope(merchant=invitation.merchant):
        invitation.save(update_fields=fields)
        if invitation.status == Invitation.Status.REVOKED:
            audit.record("tenancy.invitation.revoked",
                         actor=Actor(kind="system", label="invitation", ip=ip),
                         merchant=invitation.merchant, obj=invitation,
                         data={"email": invitation.email, "reason": "wrong passwords"})
            return Conflict(_("Too many wrong passwords: this invitation no longer works. Ask "
                              "for a new one."), field="password")
    return InvalidInput(
        _("Wrong password. %(email)s has a Kopilka account: accept with its password.")
        % {"email": invitation.email}, field="password")


@transaction.atomic
def revoke_invitation(invitation: Invitation, *, by: Staff | None, actor: Actor) -> Invitation:
    """Withdraw a pending (or expired) invitation: its key stops working. Revoking again
    changes nothing; an accepted one is 409 (switch the staff member off instead)."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    check_may_manage(by, invitation.role)
    if invitation.status == Invitation.Status.ACCEPTED:
        raise Conflict(_("This invitation has been accepted; switch the staff member off "
                         "instead."), field="invitation_id")
    if invitation.status == Invitation.Status.PENDING:
        invitation.status = Invitation.Status.REVOKED
        invitation.decided_at = clock.now()
        invitation.save(update_fields=["status", "decided_at"])
        audit.record("tenancy.invitation.revoked", actor=actor, merchant=invitation.merchant,
                     obj=invitation, data={"email": invitation.email})
    return invitation
