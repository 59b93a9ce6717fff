"""The cabinet's sections, shown as tabs in its header.

Each part of the cabinet registers its tab where its views live (`register(Tab(...))` at
module level), so adding a section touches no shared template. A tab shows only to a role
that has its permission; the current one is the tab whose address the page's path starts with.
"""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise

from kopilka.tenancy import access


@dataclass(frozen=True)
class Tab:
    key: str
    title: str | Promise  # a lazy translation
    url_name: str
    permission: str
    order: int


_TABS: dict[str, Tab] = {}


def register(tab: Tab) -> None:
    access.role_may(None, tab.permission)  # an unknown permission fails at import
    _TABS[tab.key] = tab


def visible(principal: access.Principal, path: str) -> list[dict]:
    """The tabs `principal` may open, in order, for the `web/components.html#tabs` partial."""
    shown = []
    for tab in sorted(_TABS.values(), key=lambda tab: tab.order):
        if not principal.may(tab.permission):
            continue
        url = reverse(tab.url_name)
        current = path == url if tab.key == "home" else path.startswith(url)
        shown.append({"url": url, "label": tab.title, "current": current, "key": tab.key})
    return shown
