"""Appends each message as one JSON line to a file (by default `messages.jsonl` in the data
directory): a record to read or replay without any gateway."""

import json
import threading
from pathlib import Path

from django.conf import settings

from kopilka.core import clock
from kopilka.messaging.backends.base import BaseBackend, Outgoing, Sent


class FileBackend(BaseBackend):
    name = "file"
    _lock = threading.Lock()

    def __init__(self, path: str | None = None):
        self.path = Path(path) if path else Path(settings.DATA_DIR) / "messages.jsonl"

    def send(self, message: Outgoing) -> Sent:
        line = json.dumps({
            "id": message.id, "channel": message.channel, "to": message.recipient,
            "subject": message.subject, "text": message.body, "at": clock.now().isoformat(),
        }, ensure_ascii=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
        return Sent(provider_id=f"file-{message.id}")
