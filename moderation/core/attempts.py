"""Limits on guessing and spamming through the public doors: failed
sign-ins (password, personal link, join code) and submitted application
forms, counted per client address and per account or contact e-mail.

The counters are token buckets (``ratelimit.RateLimiter``). A single process
keeps them in memory. With a Redis message queue configured they are kept in
Redis, so that every process sees the same counts and a guesser whose
requests are spread over several processes is limited once; if Redis cannot
be reached, each process falls back to its own buckets (still limited, per
process) and says so in the log.

A refused attempt changes nothing: the callers check before they act, and
spend a token only for an attempt that counts (a wrong password, a stored
application)."""
from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, has_request_context, request

from moderation.core.errors import CommandError
from moderation.core.rate_limits import RateLimiter

log = logging.getLogger(__name__)
security_log = logging.getLogger("moderation.security")

# Wall-clock seconds: buckets in Redis are shared with other processes, whose
# monotonic clocks mean nothing here. Tests replace it to move time on.
clock = time.time

Key = tuple[str, str]  # (scope, value), e.g. ("ip", "203.0.113.7"), ("account", "ana")


@dataclass(frozen=True)
class Limit:
    burst: int
    per_second: float
    message: str  # told to the person; {wait} becomes "12 seconds", "3 minutes"


class TooManyAttempts(CommandError):
    """A refused attempt: HTTP 429 with ``Retry-After``; nothing was done."""

    def __init__(self, message: str, retry_after: int):
        super().__init__("rate_limited", message, {"retry_after": retry_after})
        self.retry_after = retry_after


