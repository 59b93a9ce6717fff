"""What every backend implements, what it is given and what it answers."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Outgoing:
    """One message as a backend sees it: no database objects, nothing to look up."""

    id: int  # the outbox row: a stable reference for providers that deduplicate on it
    channel: str  # "sms", "email" or "push"
    # E.164 ("+79160000001"), an email address, or a push subscription as JSON
    recipient: str
    body: str
    subject: str = ""  # email only


@dataclass(frozen=True)
class Sent:
    provider_id: str = ""  # the provider's message id (its first part's), for support
    parts: int | None = None  # the provider's own part count, when it reports one
    # The provider's id of each part, in submission order, when it gives one per part: each
    # part's delivery receipt names its own. Empty: `provider_id` is the message's only id.
    part_ids: tuple[str, ...] = ()

    @classmethod
    def of_parts(cls, ids, parts: int | None = None) -> "Sent":
        ids = tuple(ids)
        return cls(provider_id=ids[0] if ids else "", parts=parts, part_ids=ids)

    @property
    def ids(self) -> tuple[str, ...]:
        """Every id a delivery receipt may name, one per part (none: no receipt can come)."""
        return self.part_ids or ((self.provider_id,) if self.provider_id else ())


class DeliveryError(Exception):
    """Sending failed in a way that may pass: the outbox retries with backoff. Any other
    exception from a backend (a dropped connection, a timeout) is treated the same."""


class Refused(DeliveryError):
    """The provider said no for good (invalid number, blocked sender, bad credentials): the
    message is marked refused and never retried."""


class Gone(Refused):
    """The recipient no longer exists at the provider (a push subscription the browser
    dropped): the outbox sends the message by another way instead."""


class BaseBackend:
    name = "base"  # recorded on the message as its provider

    def send(self, message: Outgoing) -> Sent:
        raise NotImplementedError
