"""Email through Django's mail framework: the transport is one of Django's MAILERS (the
default one unless the `mailer` option names another: SMTP in production)."""

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.message import make_msgid

from kopilka.messaging.backends.base import BaseBackend, Outgoing, Refused, Sent


class EmailBackend(BaseBackend):
    name = "email"

    def __init__(self, from_email: str | None = None, domain: str | None = None,
                 mailer: str = "default"):
        self.mailer = mailer
        self.from_email = from_email or settings.DEFAULT_FROM_EMAIL
        self.domain = domain or self.from_email.rpartition("@")[2] or None

    def send(self, message: Outgoing) -> Sent:
        # Our own Message-ID is the provider id: bounces and replies quote it.
        message_id = make_msgid(idstring=f"kopilka-{message.id}", domain=self.domain)
        email = EmailMessage(subject=message.subject, body=message.body,
                             from_email=self.from_email, to=[message.recipient],
                             headers={"Message-ID": message_id})
        try:
            email.send(using=self.mailer)
        except smtplib.SMTPRecipientsRefused as error:  # the server will never take this address
            raise Refused(f"recipient refused: {error.recipients}") from error
        return Sent(provider_id=message_id.strip("<>"))
