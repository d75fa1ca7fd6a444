"""Throttling repeated authentication failures from one client (a sliding window).

A client that presented too many bad tokens recently is refused outright, valid token or
not, until its oldest failure leaves the window: answering "429 for a bad token, 200 for
a good one" would still let it test tokens at full speed. On 127.0.0.1 every local process
is the same client, so the limit is generous; a wrong token in a script trips it only when
it retries in a tight loop.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

DEFAULT_LIMIT = 20
DEFAULT_WINDOW = 60.0
MAX_CLIENTS = 10_000  # bounds memory if failures come from many addresses


class Throttle:
    def __init__(self, limit: int = DEFAULT_LIMIT, window: float = DEFAULT_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        horizon = self.clock() - self.window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times

    def retry_after(self, client: str) -> int | None:
        """Whole seconds until ``client`` may try again; None when it may now."""
        times = self._recent(client)
        if times is None or len(times) < self.limit:
            return None
        # Allowed again once enough failures have aged out to drop below the limit.
        until = times[0] + self.window
        return max(1, math.ceil(until - self.clock()))

    def failed(self, client: str) -> None:
        if client not in self._failures and len(self._failures) >= MAX_CLIENTS:
            self._failures.pop(next(iter(self._failures)))
        times = self._failures.setdefault(client, deque())
        times.append(self.clock())
        while len(times) > self.limit:  # older ones no longer matter
            times.popleft()
