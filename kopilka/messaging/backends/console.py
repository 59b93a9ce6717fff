"""Prints each message to standard output: development and `kopilka up --demo`."""

import sys
import threading

from kopilka.messaging.backends.base import BaseBackend, Outgoing, Sent


class ConsoleBackend(BaseBackend):
    name = "console"
    _lock = threading.Lock()  # one message's lines stay together under threaded workers

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def send(self, message: Outgoing) -> Sent:
        subject = f" [{message.subject}]" if message.subject else ""
        with self._lock:
            self.stream.write(f"--- {message.channel} #{message.id} to {message.recipient}"
                              f"{subject}\n{message.body}\n")
            self.stream.flush()
        return Sent(provider_id=f"console-{message.id}")
