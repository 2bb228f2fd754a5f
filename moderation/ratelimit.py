"""Token buckets, one per key (a participant, a connection), kept in this
process. With sticky sessions a client always reaches the same process, so a
per-process bucket limits it; nothing is shared between processes."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``allow(key)`` takes one token from ``key``'s bucket; buckets hold
    ``capacity`` tokens and refill at ``rate`` tokens a second."""

    def __init__(self, capacity: float, rate: float, clock=time.monotonic, max_keys: int = 100_000):
        if capacity < 1 or rate <= 0:
            # A bucket that never holds a token, or never refills, refuses
            # everyone for good (and retry_after would divide by zero).
            raise ValueError(f"a rate limit needs a burst of at least 1 and a refill above 0 "
                             f"(got burst {capacity}, {rate * 60:g} per minute)")
        self.capacity = capacity
        self.rate = rate
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[object, Bucket] = {}
        self._lock = threading.Lock()

    def allow(self, key: object, cost: float = 1.0) -> bool:
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._forget_full(now)
                bucket = self._buckets[key] = Bucket(self.capacity, now)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens < cost:
                return False
            bucket.tokens -= cost
            return True

    def retry_after(self, key: object, cost: float = 1.0) -> float:
        """Seconds until ``allow(key)`` would succeed."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return 0.0
            missing = cost - min(self.capacity, bucket.tokens + (self.clock() - bucket.updated) * self.rate)
            return max(0.0, missing / self.rate)

    def forget(self, key: object) -> None:
        with self._lock:
            self._buckets.pop(key, None)

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: they hold no information."""
        for key in [k for k, b in self._buckets.items()
                    if b.tokens + (now - b.updated) * self.rate >= self.capacity]:
            del self._buckets[key]
