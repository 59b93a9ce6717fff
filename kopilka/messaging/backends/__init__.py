"""Message backends, pluggable like Django's email backends: settings.MESSAGING names a class
by dotted path for each channel, with its options; `get_backend(channel)` builds it."""

from django.conf import settings
from django.utils.module_loading import import_string

from kopilka.messaging.backends.base import BaseBackend


def get_backend(channel: str) -> BaseBackend:
    config = settings.MESSAGING[channel]
    return import_string(config["BACKEND"])(**config.get("OPTIONS", {}))