def retry_after_header(response: Response, exc: CommandError) -> Response:
    """Add ``Retry-After`` to the response of a rate-limited request."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code == "rate_limited" and isinstance(details.get("retry_after"), (int, float)):
        response.headers["Retry-After"] = str(max(1, math.ceil(details["retry_after"])))
    return response


def client_address() -> str:
    """The client's address as the server sees it: the socket's peer, or the
    proxy's ``X-Forwarded-For`` entry when ``TRUSTED_PROXY_HOPS`` says to
    believe it (werkzeug's ProxyFix, set up in ``create_app``). An IPv6 host
    usually holds a whole /64, so IPv6 addresses count by their /64."""
    raw = request.remote_addr or "unknown"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def wait_words(seconds: float) -> str:
    seconds = max(1, math.ceil(seconds))
    if seconds < 90:
        return f"{seconds} seconds" if seconds != 1 else "1 second"
    return f"{math.ceil(seconds / 60)} minutes"


# Token bucket in Redis, atomically: refill by the time passed, then take
# ``cost`` tokens if there are enough (cost 0 only looks). Returns the
# tokens left as a string (a Lua number would be truncated to an integer).
_BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = capacity
if state[1] then
  tokens = math.min(capacity, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
end
if cost > 0 then
  if tokens >= cost then tokens = tokens - cost end
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
end
return tostring(tokens)
"""


class RedisBuckets:
    """Token buckets shared by every process through Redis."""

    def __init__(self, url: str, channel: str = "flask-socketio"):
        import redis  # the "redis" extra; only needed when a Redis queue is configured

        self.errors = (redis.exceptions.RedisError, OSError)
        self.client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.script = self.client.register_script(_BUCKET_LUA)
        self.prefix = f"{channel}:throttle:"  # one deployment's counters

    def tokens(self, kind: str, key: Key, limit: Limit, cost: int) -> float:
        ttl = math.ceil(limit.burst / limit.per_second) + 1
        name = self.prefix + f"{kind}:{key[0]}:" + hashlib.sha256(key[1].encode("utf-8")).hexdigest()[:32]
        return float(self.script(keys=[name], args=[limit.burst, limit.per_second, clock(), cost, ttl]))


class Throttle:
    """``check(kind, keys)`` refuses when any key's bucket is empty;
    ``spend(kind, keys)`` takes one token from each."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.limits = {
            "sign_in": Limit(config["SIGN_IN_RATE_BURST"], config["SIGN_IN_RATE_PER_MINUTE"] / 60.0,
                             "Too many failed attempts to sign in from your network or for this account. "
                             "For everyone's safety, please wait {wait} and try again."),
            "apply": Limit(config["APPLY_RATE_BURST"], config["APPLY_RATE_PER_HOUR"] / 3600.0,
                           "Too many application forms were sent from your network or for this e-mail "
                           "address. Nothing was stored; please wait {wait} and try again."),
        }
        self.local = {kind: RateLimiter(limit.burst, limit.per_second, clock=lambda: clock())
                      for kind, limit in self.limits.items()}
        queue = config.get("MESSAGE_QUEUE") or ""
        shared = queue.startswith(("redis://", "rediss://", "unix://"))
        self.shared = RedisBuckets(queue, config.get("MESSAGE_QUEUE_CHANNEL") or "flask-socketio") if shared else None
        self._warned = 0.0

    def check(self, kind: str, keys: Iterable[Key]) -> None:
        limit = self.limits[kind]
        wait = max((self._retry_after(kind, key) for key in keys), default=0.0)
        if wait > 0:
            security_log.warning("%s rate limited for %.0f s from %s", kind, wait,
                                 client_address() if has_request_context() else "?")
            raise TooManyAttempts(limit.message.format(wait=wait_words(wait)), max(1, math.ceil(wait)))

    def spend(self, kind: str, keys: Iterable[Key]) -> None:
        for key in keys:
            if self.shared is not None:
                try:
                    self.shared.tokens(kind, key, self.limits[kind], 1)
                    continue
                except self.shared.errors as exc:
                    self._redis_down(exc)
            self.local[kind].allow(key)

    def _retry_after(self, kind: str, key: Key) -> float:
        limit = self.limits[kind]
        if self.shared is not None:
            try:
                tokens = self.shared.tokens(kind, key, limit, 0)
                return max(0.0, (1 - tokens) / limit.per_second)
            except self.shared.errors as exc:
                self._redis_down(exc)
        return self.local[kind].retry_after(key)

    def _redis_down(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned > 60:
            self._warned = now
            log.warning("attempt counters fall back to this process: Redis is unreachable (%s)",
                        type(exc).__name__)


def throttle() -> Throttle:
    return current_app.extensions["throttle"]


def address_key() -> Key:
    return ("ip", client_address())


def wrong_code(exc: CommandError | None) -> bool:
    """A join attempt counts when the code was refused."""
    return exc is not None and exc.code == "forbidden"


def always(exc: CommandError | None) -> bool:
    return True


def application_keys(payload: Any) -> list[Key]:
    """The client's address and, when given, the contact's e-mail address."""
    keys = [address_key()]
    contact = payload.get("contact") if isinstance(payload, dict) else None
    email = contact.get("email") if isinstance(contact, dict) else None
    if isinstance(email, str) and email.strip():
        keys.append(("email", email.strip().casefold()[:254]))
    return keys


# Public commands that anyone may send, and how their attempts count:
# name -> (kind, keys of the payload, which outcomes count).
PUBLIC_ATTEMPTS: dict[str, tuple[str, Callable[[Any], list[Key]], Callable[[CommandError | None], bool]]] = {
    "participant.join_with_code": ("sign_in", lambda payload: [address_key()], wrong_code),
    "applications.submit": ("apply", application_keys, always),
    "applications.update": ("apply", application_keys, always),
}


@contextmanager
def attempt(kind: str, keys: list[Key], counts: Callable[[CommandError | None], bool] = always) -> Iterator[None]:
    """Refuse at once when a limit is reached (``TooManyAttempts``, before
    anything is done); otherwise run the block and spend a token from every
    key when its outcome (None, or the CommandError it raised) counts."""
    limiter = throttle()
    limiter.check(kind, keys)
    try:
        yield
    except CommandError as exc:
        if counts(exc):
            limiter.spend(kind, keys)
            security_log.info("%s refused (%s) from %s", kind, exc.code,
                              client_address() if has_request_context() else "?")
        raise
    if counts(None):
        limiter.spend(kind, keys)


# Set while a request's public command is counted (or was let through on
# purpose): the service counts the commands that no adapter counted, so
# that every adapter is limited alike and none counts twice.
_decided: ContextVar[bool] = ContextVar("moderation_public_attempt_decided", default=False)


@contextmanager
def _deciding() -> Iterator[None]:
    token = _decided.set(True)
    try:
        yield
    finally:
        _decided.reset(token)


@contextmanager
def public_attempt(name: str, payload: Any) -> Iterator[None]:
    """``attempt`` for a public command (``PUBLIC_ATTEMPTS``), once per
    request: ``Service.dispatch`` wraps every public command in it, whatever
    the adapter and whoever sends it; an adapter may wrap a wider block."""
    rule = PUBLIC_ATTEMPTS.get(name)
    if rule is None or _decided.get():
        yield
        return
    kind, keys, counts = rule
    with _deciding(), attempt(kind, keys(payload), counts):
        yield


@contextmanager
def not_limited() -> Iterator[None]:
    """Public commands sent in this block are not counted: the secretariat
    entering forms for others."""
    with _deciding():
        yield


@contextmanager
def token_attempt() -> Iterator[None]:
    """A link or token presented as a way in (``/l/<token>``, a bearer
    token, a Socket.IO ``auth.token``): one that is not valid counts
    against the client's address, as a wrong join code does."""
    with attempt("sign_in", [address_key()], counts=lambda exc: exc is not None and exc.code == "link_revoked"):
        yield
