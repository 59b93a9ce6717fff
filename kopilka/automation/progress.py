"""Progress of a tick, told to whoever watches: `kopilka tick` on a terminal (or with
`--progress`) prints each line on stderr; everywhere else nobody listens and a report costs a
context-variable look-up.

A context variable rather than a parameter: the tick's jobs keep their one-argument shape
(`run(at)`), and a listener set in one thread (or test) never hears another's tick.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_listener: ContextVar[Callable[[str], None] | None] = ContextVar("tick_progress", default=None)


@contextmanager
def shown_by(listener: Callable[[str], None]) -> Iterator[None]:
    """Within the block, every progress line goes to `listener`."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def report(line: str) -> None:
    listener = _listener.get()
    if listener is not None:
        listener(line)


# Jobs with at most this many items finish in moments: their chunks are not reported.
CHUNK_NOTICE = 500


def chunk(what: str, done: int, total: int) -> None:
    """A line after each chunk of a long job: "  chains alice: 1000 of 25000"."""
    if total > CHUNK_NOTICE:
        report(f"  {what}: {done} of {total}")
