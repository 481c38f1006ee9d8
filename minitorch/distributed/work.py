"""``Work``: a collective in flight, as torch's ``async_op=True`` handle, and the bounded wait
every backend uses (no collective may hang for ever)."""
from __future__ import annotations

import time
from typing import Callable

from .errors import DistributedTimeoutError


def wait_until(done: Callable[[], bool], timeout_s: float, what: str, rank: int,
               world_size: int, on_timeout: Callable[[], None] | None = None) -> None:
    """Poll ``done()`` until it is True; after ``timeout_s`` seconds raise
    DistributedTimeoutError naming the collective and the rank.

    A short spin first (a small message between idle ranks completes in microseconds), then
    sleeps that grow to 1 ms, so a rank that waits for a slower one gives the CPU back.
    """
    if done():
        return
    started = time.monotonic()
    deadline, pause = started + timeout_s, 0.0
    while not done():
        now = time.monotonic()
        if now > deadline:
            if on_timeout is not None:
                on_timeout()
            raise DistributedTimeoutError(
                f"{what} timed out after {now - started:.1f} s on rank {rank} of {world_size}: "
                f"another rank has stopped, died or is not calling {what.split('(')[0]}")
        if now - started > 1e-4:
            pause = min(1e-3, pause * 2 or 2e-5)
            time.sleep(pause)


class Work:
    """A started collective. ``wait()`` blocks (within the group's timeout) until it is done and
    the result is in the tensors; ``is_completed()`` asks without blocking."""

    def __init__(self, test: Callable[[], bool], wait: Callable[[], None],
                 finish: Callable[[], None] | None = None):
        self._test, self._wait, self._finish = test, wait, finish
        self._done = False

    def is_completed(self) -> bool:
        if not self._done and self._test():
            self._complete()
        return self._done

    def wait(self, timeout=None) -> bool:
        if not self._done:
            self._wait()
            self._complete()
        return True

    def _complete(self) -> None:
        if self._finish is not None:
            self._finish()
        self._finish, self._done = None, True

    def then(self, more: Callable[[], None]) -> "Work":
        """Run ``more`` after this work's own finishing step (a copy back, a division)."""
        first = self._finish

        def both():
            if first is not None:
                first()
            more()
        self._finish = both
        return self


def completed() -> Work:
    """A Work that is already done (a world of one rank has nothing to exchange)."""
    return Work(lambda: True, lambda: None)
