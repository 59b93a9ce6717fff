"""Keeps messages in a list in memory: for tests, like Django's locmem email backend."""

from kopilka.messaging.backends.base import BaseBackend, Outgoing, Sent

outbox: list[Outgoing] = []  # tests clear it


class LocmemBackend(BaseBackend):
    name = "locmem"

    def send(self, message: Outgoing) -> Sent:
        outbox.append(message)
        return Sent(provider_id=f"locmem-{len(outbox)}")
