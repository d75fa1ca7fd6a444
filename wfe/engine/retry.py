"""The retry policy: data plus pure functions, so a table of rows can test it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wfe.engine.durations import parse_duration


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 1
    backoff: str = "exponential"  # or "fixed"
    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 300.0
    jitter: str | float = "none"  # "full", "none", or a fraction 0..1 taken off at random
    retry_on_exit_codes: tuple[int, ...] | None = None
    no_retry_on_exit_codes: tuple[int, ...] | None = None

    @classmethod
    def from_spec(cls, spec: Any) -> RetryPolicy:
        """From a RetrySpec model or a plain dict; unset fields keep their defaults."""
        if spec is None:
            return cls()
        data = spec if isinstance(spec, dict) else spec.model_dump(exclude_none=True)
        kw: dict[str, Any] = {}
        for name in ("max_attempts", "backoff", "multiplier", "jitter"):
            if data.get(name) is not None:
                kw[name] = data[name]
        for name in ("initial_delay", "max_delay"):
            if data.get(name) is not None:
                kw[name] = parse_duration(data[name])
        for name in ("retry_on_exit_codes", "no_retry_on_exit_codes"):
            if data.get(name) is not None:
                kw[name] = tuple(data[name])
        return cls(**kw)

    def base_delay(self, attempt: int) -> float:
        """The delay after failed attempt number ``attempt`` (1-based), before jitter."""
        if self.backoff == "fixed":
            return min(self.initial_delay, self.max_delay)
        # Capped before it can overflow: multiplier ** 1000 is not a float.
        exponent = min(attempt - 1, 1000)
        try:
            delay = self.initial_delay * self.multiplier**exponent
        except OverflowError:
            return self.max_delay
        return min(delay, self.max_delay)

    def delay(self, attempt: int, rand: float) -> float:
        """``rand`` in [0, 1) is the caller's random draw, so this stays a pure function."""
        base = self.base_delay(attempt)
        if self.jitter == "full":
            return base * rand
        if self.jitter in ("none", None, 0):
            return base
        return base * (1 - float(self.jitter) * rand)

    def should_retry(self, attempt: int, status: str, exit_code: int | None,
                     budget_from: int = 0) -> bool:
        """``budget_from``: the attempt number before the current budget began (a manual
        retry starts a fresh one, while attempt numbers keep counting up)."""
        if attempt - budget_from >= self.max_attempts or status == "cancelled":
            return False
        if exit_code is not None and status == "failed":
            if self.retry_on_exit_codes is not None:
                return exit_code in self.retry_on_exit_codes
            if self.no_retry_on_exit_codes is not None:
                return exit_code not in self.no_retry_on_exit_codes
        return True
