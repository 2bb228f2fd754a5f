"""The one entry point adapters call: ``dispatch`` a command, read a
``snapshot``. It runs the command, hands the committed outcome to the
listeners (the realtime broadcaster) while still holding the dialogue's
process-local lock, so that one process broadcasts a dialogue's versions in
order, then calls the ``dialogue_changed`` plugin hook."""
from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, has_request_context
from sqlalchemy.orm import Session

from moderation.core.attempts import public_attempt
from moderation.core.auth import Actor, Principal, principal_for_token, resolve_actor
from moderation.core.commands import REGISTRY, CommandSpec, Outcome
from moderation.core.db import Database
from moderation.core.errors import CommandError, Forbidden, Internal, InvalidPayload, NotFound, Unauthenticated, not_allowed
from moderation.core.execution import Request, execute, execute_group
from moderation.core.rate_limits import RateLimiter
from moderation.core.reads import READS, ReadContext
from moderation.core.sections import Changes, SectionCache, build_changes, build_sections, build_snapshot
from moderation.models import Dialogue, Role

log = logging.getLogger(__name__)
GROUP_LIMIT = 200  # grouped commands committed in one transaction at most
# In a burst (the previous group ended less than BURST_GAP ago), the next
# group's leader lets the other green threads (or threads) run for
# GATHER_SECONDS before it takes the line: with a database call that does not
# yield (SQLite), requests would otherwise be read and committed one at a time.
BURST_GAP = 0.05
GATHER_SECONDS = 0.002


