"""`{link}` in any message a member gets (MSG-2: "the registration and receipt messages carry
the link when the merchant wants"): a merchant who writes `{link}` into a template gets a link
to the member's wallet there, made when the message is queued.

The wallet lives on the top floor, so it registers the maker here when it loads
(`register`), and messaging asks for a link only when the text needs one: a wallet sign-in
link is a row and about 30 characters of a paid SMS.
"""

from collections.abc import Callable

_maker: Callable | None = None


def register(maker: Callable) -> None:
    """`maker(member) -> str`: an absolute link to the member's wallet."""
    global _maker
    _maker = maker


def for_text(text: str, member, context: dict) -> dict:
    """`context` with a wallet link for `member` when `text` asks for `{link}` and the caller
    gave none."""
    if "{link}" not in text or "link" in context or member is None or _maker is None:
        return context
    if not member.person.phone:  # erased: no wallet to open
        return context
    return {**context, "link": _maker(member)}
