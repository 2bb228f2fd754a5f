"""One dialogue with somebody in every role, shared by the security tests
(authorization matrix, event fuzzing, the OpenAPI schema run).

The world is seeded once per test session into an SQLite file; each test
works on its own copy, so that commands that change things (revoking,
deleting personal data) cannot leak from one test into the next. Tokens are
stored hashed, so the plain tokens kept here stay valid in every copy.
"""
from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import make_app, run, seed_dialogue

from moderation.core.auth import ANONYMOUS, Principal

ROLES = ("secretariat", "moderator", "rapporteur", "participant", "display")
PASSWORD = "a long enough password"
JOIN_CODE = "JOIN-2026"
# The limits on guessing and flooding have their own tests; here they would
# only refuse the many calls these tests make from one address.
NO_LIMITS = {name: 1_000_000 for name in (
    "SIGN_IN_RATE_BURST", "SIGN_IN_RATE_PER_MINUTE", "APPLY_RATE_BURST", "APPLY_RATE_PER_HOUR", "INPUT_RATE_BURST",
    "INPUT_RATE_PER_MINUTE", "EVENT_BURST", "EVENT_RATE_PER_SECOND", "FLOOD_DISCONNECT_AFTER")}


@dataclass
class World:
    """What the tests need to know about the seeded data."""

    dialogue_id: int
    item_ids: list[int]
    links: dict[str, str]            # role -> personal link token (Socket.IO auth, /l/<token>)
    api_tokens: dict[str, str]       # role -> bearer token (staff roles only: participants use their link)
    participant_id: int              # the participant whose link is links["participant"]
    other_participant_ids: list[int]  # Amina Okafor (room, ngo), Jonas Lindqvist (online, academia)
    application_id: int              # the approved, grassroots application of the participant
    extra: dict[str, Any] = field(default_factory=dict)


def seed_world(service) -> World:
    """Seed through the commands themselves, as the operator (CLI) would."""
    run(service, "user.create", {"username": "secretariat", "password": PASSWORD, "is_admin": True})
    run(service, "user.create", {"username": "spare", "password": PASSWORD})
    run(service, "user.create", {"username": "assigned", "password": PASSWORD})
    admin_link = run(service, "user.issue_sign_in_link", {"username": "secretariat"})["token"]
    seeded = seed_dialogue(service)
    did = seeded["dialogue_id"]
    run(service, "access.assign_role", {"dialogue_id": did, "username": "assigned", "role": "rapporteur"})
    api_tokens = {"moderator": seeded["tokens"]["api_moderator"]}
    for role in ("secretariat", "rapporteur", "display"):
        api_tokens[role] = run(service, "access.issue_api_token", {"dialogue_id": did, "role": role})["token"]
    # The participant of the matrix applied with a grassroots organization,
    # was approved and invited: every participant command can succeed for them.
    deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    run(service, "applications.configure", {"dialogue_id": did, "open": True, "deadline": deadline,
                                            "timezone": "UTC"})
    application_id = run(service, "applications.submit", application([did]), ANONYMOUS)["applications"][0][
        "application_id"]
    participant_id = run(service, "applications.decide", {
        "dialogue_id": did, "application_ids": [application_id], "decision": "approve",
        "decided_by_body": "Extended Bureau"})["participant_ids"][0]
    [invitation] = run(service, "invitations.issue", {"dialogue_id": did, "participant_ids": [participant_id]})[
        "invitations"]
    run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": JOIN_CODE})
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": seeded["item_ids"][0]})
    links = {"secretariat": admin_link, "participant": invitation["token"],
             **{role: seeded["tokens"][role] for role in ("moderator", "rapporteur", "display")}}
    return World(dialogue_id=did, item_ids=seeded["item_ids"], links=links, api_tokens=api_tokens,
                 participant_id=participant_id, other_participant_ids=seeded["participant_ids"],
                 application_id=application_id,
                 extra={"other_links": [seeded["tokens"]["participant0"], seeded["tokens"]["participant1"]],
                        "other_principals": [seeded["principals"]["participant0"],
                                             seeded["principals"]["participant1"]],
                        "participant_principal": Principal(credential_id=invitation["credential_id"])})


def application(dialogue_ids: list[int], name: str = "Survivors' Network") -> dict[str, Any]:
    """A valid application of a grassroots organization with one person in the room."""
    return {
        "dialogue_ids": list(dialogue_ids),
        "organization": {"name": name, "category": "ngo", "ecosoc_status": False, "country": "Kenya",
                         "website": "", "grassroots": True, "victim_led": True,
                         "expertise": "Peer support for survivors of trafficking."},
        "contact": {"name": "Wanjiru Kamau", "email": "contact@survivors.example.org"},
        "participants": [{"name": "Achieng Otieno", "email": "achieng@survivors.example.org", "mode": "in_person"}],
        "confirmed": True,
    }


class WorldTemplate:
    """The seeded SQLite file and what was seeded into it; ``new_app`` gives
    a test its own copy, with the route that hands out CSRF tokens."""

    def __init__(self, directory: Path, sqlite_template: Path):
        self.directory = directory
        self.path = directory / "world.sqlite3"
        shutil.copyfile(sqlite_template, self.path)
        app = make_app(directory / "seed", f"sqlite:///{self.path}")
        try:
            self.world = seed_world(app.extensions["moderation"])
            with app.extensions["db"].engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            app.extensions["db"].dispose()

    def new_app(self, tmp_path: Path, **config):
        """A copy of the world, without the rate limits (``NO_LIMITS``)."""
        from flask_wtf.csrf import generate_csrf

        tmp_path.mkdir(parents=True, exist_ok=True)
        path = tmp_path / "world.sqlite3"
        shutil.copyfile(self.path, path)
        app = make_app(tmp_path, f"sqlite:///{path}", **{**NO_LIMITS, **config})

        @app.get("/_test/csrf")
        def _test_csrf():
            return generate_csrf()

        return app

    def restore(self, app) -> None:
        """Put ``app``'s database back to the seeded world (nothing may be
        writing: no requests in flight, no presence watcher)."""
        db = app.extensions["db"]
        db.dispose()
        path = Path(db.engine.url.database)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.path, path)


_TEMPLATE: WorldTemplate | None = None


def world_template(tmp_path_factory, sqlite_template: Path) -> WorldTemplate:
    """The one template of this test session (seeding takes seconds)."""
    global _TEMPLATE
    if _TEMPLATE is None:
        _TEMPLATE = WorldTemplate(tmp_path_factory.mktemp("security-world"), sqlite_template)
    return _TEMPLATE


def without_presence_writes(app) -> None:
    """Stop the online-attendance watcher of ``app``: it records a
    participant's first connection a second later, from a background task,
    which would blur 'a refused call changed nothing'."""
    realtime = app.extensions["realtime"]
    realtime.presence_listeners[:] = [listener for listener in realtime.presence_listeners
                                      if type(listener).__name__ != "PresenceWatcher"]