class Service:
    def __init__(self, app: Flask, db: Database, plugins: Any) -> None:
        self.app = app
        self.db = db
        self.plugins = plugins
        self.listeners: list[Callable[[Outcome], None]] = []
        # Called once committed, outside the dialogue's lock, with the whole
        # outcome (secrets included): built-in follow-ups such as e-mails.
        self.follow_ups: list[Callable[[Outcome], None]] = []
        # SQLite has one writer: one lock for the process avoids waiting on the
        # database. Elsewhere the lock is per dialogue.
        self._single_writer = db.url.startswith("sqlite")
        self._guard = threading.Lock()
        self._locks: dict[Any, threading.Lock] = defaultdict(threading.Lock)
        self._waiting: dict[Any, list[Request]] = defaultdict(list)  # grouped commands, per lock
        self._last_group_end: dict[Any, float] = defaultdict(float)
        self.section_cache = SectionCache()
        self.join_keys: Any = None  # the access feature's JoinKeys, set by its init_app
        self.limits = {"inputs": RateLimiter(capacity=app.config["INPUT_RATE_BURST"],
                                             rate=app.config["INPUT_RATE_PER_MINUTE"] / 60.0)}

    @contextmanager
    def _lock(self, dialogue_id: Any) -> Iterator[None]:
        key = self._lock_key(dialogue_id)
        with self._guard:
            lock = self._locks[key]
        with lock:
            yield

    def _lock_key(self, dialogue_id: Any) -> Any:
        return "all" if self._single_writer or not isinstance(dialogue_id, int) else dialogue_id

    def dispatch(self, principal: Principal, name: str, payload: Any,
                 idempotency_key: str | None = None) -> Outcome:
        spec = REGISTRY.get(name) if isinstance(name, str) else None
        # Public commands (a join code, an application form) are limited per
        # client address whoever sends them and through whichever adapter;
        # the operator's command line is not a client.
        if spec is not None and spec.public and not principal.system and has_request_context():
            with public_attempt(name, payload):
                return self._dispatch(spec, principal, name, payload, idempotency_key)
        return self._dispatch(spec, principal, name, payload, idempotency_key)

    def _dispatch(self, spec: CommandSpec | None, principal: Principal, name: str, payload: Any,
                  idempotency_key: str | None) -> Outcome:
        dialogue_id = payload.get("dialogue_id") if isinstance(payload, dict) else None
        if spec is not None and spec.grouped and isinstance(dialogue_id, int) and not isinstance(dialogue_id, bool):
            return self._dispatch_grouped(Request(principal, name, payload, idempotency_key), dialogue_id)
        with self._lock(dialogue_id):
            outcome = execute(self.db.sessions, self.plugins, principal, name, payload,
                              idempotency_key, describe=self._describe, limits=self.limits, join_keys=self.join_keys)
            if not outcome.replayed:
                self._tell_listeners(outcome)
        if not outcome.replayed:
            self._tell_plugins(outcome)
        return outcome

    def _dispatch_grouped(self, request: Request, dialogue_id: int) -> Outcome:
        """Group commit: the request waits in line; whoever holds the lock
        next commits everything waiting in one transaction. Under load the
        groups grow by themselves; alone, a request is a group of one."""
        key = self._lock_key(dialogue_id)
        with self._guard:
            self._waiting[key].append(request)
        committed: list[Outcome] = []
        with self._lock(dialogue_id):
            if request.answer is None and time.monotonic() - self._last_group_end[key] < BURST_GAP:
                time.sleep(GATHER_SECONDS)  # cooperative under eventlet and gevent (monkey-patched)
            while request.answer is None:
                with self._guard:
                    waiting = self._waiting[key]
                    # One dialogue per group: take the first one's requests.
                    first = waiting[0].payload["dialogue_id"]
                    group = [r for r in waiting if r.payload["dialogue_id"] == first][:GROUP_LIMIT]
                    taken = {id(r) for r in group}
                    waiting[:] = [r for r in waiting if id(r) not in taken]
                try:
                    combined = execute_group(self.db.sessions, self.plugins, first, group,
                                             describe=self._describe, limits=self.limits, join_keys=self.join_keys)
                except Exception:  # never leave a waiting request without an answer
                    log.exception("group of %d commands failed", len(group))
                    for r in group:
                        if r.answer is None:
                            r.answer = Internal("Something went wrong on the server; "
                                                                "nothing was stored. Please try again.")
                    continue
                if combined is not None:
                    self._tell_listeners(combined)
                    committed += [r.answer for r in group if isinstance(r.answer, Outcome) and not r.answer.replayed]
                self._last_group_end[key] = time.monotonic()
        for outcome in committed:
            self._tell_plugins(outcome)
        if isinstance(request.answer, CommandError):
            raise request.answer
        return request.answer

    def _tell_listeners(self, outcome: Outcome) -> None:
        for listener in self.listeners:
            try:
                listener(outcome)
            except Exception:  # the change is committed; a failed broadcast is resynced
                log.exception("listener failed after %s", outcome.command)

    def _tell_plugins(self, outcome: Outcome) -> None:
        # The application's own follow-ups first (e-mailing a new edit link
        # needs the link); then each plugin on its own: one failing
        # integration must not keep the others from hearing of the change.
        # Tokens and codes never reach a plugin.
        for follow_up in self.follow_ups:
            try:
                follow_up(outcome)
            except Exception:
                log.exception("follow-up %r failed after %s", follow_up, outcome.command)
        outcome = outcome.without_secrets()
        for impl in self.plugins.hook.dialogue_changed.get_hookimpls():
            try:
                impl.function(app=self.app, outcome=outcome)
            except Exception:
                log.exception("dialogue_changed of plugin %s failed after %s", impl.plugin_name,
                              outcome.command)

    def _describe(self, session: Session, dialogue: Dialogue, outcome: Outcome) -> Changes:
        return build_changes(session, dialogue, outcome, self.plugins)

    def snapshot(self, principal: Principal, dialogue_id: int, role: Role | str | None = None) -> dict[str, Any]:
        """The state of one dialogue as ``role`` sees it (default: the
        principal's highest role there)."""
        with self.db.session() as session:
            dialogue = _dialogue(session, dialogue_id)
            actor = resolve_actor(session, principal, dialogue_id)
            return self._snapshot_of(session, dialogue, actor, choose_role(actor, role))

    def join(self, dialogue_id: int, role: Role | str | None = None, *, principal: Principal | None = None,
             token: str | None = None, admit: Callable[[Principal], None] | None = None,
             ) -> tuple[Principal, Actor, Role, dict[str, Any]]:
        """What a new connection needs, from one read: (principal, actor, the
        role it takes, its snapshot). The principal is given, or named by
        ``token``; ``admit(principal)`` may refuse it before any work is done.
        A room reconnecting at once asks this hundreds of times a second."""
        with self.db.session() as session:
            if token is not None:
                principal = principal_for_token(session, token)
            if principal is None:
                raise Unauthenticated("Please sign in or open your personal link first.")
            if admit is not None:
                admit(principal)
            actor = resolve_actor(session, principal, dialogue_id)
            chosen = choose_role(actor, role)
            snapshot = self._snapshot_of(session, _dialogue(session, dialogue_id), actor, chosen)
            return principal, actor, chosen, snapshot

    def _snapshot_of(self, session: Session, dialogue: Dialogue, actor: Actor, role: Role) -> dict[str, Any]:
        return build_snapshot(session, dialogue, role, self.plugins, participant_id=actor.participant_id,
                              label=actor.label, cache=self.section_cache)

    def sections(self, principal: Principal, dialogue_id: int, names: Iterable[str],
                 role: Role | str | None = None) -> dict[str, Any]:
        """Named sections as ``role`` sees them; sections the role may not see
        are left out. Returns {version, role, sections}."""
        with self.db.session() as session:
            dialogue = _dialogue(session, dialogue_id)
            chosen = choose_role(resolve_actor(session, principal, dialogue_id), role)
            return {"version": dialogue.version, "role": chosen.value,
                    "sections": build_sections(session, dialogue, chosen, self.plugins, names)}

    def read(self, principal: Principal, dialogue_id: int, name: str, query: Any = None,
             role: Role | str | None = None, *, strict: bool = False) -> Any:
        """A declared read (``moderation.core.reads``): validated (``strict``
        for a query sent as JSON), then authorized against the database, as
        ``role`` (default: the caller's highest role in the dialogue)."""
        spec = READS[name]
        with self.db.session() as session:
            dialogue = _dialogue(session, dialogue_id)
            actor = resolve_actor(session, principal, dialogue_id)
            spec.authorize(actor)  # first: a caller without the role learns nothing from the query
            params = spec.validate(query, strict)
            return spec.handler(ReadContext(session, dialogue, actor, choose_role(actor, role), self.plugins, params,
                                            self.join_keys, self.app))

    def list_inputs(self, principal: Principal, dialogue_id: int, query: dict[str, Any],
                    role: Role | str | None = None) -> dict[str, Any]:
        """One page of inputs as the caller's role sees them."""
        return self.read(principal, dialogue_id, "inputs.list", query, role)

    def export(self, principal: Principal, dialogue_id: int, format_name: str) -> Any:
        """The summary in one format: (exporter, bytes, file name)."""
        return self.read(principal, dialogue_id, "summary.export", {"format": format_name})

    def actor(self, principal: Principal, dialogue_id: int | None) -> Actor:
        with self.db.session() as session:
            return resolve_actor(session, principal, dialogue_id)


def _dialogue(session: Session, dialogue_id: int) -> Dialogue:
    dialogue = session.get(Dialogue, dialogue_id)
    if dialogue is None:
        raise NotFound(f"Dialogue {dialogue_id} does not exist.")
    return dialogue


def choose_role(actor: Actor, role: Role | str | None) -> Role:
    if role is not None:
        try:
            wanted = Role(role)
        except ValueError:
            raise InvalidPayload(f"Unknown role {str(role)[:30]!r}.") from None
        # The secretariat may open every staff view and the display (it often
        # runs the console itself); the participant view needs a participant.
        staff_view = wanted in (Role.MODERATOR, Role.RAPPORTEUR, Role.DISPLAY) and Role.SECRETARIAT in actor.roles
        if wanted not in actor.roles and not staff_view:
            raise not_allowed(not actor.roles, f"You do not hold the {wanted.value} role in this dialogue.")
        return wanted
    chosen = actor.primary_role()
    if chosen is None:
        if actor.principal.anonymous:
            raise Unauthenticated("Please sign in or open your personal link first.")
        raise Forbidden("You have no role in this dialogue.")
    return chosen
