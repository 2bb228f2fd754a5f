"""Who is connected now: the online figure of the attendance section and the
``presence`` hint, across every server process of a deployment.

Each process knows its own Socket.IO connections only. With a message queue
(several processes), each one also keeps, in Redis, the set of participants
connected to it per dialogue — a key that expires unless the process renews
it (``HEARTBEAT``), so that a process killed without a goodbye drops out of
the figure after ``EXPIRY`` seconds; a process that stops gracefully removes
its keys at once. The figure is the union of those sets: a participant with
two tabs on two processes counts once, and the ones checked in at the door
can be left out (``accreditation.online_now``). Keys begin with
``MESSAGE_QUEUE_CHANNEL``, so two deployments on one Redis stay apart.

While Redis cannot be reached, each process counts its own connections (and
says so once, at WARNING): connections never wait for Redis.

``PresenceWatcher`` follows the connections: it records first connections
(``attendance.record_connections``, for the summary), keeps this process's
share in Redis fresh, and tells every screen the figure when it changes.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

from sqlalchemy import select

from moderation.core.auth import SYSTEM
from moderation.core.errors import CommandError
from moderation.features.accreditation import checkin
from moderation.models import Participant, Role

log = logging.getLogger(__name__)
PRESENCE_INTERVAL = 1.0   # at most one presence message a second per dialogue
PRESENCE_IDLE_EXIT = 120  # the watcher's thread ends after this many idle seconds
HEARTBEAT = 2.0           # s between renewals of this process's share in Redis
EXPIRY = 6                # s a process's share lasts without a renewal
RETRY_AFTER = 5.0         # s without asking Redis after it failed
READ_CACHE = 0.5          # s the other processes' share is reused (a reconnect storm asks for it per client)
REDIS_TIMEOUT = 1.0       # s for one Redis call: a slow Redis must not hold a connection up


class LocalPresence:
    """One process alone: its own connections are everyone's."""

    shared = False

    def __init__(self, realtime):
        self.realtime = realtime
        self._announced: dict[int, int | None] = {}

    @property
    def connections(self) -> dict[str, Any]:
        return self.realtime.connections

    def dialogues(self) -> set[int]:
        """The dialogues this process has any connection to."""
        return {c.dialogue_id for c in list(self.connections.values())}

    def participant_ids(self, dialogue_id: int) -> set[int]:
        return checkin.participants_among(self.connections, dialogue_id)

    def publish(self) -> None:
        """Nothing to share."""

    def withdraw(self) -> None:
        """Nothing to take back."""

    def announce(self, dialogue_id: int, online: int | None) -> bool:
        """Whether ``online`` is news to the screens (and note it as told)."""
        if self._announced.get(dialogue_id) == online:
            return False
        self._announced[dialogue_id] = online
        return True


