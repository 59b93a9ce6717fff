"""Where a webhook may be sent, and the HTTP request that sends it.

The SSRF rule: a webhook URL is http or https, and — in production, unless
`KOPILKA_WEBHOOKS_ALLOW_PRIVATE=1` — every address its host resolves to is a public one (not
loopback, private, link-local, shared, reserved or multicast), so a merchant cannot make Kopilka
call the machines on its own network. An IPv6 address that wraps an IPv4 one is judged by that
IPv4 address (IPv4-mapped, NAT64 `64:ff9b::/96`) or refused whole (IPv4-compatible,
IPv4-translated, local-use NAT64, 6to4, Teredo): `http://[::127.0.0.1]/` is loopback. The rule
is checked when an endpoint is registered (an error on `url`) and again at every delivery,
against the addresses the request then connects to: the connection is pinned to the addresses
that passed, so a DNS answer that changes between the check and the connection (DNS
rebinding) gains nothing. Redirects are not followed (a 3xx is a failed attempt) and no proxy
from the environment is used.
"""

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from kopilka.core.errors import InvalidInput

MAX_URL = 2000
EXCERPT = 1024  # bytes of the receiver's answer kept in the attempt log


class Refused(Exception):
    """The request was not made, or got no HTTP answer; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


@dataclass(frozen=True)
class Answer:
    status: int
    body: str  # the first EXCERPT bytes, decoded leniently


def parse(url: str) -> Target:
    """The parts of a webhook URL; InvalidInput on `url` when it cannot be one."""
    if len(url) > MAX_URL:
        raise InvalidInput(
            _("Too long (maximum length: %(max_length)s).") % {"max_length": MAX_URL}, field="url"
        )
    url = url.strip()
    if any(char.isspace() or not char.isprintable() for char in url):
        raise InvalidInput(_("A URL cannot contain spaces or control characters."), field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:  # a bad port or a malformed IPv6 literal
        host = port = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise InvalidInput(_("Must be an http:// or https:// URL with a host."), field="url")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(_("A webhook URL cannot contain a user name or password."),
                           field="url")
    try:
        host.encode("idna")
    except UnicodeError:
        raise InvalidInput(_("Must be an http:// or https:// URL with a host."),
                           field="url") from None
    # Percent-encoded as the request line needs it (a path in Cyrillic is fine); what is
    # encoded already stays as it is.
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    default_port = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, host, port or default_port, path)


def _private_allowed() -> bool:
    return settings.WEBHOOKS_ALLOW_PRIVATE


# IPv6 ranges whose addresses carry an IPv4 address that the packets end up at. Python's
# `is_global` judges them as IPv6 (and its table changed between 3.12 and 3.13: 3.12.1 calls
# 2002:7f00:1:: and 64:ff9b:1::7f00:1 global), so they are decided here, the same on every
# Python: the two whose IPv4 sits at a fixed place are unwrapped and the IPv4 is judged; the
# others are refused whole.
_UNWRAPPED = (
    ipaddress.IPv6Network("::ffff:0:0/96"),  # IPv4-mapped: the socket talks IPv4 to it
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64 well-known prefix (RFC 6052): DNS64 gives
    # these for IPv4-only hosts on IPv6-only networks, so public ones must keep working
)
_REFUSED = (
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated, RFC 4291), :: and ::1 too
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT, RFC 2765)
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # NAT64 local use (RFC 8215): where the IPv4
    # sits depends on the operator's prefix length, so it cannot be unwrapped
    ipaddress.IPv6Network("2002::/16"),  # 6to4 (deprecated, RFC 7526): relays to any IPv4
    ipaddress.IPv6Network("2001::/32"),  # Teredo (RFC 4380)
)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in network for network in _UNWRAPPED):
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)  # ::ffff:127.0.0.1 is loopback
        elif any(ip in network for network in _REFUSED):
            return False
    return ip.is_global and not ip.is_multicast


def resolve(target: Target) -> list[str]:
    """The addresses to connect to; Refused if the host does not resolve, or (when the rule
    applies) if any of its addresses is not public."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(_("The host %(host)r cannot be resolved.") % {"host": target.host}) from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not _private_allowed():
        blocked = [address for address in addresses if not _is_public(address)]
        if blocked:
            raise Refused(
                _("%(host)r resolves to a non-public address (%(address)s): webhooks are only "
                  "sent to public addresses.") % {"host": target.host, "address": blocked[0]}
            )
    return addresses


def check_url(url: str) -> str:
    """Validate a webhook URL at registration (InvalidInput on `url`). Without the SSRF rule
    the host is not even resolved: a receiver that is not up yet may be registered."""
    target = parse(url)
    if not _private_allowed():
        try:
            resolve(target)
        except Refused as exc:
            raise InvalidInput(str(exc), field="url") from None
    return url.strip()


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to one of the addresses that passed the check, never to a fresh DNS answer."""

    def __init__(self, *args, addresses, **kwargs):
        super().__init__(*args, **kwargs)
        self.addresses = addresses

    def _open(self):
        error = None
        for address in self.addresses:
            try:
                return socket.create_connection((address, self.port), self.timeout)
            except OSError as exc:
                error = exc
        raise error or OSError("no address")

    def connect(self):
        self.sock = self._open()


class _PinnedHTTPS(_PinnedHTTP):
    default_port = 443
    context = ssl.create_default_context()

    def connect(self):
        # Certificate and host name are checked against the URL's host, as usual.
        self.sock = self.context.wrap_socket(self._open(), server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` to `url`; the receiver's status and the start of its answer. Refused when
    the rule forbids the address or no HTTP answer came (the message says why)."""
    try:
        target = parse(url)
    except InvalidInput as exc:
        raise Refused(exc.detail) from None
    addresses = resolve(target)
    kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    connection = kind(target.host, target.port, timeout=timeout, addresses=addresses)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT)
        return Answer(response.status, excerpt.decode("utf-8", "replace"))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise Refused(f"{type(exc).__name__}: {exc}") from exc
    finally:
        connection.close()
