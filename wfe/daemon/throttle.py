"""Throttling repeated authentication failures from one client (a sliding window).

Only failing attempts are throttled. Once a client has presented too many bad tokens
recently, each further bad token answers 429 with Retry-After instead of 401, and counts
as one more failure, so a client that keeps guessing stays throttled. A valid, unrevoked
token is always served: on 127.0.0.1 every local process is the same client, and a script
looping on a wrong token must not lock its owner out of the daemon. (Tokens are 256 random
bits, so the throttle is not what keeps them secret; it makes a flood of guesses visible
and tells a misconfigured script to back off.) A missing token is not a guess: it is
always 401.
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