class SharedPresence(LocalPresence):
    """Every process's participants, through Redis."""

    shared = True

    def __init__(self, realtime, url: str, channel: str, *, expiry: int = EXPIRY):
        super().__init__(realtime)
        import redis
        self.redis = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)
        self.process = uuid.uuid4().hex[:16]
        self.prefix = f"{channel}:presence"
        self.expiry = expiry
        self._published: set[int] = set()
        self._remote: dict[int, tuple[float, set[int]]] = {}
        self._down_until = 0.0
        self._down = False
        self._lock = threading.Lock()

    # -- keys: d<dialogue> holds the ids of the processes with a share, d<dialogue>:<process> the share
    def _processes_key(self, dialogue_id: int) -> str:
        return f"{self.prefix}:d{dialogue_id}"

    def _share_key(self, dialogue_id: int, process: str) -> str:
        return f"{self.prefix}:d{dialogue_id}:{process}"

    # -- Redis, or this process alone while it cannot be reached --------------------------------
    def _call(self, action, fallback):
        if time.monotonic() < self._down_until:
            return fallback
        try:
            result = action()
        except Exception as exc:  # noqa: BLE001 - whatever redis raises, count alone for a while
            self._down_until = time.monotonic() + RETRY_AFTER
            if not self._down:
                self._down = True
                log.warning("Redis cannot be reached (%s): the online figure counts this process's "
                            "connections only until it is back", type(exc).__name__)
            return fallback
        if self._down:
            self._down = False
            log.info("Redis reachable again: the online figure counts every process again")
        return result

    def publish(self) -> None:
        """Write this process's participants per dialogue (and renew their expiry)."""
        with self._lock:
            shares = {d: ids for d in self.dialogues() if (ids := checkin.participants_among(self.connections, d))}
            gone = self._published - shares.keys()

            def write():
                pipe = self.redis.pipeline()  # MULTI: a reader never sees a share half written
                for dialogue_id, ids in shares.items():
                    key = self._share_key(dialogue_id, self.process)
                    pipe.delete(key)
                    pipe.sadd(key, *ids)
                    pipe.expire(key, self.expiry)
                    pipe.sadd(self._processes_key(dialogue_id), self.process)
                    pipe.expire(self._processes_key(dialogue_id), 86_400)
                for dialogue_id in gone:
                    pipe.delete(self._share_key(dialogue_id, self.process))
                    pipe.srem(self._processes_key(dialogue_id), self.process)
                pipe.execute()
                return True

            if self._call(write, False):
                self._published = set(shares)

    def withdraw(self) -> None:
        """Take this process's share back (a graceful stop)."""
        with self._lock:
            def delete():
                pipe = self.redis.pipeline()
                for dialogue_id in self._published:
                    pipe.delete(self._share_key(dialogue_id, self.process))
                    pipe.srem(self._processes_key(dialogue_id), self.process)
                pipe.execute()
                return True

            if self._call(delete, False):
                self._published = set()

    def _others(self, dialogue_id: int) -> set[int]:
        cached = self._remote.get(dialogue_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < READ_CACHE:
            return cached[1]

        def read() -> set[int]:
            processes = [p.decode() for p in self.redis.smembers(self._processes_key(dialogue_id))]
            others = [p for p in processes if p != self.process]
            if not others:
                return set()
            pipe = self.redis.pipeline(transaction=False)
            for process in others:
                pipe.smembers(self._share_key(dialogue_id, process))
            shares = pipe.execute()
            expired = [p for p, share in zip(others, shares, strict=False) if not share]
            if expired:  # killed without a goodbye: their shares have run out
                self.redis.srem(self._processes_key(dialogue_id), *expired)
            return {int(member) for share in shares for member in share}

        ids = self._call(read, None)
        if ids is None:
            return set()
        self._remote[dialogue_id] = (now, ids)
        return ids

    def participant_ids(self, dialogue_id: int) -> set[int]:
        return super().participant_ids(dialogue_id) | self._others(dialogue_id)

    def announce(self, dialogue_id: int, online: int | None) -> bool:
        """News only if no process told the screens this figure last: the
        hint reaches every process's screens, so one process sends it."""
        def swap() -> bool:
            key = f"{self.prefix}:d{dialogue_id}:told"
            last, _ = self.redis.pipeline().getset(key, str(online)).expire(key, 86_400).execute()
            return last is None or last.decode() != str(online)

        told = self._call(swap, None)
        if told is None:  # Redis away: this process decides alone
            return super().announce(dialogue_id, online)
        self._announced[dialogue_id] = online
        return told


def make_presence(app, realtime) -> LocalPresence:
    """Shared through Redis when the message queue is Redis, else local."""
    url = app.config.get("MESSAGE_QUEUE")
    if url and url.startswith(("redis://", "rediss://")):
        return SharedPresence(realtime, url, app.config["MESSAGE_QUEUE_CHANNEL"])
    return LocalPresence(realtime)


class PresenceWatcher:
    """Follows participants' connections of one app: at most once a second
    per dialogue it tells every screen how many participants are online now
    (``presence``: a hint like ``inputs_hint``, not a versioned change), and
    records first connections in batches (``attendance.record_connections``)
    so that the summary can count online attendance afterwards. With shared
    presence it also renews this process's share every ``HEARTBEAT`` s and
    looks whether the other processes' changed the figure, for as long as it
    has connections."""

    def __init__(self, service_, realtime, presence: LocalPresence | None = None):
        self.service = service_
        self.realtime = realtime
        self.presence = presence or LocalPresence(realtime)
        self._lock = threading.Lock()
        self._dirty: set[int] = set()
        self._new: dict[int, set[int]] = {}
        self._recorded: set[int] = set()
        self._task = None
        self._next_beat = 0.0

    def __call__(self, dialogue_id: int, participant_id: int) -> None:
        with self._lock:
            self._dirty.add(dialogue_id)
            if participant_id not in self._recorded:
                self._new.setdefault(dialogue_id, set()).add(participant_id)
            self._start()

    def _start(self) -> None:
        if self._task is None:
            self._task = self.realtime.socketio.start_background_task(self._loop)

    def _beat(self) -> set[int]:
        """Every HEARTBEAT s with shared presence: renew this process's share,
        and look again at every dialogue it has screens of."""
        if not self.presence.shared or time.monotonic() < self._next_beat:
            return set()
        self._next_beat = time.monotonic() + HEARTBEAT
        self.presence.publish()
        return self.presence.dialogues()

    def _loop(self) -> None:
        idle = 0.0
        while True:
            self.realtime.socketio.sleep(PRESENCE_INTERVAL)
            watched = self._beat()
            with self._lock:
                dirty, self._dirty = self._dirty | watched, set()
                new, self._new = self._new, {}
                if not dirty and not new:
                    idle += PRESENCE_INTERVAL
                    if idle >= PRESENCE_IDLE_EXIT:
                        self._task = None
                        return
                    continue
            idle = 0.0
            try:
                self.flush(dirty, new)
            except Exception:  # the figures must never stop the watcher
                log.exception("presence update failed")

    def _record(self, dialogue_id: int, ids: set[int]) -> None:
        # After a restart everyone reconnects: those recorded before need
        # no command (each would be a new version for every screen).
        with self.service.db.session() as s:
            unrecorded = set(s.scalars(select(Participant.id).where(
                Participant.id.in_(ids), Participant.connected_at.is_(None))))
        self._recorded.update(ids - unrecorded)
        if unrecorded:
            self.service.dispatch(SYSTEM, "attendance.record_connections",
                                  {"dialogue_id": dialogue_id, "participant_ids": sorted(unrecorded)})
            self._recorded.update(unrecorded)

    def _record_later(self, dialogue_id: int, ids: set[int], exc: Exception) -> None:
        """The database is unavailable: keep the connections for the next
        tick, so that attendance is recorded once it is back."""
        log.warning("recording %d connections failed (%s); will try again", len(ids), exc)
        with self._lock:
            self._new.setdefault(dialogue_id, set()).update(ids)

    def flush(self, dirty: set[int], new: dict[int, set[int]]) -> None:
        for dialogue_id, ids in new.items():
            try:
                self._record(dialogue_id, ids)
            except CommandError as exc:
                if exc.code != "not_found":  # a gone dialogue has nothing to record
                    self._record_later(dialogue_id, ids, exc)
            except Exception as exc:  # noqa: BLE001 - whatever the database raised
                self._record_later(dialogue_id, ids, exc)
        if dirty:
            self.presence.publish()  # before counting: the others see this process's change too
        for dialogue_id in dirty:
            try:
                with self.service.db.session() as s:
                    online = checkin.online_now(s, dialogue_id)
            except CommandError as exc:
                if exc.code != "unavailable":
                    raise
                # The database is away: send the figure at a later tick.
                log.warning("counting who is online failed (%s); will try again", exc)
                with self._lock:
                    self._dirty.add(dialogue_id)
                continue
            if not self.presence.announce(dialogue_id, online):
                continue
            message = {"dialogue_id": dialogue_id, "online": online, "server_time": int(time.time() * 1000)}
            self.realtime.send_hint("presence", message, dialogue_id, Role)


def init_app(app) -> None:
    """Count connections for this app (shared through Redis with a Redis
    message queue), follow them, and take this process's share back when it
    stops gracefully."""
    from moderation.core.shutdown import on_stop
    realtime = app.extensions["realtime"]
    presence = make_presence(app, realtime)
    app.extensions["presence"] = presence
    checkin.register_connections(app.extensions["db"].engine, presence)
    realtime.presence_listeners.append(PresenceWatcher(app.extensions["moderation"], realtime, presence))
    on_stop(app).append(presence.withdraw)
