"""Who is doing something: recorded in the audit log and used for permission checks."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str  # "staff", "terminal", "token", "cli", "system", "member"
    label: str  # human-readable: an email, a key prefix, "cli"
    user_id: int | None = None
    ip: str | None = None

    @classmethod
    def cli(cls) -> "Actor":
        return cls(kind="cli", label="cli")

    @classmethod
    def system(cls) -> "Actor":
        return cls(kind="system", label="system")
