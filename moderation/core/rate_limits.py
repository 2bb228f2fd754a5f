"""Token buckets, one per key (a participant, a connection), kept in this
process. With sticky sessions a client always reaches the same process, so a
per-process bucket limits it; nothing is shared between processes. And the
gate that applies one to every Socket.IO message as it is read."""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``allow(key)`` takes one token from ``key``'s bucket; buckets hold
    ``capacity`` tokens and refill at ``rate`` tokens a second."""

    def __init__(self, capacity: float, rate: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
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


# The head of a Socket.IO packet as Engine.IO hands it on: type, namespace
# ("/name," unless the default), ack id, and for an event its name.
PACKET_HEAD = re.compile(r'(\d)(/[^,]*,)?(\d*)(?:\["([^"\\]{1,100})")?')
CONNECT, EVENT = "0", "2"


class EventGate:
    """The per-connection rate limit on Socket.IO messages, applied as each
    message is read, before any handler runs.

    Engine.IO otherwise starts a green thread per message, and Flask-SocketIO
    sets up a request context in it before the handler can refuse anything:
    a client sending thousands of messages a second keeps the server busy
    for most of a second per few hundred, and every other client waits.
    Here each message is weighed in the green thread that reads it
    (``async_handlers`` off at the Engine.IO level; Socket.IO still runs
    each handler in a green thread of its own), which then gives way to the
    others: within the limit it is
    handed on; over it, it is answered ``rate_limited`` at once (when it
    asks for an answer) and goes no further; after ``flood_after`` refusals
    the connection is closed and ``on_flood(eio_sid)`` is told, so that
    nothing more is read from it.

    ``costs`` weighs events by name (``"connect"`` for a namespace connect):
    what builds a whole snapshot counts as many ordinary events."""

    def __init__(self, eio: Any, *, capacity: float, rate: float, flood_after: int, costs: dict[str, float],
                 refusal: Callable[[float], Any], on_flood: Callable[[str], None] | None = None) -> None:
        self.eio = eio
        self.limiter = RateLimiter(capacity=capacity, rate=rate)
        self.flood_after = flood_after
        self.costs = costs
        self.refusal = refusal  # retry_after (s) -> the acknowledgement of a refused event
        self.on_flood = on_flood
        self.refused: dict[str, int] = {}
        self.closed = 0
        self._deliver = eio.handlers["message"]
        self._disconnected = eio.handlers["disconnect"]
        eio.on("message", self.on_message)
        eio.on("disconnect", self.on_disconnect)
        eio.async_handlers = False

    def on_message(self, eio_sid: str, data: str | bytes) -> Any:
        try:
            return self._weigh(eio_sid, data)
        finally:
            # The reading green thread does not give way while the client's
            # data keeps coming: give way after each message, so that a fast
            # sender takes turns with everyone else.
            self.eio.sleep(0)

    def _weigh(self, eio_sid: str, data: str | bytes) -> Any:
        if eio_sid not in self.eio.sockets:
            return None  # closed a moment ago: the rest of what it sent is dropped
        head = PACKET_HEAD.match(data) if isinstance(data, str) else None
        kind, namespace, ack_id, event = head.groups() if head else (None, None, "", None)
        cost = self.costs.get("connect", 1) if kind == CONNECT else self.costs.get(event or "", 1) if kind == EVENT else 1
        if self.limiter.allow(eio_sid, cost):
            return self._deliver(eio_sid, data)
        refused = self.refused[eio_sid] = self.refused.get(eio_sid, 0) + 1
        if refused >= self.flood_after:
            self.closed += 1
            log.warning("closing %s after %d messages over the rate limit", eio_sid, refused)
            if self.on_flood is not None:
                self.on_flood(eio_sid)
            self.eio.disconnect(eio_sid)
        elif kind == EVENT and ack_id:
            answer = self.refusal(round(self.limiter.retry_after(eio_sid, cost), 1))
            try:
                self.eio.send(eio_sid, f"3{namespace or ''}{ack_id}" + json.dumps([answer], separators=(",", ":")))
            except KeyError:  # gone meanwhile
                pass
        return None

    def on_disconnect(self, eio_sid: str, reason: Any = None) -> Any:
        self.limiter.forget(eio_sid)
        self.refused.pop(eio_sid, None)
        return self._disconnected(eio_sid, reason)
