"""The authorization matrix: every command is called over Socket.IO and
over its HTTP route by every role and by no one, with a payload that is
valid for the seeded dialogue.

Who may send each command comes from ``EXPECTED_ROLES``, a table written by
hand from the product's rules (README "Roles and their pages", DESIGN "What
the product is"), never from the commands' own declarations: a command whose
declared roles drift (a participant allowed to edit the summary, say) is
caught here, by the behaviour over both adapters and by the comparison of
the table with the registry. The registry must name exactly the table's
commands, so a new command is added here by hand, by someone reading the
rules.

Whoever the table does not name is refused (403 ``forbidden``, anonymous
401 ``unauthenticated``) and nothing at all changes; whoever it names is
never refused for who they are (a domain answer such as ``conflict`` is
fine) and the payload succeeds at least once. A command without a payload
in ``PAYLOADS`` fails here, and so does a route without its row in
``ROUTES``: nothing new can be added without its rule.

The pages and the other HTTP routes have their table of expected statuses
per caller, and the read events (``snapshot``, ``inputs.list``) are checked
for every role too.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import run
from security_world import JOIN_CODE, PASSWORD, World, application, without_presence_writes, world_template
from test_command_layer import db_state, version_of

from moderation.core.auth import ANONYMOUS
from moderation.core.commands import REGISTRY, CommandSpec
from moderation.core.errors import STATUS, CommandError
from moderation.features import load_features
from moderation.models import Role

API = "/api/v1"
AUTHORIZATION_CODES = {"forbidden", "unauthenticated", "link_revoked"}
load_features()


@pytest.fixture(scope="module")
def template(tmp_path_factory, sqlite_template):
    return world_template(tmp_path_factory, sqlite_template)


@pytest.fixture
def world(template) -> World:
    return template.world


@pytest.fixture
def app(template, tmp_path):
    application_ = template.new_app(tmp_path)
    without_presence_writes(application_)
    yield application_
    application_.extensions["db"].dispose()


@pytest.fixture
def service(app):
    return app.extensions["moderation"]


# -- who calls ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Caller:
    """One way of knocking: a browser session opened from a personal link
    (``cookie``), an API bearer token (``bearer``), or nothing."""

    name: str
    role: Role | None
    kind: str                 # cookie | bearer | anonymous
    whole_site: bool = True   # False: a credential limited to one dialogue even for the secretariat

    def token(self, world: World) -> str | None:
        if self.kind == "cookie":
            return world.links[self.role.value]
        if self.kind == "bearer":
            return world.api_tokens[self.role.value]
        return None

    def socket_token(self, world: World) -> str:
        return world.api_tokens[self.role.value] if self.kind == "bearer" else world.links[self.role.value]

    def http(self, app, world: World) -> HttpSession:
        return HttpSession(app, self, world)


SECRETARIAT = Caller("secretariat", Role.SECRETARIAT, "cookie")  # an account's sign-in link: the whole site
SECRETARIAT_TOKEN = Caller("secretariat_token", Role.SECRETARIAT, "bearer", whole_site=False)
MODERATOR = Caller("moderator", Role.MODERATOR, "bearer")
RAPPORTEUR = Caller("rapporteur", Role.RAPPORTEUR, "bearer")
DISPLAY = Caller("display", Role.DISPLAY, "bearer")
PARTICIPANT = Caller("participant", Role.PARTICIPANT, "cookie")  # participants have no API tokens
NOBODY = Caller("anonymous", None, "anonymous")
API_CALLERS = (SECRETARIAT, SECRETARIAT_TOKEN, MODERATOR, RAPPORTEUR, DISPLAY, PARTICIPANT, NOBODY)
# Browsers: every role's session cookie, from its personal link.
PAGE_CALLERS = (SECRETARIAT, Caller("moderator", Role.MODERATOR, "cookie"),
                Caller("rapporteur", Role.RAPPORTEUR, "cookie"), PARTICIPANT,
                Caller("display", Role.DISPLAY, "cookie"), NOBODY)


class HttpSession:
    """A Flask test client acting as one caller: its cookie and its CSRF
    token (as the page would embed it), or its bearer token."""

    def __init__(self, app, caller: Caller, world: World):
        self.client = app.test_client()
        self.headers: dict[str, str] = {}
        token = caller.token(world)
        if caller.kind == "cookie":
            response = self.client.get(f"/l/{token}")
            assert response.status_code == 302, (caller.name, response.status_code)
        elif caller.kind == "bearer":
            self.headers["Authorization"] = f"Bearer {token}"
        self.csrf = self.client.get("/_test/csrf").get_data(as_text=True)
        if caller.kind == "cookie":
            self.headers["X-CSRFToken"] = self.csrf

    def request(self, method: str, path: str, *, json: Any = None, form: dict | None = None):
        if form is not None:
            return self.client.open(path, method=method, data={**form, "csrf_token": self.csrf},
                                    headers=self.headers)
        return self.client.open(path, method=method, json=json, headers=self.headers)


# -- who may do what, written by hand -------------------------------------------------------
# From the rules as a person reads them in README.md ("Roles and their pages",
# "Accreditation") and DESIGN.md ("What the product is"). The secretariat
# runs the dialogue and may do whatever its moderators and rapporteurs do
# (it opens their pages too); a participant's own actions are theirs alone.
SEC, MOD, RAP, PAR, DIS = (Role.SECRETARIAT, Role.MODERATOR, Role.RAPPORTEUR, Role.PARTICIPANT,
                           Role.DISPLAY)
EVERYONE = "everyone"  # no credential needed (the public application form; joining with the room's code)
CHAIR = frozenset({SEC, MOD})           # runs the agenda and the list of speakers, moderates inputs
WRITER = frozenset({SEC, RAP})          # themes, merges, corrections, oral key points, the summary's settings
STAFF = frozenset({SEC, MOD, RAP})
SECRETARIAT_ONLY = frozenset({SEC})
PARTICIPANT_ONLY = frozenset({PAR})
EXPECTED_ROLES: dict[str, frozenset | str] = {
    # the secretariat prepares the dialogue, its people and their access
    "dialogue.create": SECRETARIAT_ONLY,
    "dialogue.update": SECRETARIAT_ONLY,
    "dialogue.configure_join": SECRETARIAT_ONLY,         # "opens joining by code"
    "participant.register": SECRETARIAT_ONLY,            # "registers participants"
    "participant.join_with_code": EVERYONE,              # anyone in the room who has the code
    "participant.set_channel": frozenset({SEC, MOD, PAR}),  # the secretariat and the chair move people; a
                                                         # participant switches themself (the in-person rule holds)
    "access.issue_link": SECRETARIAT_ONLY,               # "issues and revokes links and API tokens"
    "access.issue_api_token": SECRETARIAT_ONLY,
    "access.revoke": SECRETARIAT_ONLY,
    "access.issue_site_api_token": SECRETARIAT_ONLY,     # the whole site's token: "issues ... API tokens"
    "access.revoke_site_api_token": SECRETARIAT_ONLY,
    "access.assign_role": SECRETARIAT_ONLY,              # "assigns moderator and rapporteur roles"
    "access.unassign_role": SECRETARIAT_ONLY,
    "user.create": SECRETARIAT_ONLY,                     # accounts: the whole site's secretariat
    "user.end_sessions": SECRETARIAT_ONLY,
    "user.set_password": SECRETARIAT_ONLY,
    "user.issue_sign_in_link": SECRETARIAT_ONLY,
    # accreditation: organizations apply publicly, the secretariat decides and invites
    "applications.submit": EVERYONE,                     # "nobody signs in: the public application page"
    "applications.update": EVERYONE,                     # the submitter, proven by the private edit link
    "applications.accept_late": SECRETARIAT_ONLY,
    "applications.configure": SECRETARIAT_ONLY,          # "sets the deadline"
    "applications.decide": SECRETARIAT_ONLY,             # "reviews applications ... bulk decisions"
    "invitations.issue": SECRETARIAT_ONLY,               # "sends or downloads invitations"
    "invitations.record_delivery": SECRETARIAT_ONLY,
    "delegates.add": SECRETARIAT_ONLY,                   # "adds or imports delegates"
    "delegates.import_csv": SECRETARIAT_ONLY,
    "travel.request": PARTICIPANT_ONLY,                  # on their own registration page
    "travel.decide": SECRETARIAT_ONLY,                   # "decides on travel support"
    "participants.check_in": SECRETARIAT_ONLY,           # "secretariat at the door"
    "participants.cancel_check_in": SECRETARIAT_ONLY,
    "attendance.record_connections": SECRETARIAT_ONLY,   # sent by the server itself
    "privacy.delete_personal_data": SECRETARIAT_ONLY,    # "deletes personal data after the summary"
    # the agenda: the secretariat builds it, the chair runs it
    "agenda.add_item": SECRETARIAT_ONLY,
    "agenda.update_item": SECRETARIAT_ONLY,
    "agenda.remove_item": SECRETARIAT_ONLY,
    "agenda.reorder": SECRETARIAT_ONLY,
    "agenda.start_item": CHAIR,                          # "moves through the agenda ... keeps time"
    "agenda.pause_item": CHAIR,
    "agenda.resume_item": CHAIR,
    "agenda.end_item": CHAIR,
    "agenda.advance": CHAIR,
    "agenda.adjust_time": CHAIR,
    # the list of speakers: participants ask, the chair gives the floor
    "queue.request_floor": PARTICIPANT_ONLY,
    "queue.withdraw_request": PARTICIPANT_ONLY,
    "queue.add_speaker": CHAIR,                          # "on behalf of a placard or a raised hand"
    "queue.call_next": CHAIR,
    "queue.call_speaker": CHAIR,
    "queue.end_speaker": CHAIR,
    "queue.pause_speaker": CHAIR,
    "queue.resume_speaker": CHAIR,
    "queue.adjust_speaker_time": CHAIR,
    "queue.reorder": CHAIR,
    "queue.move_to_top": CHAIR,
    "queue.remove": CHAIR,
    "queue.readd_last": CHAIR,
    "queue.use_automatic_order": CHAIR,
    "queue.close": CHAIR,
    "queue.undo": CHAIR,
    "agenda.undo": CHAIR,
    "queue.reopen": CHAIR,
    "queue.configure": CHAIR,
    # inputs: participants write and endorse, the chair moderates, the rapporteur files them
    "inputs.submit": PARTICIPANT_ONLY,
    "inputs.edit": PARTICIPANT_ONLY,
    "inputs.withdraw": PARTICIPANT_ONLY,
    "inputs.endorse": PARTICIPANT_ONLY,
    "inputs.moderate": CHAIR,                            # "moderates inputs"
    "inputs.pin": STAFF,                                 # shown on the display, from the console or the workspace
    "inputs.mark_addressed": STAFF,                      # answered by the panel, or taken into the summary
    "inputs.configure": SECRETARIAT_ONLY,                # "opens the written-input window"
    "inputs.create_theme": WRITER,                       # "tags inputs with themes"
    "inputs.update_theme": WRITER,
    "inputs.tag": WRITER,
    "inputs.merge": WRITER,                              # "merges duplicates"
    "inputs.correct": WRITER,                            # "corrects wording"
    "inputs.record_oral": WRITER,                        # "records the key points of oral interventions"
    # the summary: by the chairs, drafted by the rapporteurs
    "summary.save_section": STAFF,                       # the rapporteurs write it; it is the chairs' summary
    "summary.configure": WRITER,                         # who said what is named only if the rapporteur chooses
    "summary.mark_published": SECRETARIAT_ONLY,          # then personal data may be deleted
    # the assistant: suggestions are for the staff; acting on them is filing inputs
    "assist.dismiss_duplicate": STAFF,                   # "suggestions are for the secretariat, moderators and rapporteurs"
    "assist.accept_themes": WRITER,                      # tagging, as inputs.tag
    "assist.accept_cluster": WRITER,                     # a theme and its tags, as inputs.create_theme + inputs.tag
}


def test_the_hand_table_names_every_command_and_agrees_with_the_declarations():
    """A new command needs its row in EXPECTED_ROLES, written from the rules;
    a declaration that differs from the table is a finding either way."""
    missing, extra = sorted(set(REGISTRY) - set(EXPECTED_ROLES)), sorted(set(EXPECTED_ROLES) - set(REGISTRY))
    assert not missing, f"write who may send these in EXPECTED_ROLES, from the product's rules: {missing}"
    assert not extra, f"EXPECTED_ROLES names commands that do not exist: {extra}"
    def declared(spec: CommandSpec) -> frozenset | str:
        return EVERYONE if spec.public else frozenset(spec.roles)

    def shown(rule: frozenset | str) -> str:
        return rule if rule == EVERYONE else ", ".join(sorted(role.value for role in rule))

    differ = [f"{name}: declared {shown(declared(spec))}; expected {shown(EXPECTED_ROLES[name])}"
              for name, spec in sorted(REGISTRY.items()) if declared(spec) != EXPECTED_ROLES[name]]
    assert not differ, "\n".join(differ)


def may_run(spec: CommandSpec, caller: Caller) -> bool:
    """The rule, from the hand-written table (not from the registry): the
    public commands are everyone's, the others belong to the roles named.
    Outside any dialogue only the whole site's secretariat counts (see
    ``OUTSIDE_DIALOGUES``)."""
    expected = EXPECTED_ROLES[spec.name]
    if expected == EVERYONE:
        return True
    if caller.role is None or caller.role not in expected:
        return False
    return caller.whole_site or OUTSIDE_DIALOGUES.get(spec.name) != "whole site"


def refusal_code(caller: Caller) -> str:
    return "unauthenticated" if caller.role is None else "forbidden"


# Commands that name no dialogue: who may run them beyond their roles.
OUTSIDE_DIALOGUES = {
    "dialogue.create": "whole site",
    "user.create": "whole site",
    "user.end_sessions": "whole site",
    "user.set_password": "whole site",
    "user.issue_sign_in_link": "whole site",
    "access.issue_site_api_token": "whole site",
    "access.revoke_site_api_token": "whole site",
    "applications.accept_late": "each named dialogue",   # the role is checked in every dialogue applied to
    "applications.submit": "public",
    "applications.update": "public",                     # the edit token proves the right
}


def test_every_command_outside_a_dialogue_has_its_rule():
    outside = {name for name, spec in REGISTRY.items() if not spec.dialogue_scoped}
    assert outside == set(OUTSIDE_DIALOGUES), "add the command to OUTSIDE_DIALOGUES with its rule"
    for name, rule in OUTSIDE_DIALOGUES.items():
        assert (rule == "public") == (EXPECTED_ROLES[name] == EVERYONE), name


def test_the_documented_matrix_is_the_tested_rule():
    """docs/security.md's role table (generated by moderation.docgen from
    the declarations) says for each command exactly what the hand-written
    table says."""
    from pathlib import Path
    text = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text(encoding="utf-8")
    block = text.split("<!-- roles:start -->", 1)[1].split("<!-- roles:end -->", 1)[0]
    lines = [line for line in block.strip().splitlines() if line.startswith("| `")]
    header = [cell.strip() for cell in block.strip().splitlines()[0].strip("|").split("|")][1:]
    assert header == [role.value for role in Role] + ["anonymous"]
    documented = {}
    for line in lines:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        documented[cells[0].strip("`")] = [cell.startswith("✓") for cell in cells[1:]]
    assert set(documented) == set(REGISTRY)
    for name, marks in documented.items():
        callers = [Caller(role.value, role, "cookie") for role in Role] + [NOBODY]
        assert marks == [may_run(REGISTRY[name], caller) for caller in callers], name


# -- minimal valid payloads ------------------------------------------------------------------------
# name -> make(service, world): prepares what the payload refers to (as the
# operator) and returns the payload without dialogue_id (both adapters add it).
Make = Callable[[Any, World], dict[str, Any]]


def _as(world: World, who: str):
    return world.extra["participant_principal"] if who == "participant" else \
        world.extra["other_principals"][int(who[-1])]


def _speaker(svc, w: World, participant_index: int = 0) -> int:
    return run(svc, "queue.add_speaker", {"dialogue_id": w.dialogue_id,
                                          "participant_id": w.other_participant_ids[participant_index]})["entry_id"]


def _speaking(svc, w: World) -> int:
    entry = _speaker(svc, w)
    run(svc, "queue.call_next", {"dialogue_id": w.dialogue_id})
    return entry


def _finished(svc, w: World) -> int:
    entry = _speaking(svc, w)
    run(svc, "queue.end_speaker", {"dialogue_id": w.dialogue_id})
    return entry


def _undo_of(svc, w: World, name: str, payload: dict) -> dict:
    """Someone speaks, then ``name`` takes the floor away: the undo's payload."""
    _speaking(svc, w)
    return {"undo_id": run(svc, name, {"dialogue_id": w.dialogue_id, **payload})["undo"]["id"]}


def _input(svc, w: World, who: str = "other0") -> int:
    return run(svc, "inputs.submit", {"dialogue_id": w.dialogue_id, "text": f"An input by {who}."},
               _as(w, who))["input_id"]


def _theme(svc, w: World) -> int:
    return run(svc, "inputs.create_theme", {"dialogue_id": w.dialogue_id, "name": "Victim support"})["theme_id"]


def _item(svc, w: World) -> int:
    return run(svc, "agenda.add_item", {"dialogue_id": w.dialogue_id, "title": "Extra item"})["item_id"]


def _then(svc, w: World, name: str, payload: dict, result: dict) -> dict:
    run(svc, name, {"dialogue_id": w.dialogue_id, **payload})
    return result


def _paused_speaker(svc, w: World) -> dict:
    entry = _speaking(svc, w)
    run(svc, "queue.pause_speaker", {"dialogue_id": w.dialogue_id})
    return {"entry_id": entry}


def _after(prepare: Make, payload: dict) -> Make:
    """A fixed payload, once ``prepare`` has set the scene."""
    return lambda svc, w: (prepare(svc, w), payload)[1]


def _queue_of_two(svc, w: World) -> list[int]:
    """Two waiting speakers, in queue order."""
    return [_speaker(svc, w, 0), _speaker(svc, w, 1)]


def _pending_application(svc, w: World) -> int:
    return run(svc, "applications.submit", application([w.dialogue_id], "Second Network"), ANONYMOUS)[
        "applications"][0]["application_id"]


def _travel_requested(svc, w: World) -> dict:
    run(svc, "travel.request", {"dialogue_id": w.dialogue_id}, _as(w, "participant"))
    return {"application_id": w.application_id, "decision": "granted"}


PAYLOADS: dict[str, Make] = {
    # access and accounts
    "participant.register": lambda s, w: {"name": "Lena Fischer"},
    "access.issue_link": lambda s, w: {"role": "display"},
    "access.issue_api_token": lambda s, w: {"role": "rapporteur"},
    "access.issue_site_api_token": lambda s, w: {"label": "Conference system"},
    "access.revoke_site_api_token": lambda s, w: {"credential_id": run(s, "access.issue_site_api_token", {})[
        "credential_id"]},
    "access.revoke": lambda s, w: {"credential_id": run(s, "access.issue_link", {
        "dialogue_id": w.dialogue_id, "role": "display"})["credential_id"]},
    "access.assign_role": lambda s, w: {"username": "spare", "role": "moderator"},
    "access.unassign_role": lambda s, w: {"username": "assigned", "role": "rapporteur"},
    "participant.join_with_code": lambda s, w: {"code": JOIN_CODE, "name": "Walk-in Guest",
                                                "organization": "Independent"},
    "participant.set_channel": lambda s, w: {"channel": "online", "participant_id": w.participant_id},
    "user.create": lambda s, w: {"username": "newcomer", "password": PASSWORD},
    "user.end_sessions": lambda s, w: {"username": "spare"},
    "user.set_password": lambda s, w: {"username": "spare", "password": "another long password"},
    "user.issue_sign_in_link": lambda s, w: {"username": "secretariat"},
    "dialogue.create": lambda s, w: {"topic": "firearms"},
    "dialogue.update": lambda s, w: {"venue": "Board Room B"},
    "dialogue.configure_join": lambda s, w: {"enabled": True},
    # accreditation
    "applications.submit": lambda s, w: application([w.dialogue_id], "Third Network"),
    "applications.accept_late": lambda s, w: application([w.dialogue_id], "Late Network"),
    "applications.update": lambda s, w: {**application([w.dialogue_id], "Fourth Network"), "edit_token": run(
        s, "applications.submit", application([w.dialogue_id], "Fourth Network"), ANONYMOUS)["edit_token"]},
    "applications.configure": lambda s, w: {"open": False},
    "applications.decide": lambda s, w: {"application_ids": [_pending_application(s, w)], "decision": "approve",
                                         "decided_by_body": "Extended Bureau"},
    "invitations.issue": lambda s, w: {"participant_ids": [w.other_participant_ids[0]]},
    "invitations.record_delivery": lambda s, w: {"participant_ids": [w.participant_id], "method": "download"},
    "travel.request": lambda s, w: {"note": "Two nights in Vienna."},
    "travel.decide": _travel_requested,
    "delegates.add": lambda s, w: {"name": "Anna Berger", "delegation": "Austria", "category": "state_party"},
    "delegates.import_csv": lambda s, w: {"csv": "name,email,delegation,category\nJan Novak,,Czechia,state_party\n"},
    "participants.check_in": lambda s, w: {"participant_id": w.participant_id},
    "participants.cancel_check_in": lambda s, w: _then(s, w, "participants.check_in",
                                                       {"participant_id": w.participant_id},
                                                       {"participant_id": w.participant_id}),
    "attendance.record_connections": lambda s, w: {"participant_ids": [w.participant_id]},
    "privacy.delete_personal_data": lambda s, w: _then(s, w, "summary.mark_published", {"published": True},
                                                       {"confirm": True}),
    # the speaker queue (the first agenda item is running)
    "queue.request_floor": lambda s, w: {},
    "queue.withdraw_request": lambda s, w: {"entry_id": run(s, "queue.add_speaker", {
        "dialogue_id": w.dialogue_id, "participant_id": w.participant_id})["entry_id"]},
    "queue.add_speaker": lambda s, w: {"participant_id": w.other_participant_ids[1]},
    "queue.call_next": lambda s, w: {"expected_entry_id": _speaker(s, w)},
    "queue.call_speaker": lambda s, w: {"entry_id": _speaker(s, w)},
    "queue.end_speaker": lambda s, w: {"entry_id": _speaking(s, w)},
    "queue.pause_speaker": lambda s, w: {"entry_id": _speaking(s, w)},
    "queue.resume_speaker": lambda s, w: _paused_speaker(s, w),
    "queue.adjust_speaker_time": lambda s, w: {"entry_id": _speaking(s, w), "seconds": 30},
    "queue.reorder": lambda s, w: {"entry_ids": _queue_of_two(s, w)[::-1]},
    "queue.move_to_top": lambda s, w: {"entry_id": _queue_of_two(s, w)[1]},
    "queue.remove": lambda s, w: {"entry_id": _speaker(s, w)},
    "queue.readd_last": _after(_finished, {}),
    "queue.use_automatic_order": lambda s, w: {},
    "queue.close": lambda s, w: {},
    "queue.reopen": lambda s, w: _then(s, w, "queue.close", {}, {}),
    "queue.configure": lambda s, w: {"speaking_seconds": 180},
    "queue.undo": lambda s, w: _undo_of(s, w, "queue.end_speaker", {}),
    # the agenda
    "agenda.start_item": lambda s, w: {"item_id": w.item_ids[1]},
    "agenda.pause_item": lambda s, w: {},
    "agenda.resume_item": lambda s, w: _then(s, w, "agenda.pause_item", {}, {}),
    "agenda.end_item": lambda s, w: {},
    "agenda.advance": lambda s, w: {},
    "agenda.undo": lambda s, w: _undo_of(s, w, "agenda.advance", {}),
    "agenda.adjust_time": lambda s, w: {"seconds": 60},
    "agenda.add_item": lambda s, w: {"title": "Closing remarks"},
    "agenda.update_item": lambda s, w: {"item_id": w.item_ids[3], "title": "Open discussion"},
    "agenda.remove_item": lambda s, w: {"item_id": _item(s, w)},
    "agenda.reorder": lambda s, w: {"item_ids": w.item_ids[:1] + w.item_ids[:0:-1]},
    # inputs
    "inputs.submit": lambda s, w: {"text": "Survivors should be heard in every review."},
    "inputs.edit": lambda s, w: {"input_id": _input(s, w, "participant"), "text": "Edited wording."},
    "inputs.withdraw": lambda s, w: {"input_id": _input(s, w, "participant")},
    "inputs.endorse": lambda s, w: {"input_id": _input(s, w, "other0")},
    "inputs.moderate": lambda s, w: {"input_id": _input(s, w), "action": "hide", "reason": "Off topic."},
    "inputs.pin": lambda s, w: {"input_id": _input(s, w)},
    "inputs.create_theme": lambda s, w: {"name": "Prevention"},
    "inputs.update_theme": lambda s, w: {"theme_id": _theme(s, w), "name": "Protection"},
    "inputs.tag": lambda s, w: {"input_id": _input(s, w), "theme_ids": [_theme(s, w)]},
    "inputs.merge": lambda s, w: {"target_id": _input(s, w, "other0"), "source_ids": [_input(s, w, "other1")]},
    "inputs.correct": lambda s, w: {"input_id": _input(s, w), "text": "Corrected wording."},
    "inputs.record_oral": lambda s, w: {"speaker_entry_id": _speaking(s, w), "text": "Key points of the statement."},
    "inputs.mark_addressed": lambda s, w: {"input_id": _input(s, w)},
    "inputs.configure": lambda s, w: {"max_chars": 1500},
    # the assistant
    "assist.dismiss_duplicate": lambda s, w: {"input_id": _input(s, w, "other0"), "other_id": _input(s, w, "other1")},
    "assist.accept_themes": lambda s, w: {"assignments": [{"input_id": _input(s, w), "theme_id": _theme(s, w)}]},
    "assist.accept_cluster": lambda s, w: {"name": "Protection", "input_ids": [_input(s, w, "other0")]},
    # the summary
    "summary.save_section": lambda s, w: {"key": "introduction", "text": "The dialogue opened.", "base_revision": 0},
    "summary.configure": lambda s, w: {"attribution": True},
    "summary.mark_published": lambda s, w: {"published": True},
}


def test_every_command_has_a_payload():
    missing = sorted(set(REGISTRY) - set(PAYLOADS))
    assert not missing, f"add a minimal valid payload to PAYLOADS for: {', '.join(missing)}"
    assert not set(PAYLOADS) - set(REGISTRY), "PAYLOADS names commands that do not exist"


# -- the command matrix ------------------------------------------------------------------------------
def http_call(session: HttpSession, spec: CommandSpec, world: World, payload: dict) -> tuple[int, dict]:
    path = API + spec.http_path.replace("{dialogue_id}", str(world.dialogue_id))
    response = session.request("POST", path, json=copy.deepcopy(payload))
    assert response.mimetype == "application/json", (spec.name, response.status_code)
    return response.status_code, response.get_json()


def socket_call(client, spec: CommandSpec, payload: dict) -> dict:
    ack = client.emit(spec.name, {"payload": copy.deepcopy(payload)}, callback=True)
    assert isinstance(ack, dict) and "ok" in ack, (spec.name, ack)
    return ack


def connect(app, world: World, caller: Caller):
    client = app.extensions["socketio"].test_client(
        app, auth={"dialogue_id": world.dialogue_id, "token": caller.socket_token(world)})
    assert client.is_connected(), caller.name
    client.get_received()
    return client


SOCKET_CALLERS = tuple(c for c in API_CALLERS if c.role is not None)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_command_matrix(app, service, world, name):  # noqa: C901 - every adapter and role in one place
    spec = REGISTRY[name]
    if name not in PAYLOADS:
        pytest.fail(f"{name} has no payload in PAYLOADS: add one, so that its rule is checked")
    payload = PAYLOADS[name](service, world)
    http = {caller.name: caller.http(app, world) for caller in API_CALLERS}
    sockets = {caller.name: connect(app, world, caller) for caller in SOCKET_CALLERS}
    # No one connects without credentials, so no anonymous event ever runs.
    anonymous = app.extensions["socketio"].test_client(app, auth={"dialogue_id": world.dialogue_id})
    assert not anonymous.is_connected()

    problems: list[str] = []
    did = world.dialogue_id
    before, version = db_state(service), version_of(service, did)
    for caller in (c for c in API_CALLERS if not may_run(spec, c)):
        status, body = http_call(http[caller.name], spec, world, payload)
        expected = refusal_code(caller)
        if status != STATUS[expected] or body["error"]["code"] != expected:
            problems.append(f"HTTP {caller.name}: expected {expected}, got {status} {body}")
        if caller in SOCKET_CALLERS:
            ack = socket_call(sockets[caller.name], spec, payload)
            if ack["ok"] or ack["error"]["code"] != expected:
                problems.append(f"Socket.IO {caller.name}: expected {expected}, got {ack}")
        if version_of(service, did) != version:
            problems.append(f"{caller.name}: the dialogue's version moved on a refused call")
            version = version_of(service, did)
    if db_state(service) != before:
        problems.append("a refused call changed the database")

    succeeded = []
    for caller in (c for c in API_CALLERS if may_run(spec, c)):
        status, body = http_call(http[caller.name], spec, world, payload)
        if not body["ok"] and body["error"]["code"] in AUTHORIZATION_CODES:
            problems.append(f"HTTP {caller.name} may run it but was refused: {status} {body}")
        elif body["ok"]:
            succeeded.append(f"HTTP {caller.name}")
        if caller in SOCKET_CALLERS:
            ack = socket_call(sockets[caller.name], spec, payload)
            if not ack["ok"] and ack["error"]["code"] in AUTHORIZATION_CODES:
                problems.append(f"Socket.IO {caller.name} may run it but was refused: {ack}")
            elif ack["ok"]:
                succeeded.append(f"Socket.IO {caller.name}")
    if not succeeded:
        problems.append("the payload in PAYLOADS never succeeded: make it valid")
    for client in sockets.values():
        if client.is_connected():
            client.disconnect()
    assert not problems, f"{name}:\n" + "\n".join(problems)


# -- the read events -----------------------------------------------------------------------------------
def test_read_events_for_every_role(app, world):
    """Every role reads its own view; nobody connects without credentials."""
    for caller in SOCKET_CALLERS:
        client = connect(app, world, caller)
        ack = client.emit("snapshot", callback=True)
        assert ack["ok"] is True and ack["snapshot"]["role"] == caller.role.value, (caller.name, ack)
        assert ack["snapshot"]["dialogue_id"] == world.dialogue_id
        page = client.emit("inputs.list", {"per_page": 5}, callback=True)
        assert page["ok"] is True and isinstance(page["items"], list), (caller.name, page)
        client.disconnect()
    for auth in ({"dialogue_id": world.dialogue_id}, {"dialogue_id": world.dialogue_id, "token": "forged"}):
        anonymous = app.extensions["socketio"].test_client(app, auth=auth)
        assert not anonymous.is_connected(), auth


# Who may run each declared read (``moderation.core.reads``), written by hand
# from the product's rules like ``EXPECTED_ROLES``; None: every role in the
# dialogue (each sees its own view).
READ_ROLES: dict[str, frozenset[Role] | None] = {
    "inputs.list": None,
    "summary.export": STAFF,                              # "exports the summary": secretariat, moderators, rapporteurs
    "accreditation.applications": SECRETARIAT_ONLY,       # personal data
    "accreditation.participants": SECRETARIAT_ONLY,       # personal data
    "accreditation.travel_support": SECRETARIAT_ONLY,     # personal data
    "access.join_code": frozenset({SEC, MOD, DIS}),       # "the display shows the code"; staff may see it, never participants
    "assist.duplicates": STAFF,                           # "suggestions are for the secretariat, moderators and rapporteurs"
    "assist.theme_suggestions": STAFF,
    "assist.theme_clusters": STAFF,
}
READ_QUERIES: dict[str, Any] = {"inputs.list": {"per_page": 5}, "summary.export": {"format": "md"},
                                "accreditation.applications": {}, "accreditation.participants": {"format": "json"},
                                "accreditation.travel_support": None, "access.join_code": None,
                                "assist.duplicates": {}, "assist.theme_suggestions": {}, "assist.theme_clusters": {}}


def test_every_declared_read_is_authorized_as_the_table_says(service, world):
    """Each read, by every role's personal link and by no one: the table's
    roles read, the others are refused as forbidden (anonymous:
    unauthenticated), before the query is looked at."""
    from moderation.core.auth import principal_for_token
    from moderation.core.reads import READS

    assert set(READS) == set(READ_ROLES), "a read without its row in READ_ROLES, or a row without its read"
    with service.db.session() as s:
        principals = {role: principal_for_token(s, world.links[role.value]) for role in
                      (Role.SECRETARIAT, Role.MODERATOR, Role.RAPPORTEUR, Role.PARTICIPANT, Role.DISPLAY)}
    for name, allowed in READ_ROLES.items():
        for role, principal in principals.items():
            if allowed is None or role in allowed:
                assert service.read(principal, world.dialogue_id, name, READ_QUERIES[name]) is not None, (name, role)
                continue
            for query in (READ_QUERIES[name], {"not_a_filter": "x" * 5000}):
                with pytest.raises(CommandError) as refused:
                    service.read(principal, world.dialogue_id, name, query)
                assert refused.value.code == "forbidden", (name, role, refused.value.code)
        if allowed is not None:
            with pytest.raises(CommandError) as refused:
                service.read(ANONYMOUS, world.dialogue_id, name, {"not_a_filter": 1})
            assert refused.value.code == "unauthenticated", (name, refused.value.code)


# -- the other HTTP routes --------------------------------------------------------------------------------
S, M, R, P, D, A, T = "secretariat", "moderator", "rapporteur", "participant", "display", "anonymous", \
    "secretariat_token"


def everyone(status: int, **others: int) -> dict[str, int]:
    return {**{name: status for name in (S, T, M, R, P, D, A)}, **others}


def secretariat_page(ok: int = 200) -> dict[str, int]:
    """A secretariat page: others are refused, anonymous browsers are sent to sign in (GET)."""
    return everyone(403, **{S: ok, A: 302})


def secretariat_form(ok: int = 302) -> dict[str, int]:
    """A secretariat form: others are refused, anonymous posts too (no sign-in page for a POST)."""
    return everyone(403, **{S: ok, A: 401})


def signed_in(ok: int = 200) -> dict[str, int]:
    return everyone(ok, **{A: 401})


def staff_reads() -> dict[str, int]:
    return everyone(200, **{P: 403, D: 403, A: 401})


def secretariat_reads(ok: int = 200) -> dict[str, int]:
    return everyone(403, **{S: ok, T: ok, A: 401})


def apply_form(world: World) -> dict[str, str]:
    return {"dialogue_ids": str(world.dialogue_id), "organization.name": "Fourth Network",
            "organization.category": "ngo", "organization.country": "Peru", "organization.expertise": "Outreach.",
            "organization.ecosoc_status": "no", "contact.name": "Rosa Quispe", "contact.email": "rosa@example.org",
            "participants.0.name": "Rosa Quispe", "participants.0.email": "rosa@example.org",
            "participants.0.mode": "online", "confirmed": "yes"}


@dataclass
class Route:
    method: str
    path: str                          # {did}, {pid}, {app} are filled in from the world
    expected: dict[str, int]           # caller name -> status
    form: Callable[[World], dict] | None = None
    json: dict | None = None
    api: bool = False                  # API callers (bearer tokens) instead of browsers

    def url(self, world: World) -> str:
        return self.path.format(did=world.dialogue_id, pid=world.participant_id, app=world.application_id)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


ROUTES = [
    # sign-in and public pages
    Route("GET", "/", everyone(302, **{A: 200})),
    Route("GET", "/login", everyone(200)),
    Route("POST", "/login", everyone(401), form=lambda w: {"username": "nobody", "password": "wrong"}),
    Route("POST", "/logout", everyone(302), form=lambda w: {}),
    Route("GET", "/session/alive", signed_in()),
    Route("GET", "/l/not-a-valid-token", everyone(401)),
    Route("GET", "/healthz", everyone(200)),
    Route("GET", "/static/css/app.css", everyone(200)),
    Route("GET", "/apply", everyone(200)),
    Route("GET", "/apply/done", everyone(302)),
    Route("GET", "/apply/edit/" + "x" * 43, everyone(404)),   # the token is the right: a wrong one opens nothing
    Route("GET", "/d/{did}/apply", everyone(200)),
    Route("POST", "/d/{did}/apply", everyone(302), form=apply_form),
    Route("GET", "/d/{did}/join", everyone(200)),
    Route("POST", "/d/{did}/join", everyone(302),
          form=lambda w: {"code": JOIN_CODE, "name": "Walk-in Guest", "organization": "Independent",
                          "category": "other", "channel": "online"}),
    # the role pages: the secretariat may open the staff views and the display
    Route("GET", "/d/{did}/moderator", everyone(403, **{S: 200, M: 200, A: 302})),
    Route("GET", "/d/{did}/rapporteur", everyone(403, **{S: 200, R: 200, A: 302})),
    Route("GET", "/d/{did}/display", everyone(403, **{S: 200, D: 200, A: 302})),
    # The current join code and QR link: the room's display and the staff who run it, never participants.
    Route("GET", "/d/{did}/join-code", everyone(403, **{S: 200, M: 200, D: 200, A: 401})),
    Route("GET", "/d/{did}/participant", everyone(403, **{P: 200, A: 302})),
    Route("GET", "/d/{did}/secretariat", everyone(404)),
    Route("GET", "/d/{did}/registration", everyone(403, **{P: 200, A: 401})),
    Route("POST", "/d/{did}/registration", everyone(403, **{P: 302, A: 401}), form=lambda w: {"note": "Two nights."}),
    # the secretariat's pages and forms
    Route("GET", "/admin", secretariat_page()),
    Route("GET", "/admin/d/{did}", secretariat_page()),
    Route("GET", "/admin/d/{did}/applications", secretariat_page()),
    Route("GET", "/admin/d/{did}/participants", secretariat_page()),
    Route("GET", "/admin/d/{did}/checkin", secretariat_page()),
    Route("POST", "/admin/d/{did}/checkin", secretariat_form(200), form=lambda w: {"participant_id": str(w.participant_id)}),
    Route("POST", "/admin/d/{did}/applications/settings", secretariat_form(),
          form=lambda w: {"open": "yes", "deadline": "", "timezone": "UTC"}),
    Route("POST", "/admin/d/{did}/applications/decide", secretariat_form(),
          form=lambda w: {"row_decision": f"reject:{w.application_id}", "reason": "Outside the topic."}),
    Route("POST", "/admin/d/{did}/delegates", secretariat_form(),
          form=lambda w: {"name": "Anna Berger", "delegation": "Austria", "category": "state_party"}),
    Route("POST", "/admin/d/{did}/delegates/import", secretariat_form(),
          form=lambda w: {"csv": "name,email,delegation,category\nJan Novak,,Czechia,state_party\n"}),
    Route("POST", "/admin/d/{did}/invitations", secretariat_form(200),
          form=lambda w: {"participant_ids": str(w.other_participant_ids[0]), "delivery": "download"}),
    Route("POST", "/admin/d/{did}/participants/{pid}/channel", secretariat_form(), form=lambda w: {"channel": "online"}),
    Route("POST", "/admin/d/{did}/travel/decide", secretariat_form(),
          form=lambda w: {"application_id": str(w.application_id), "decision": "declined"}),
    Route("POST", "/admin/d/{did}/summary/published", secretariat_form(), form=lambda w: {"published": "yes"}),
    Route("POST", "/admin/d/{did}/privacy/delete", secretariat_form(), form=lambda w: {"confirm": "yes"}),
    # the API's reads (the commands' routes are in the command matrix)
    Route("GET", "/api/v1/openapi.json", everyone(200), api=True),
    Route("GET", "/api/v1/export-formats", everyone(200), api=True),
    Route("GET", "/api/v1/dialogues", signed_in(), api=True),
    Route("GET", "/api/v1/dialogues/{did}/snapshot", signed_in(), api=True),
    Route("GET", "/api/v1/dialogues/{did}/queue", signed_in(), api=True),
    Route("GET", "/api/v1/dialogues/{did}/inputs", signed_in(), api=True),
    Route("GET", "/api/v1/dialogues/{did}/statistics", staff_reads(), api=True),
    Route("GET", "/api/v1/dialogues/{did}/assist/duplicates", staff_reads(), api=True),
    Route("GET", "/api/v1/dialogues/{did}/assist/themes", staff_reads(), api=True),
    Route("GET", "/api/v1/dialogues/{did}/assist/clusters", staff_reads(), api=True),
    Route("GET", "/api/v1/dialogues/{did}/summary/export?format=md", staff_reads(), api=True),
    Route("GET", "/api/v1/dialogues/{did}/applications", secretariat_reads(), api=True),
    Route("GET", "/api/v1/dialogues/{did}/participants/export", secretariat_reads(), api=True),
    Route("GET", "/api/v1/dialogues/{did}/travel-support/export", secretariat_reads(), api=True),
    Route("POST", "/api/v1/dialogues/{did}/invitations/send", secretariat_reads(),
          json={"participant_ids": [], "delivery": "download"}, api=True),
]


def covered_rules(app) -> set[tuple[str, str]]:
    """(method, rule) of every route in ROUTES and of every command route."""
    adapter = app.url_map.bind("localhost")
    covered = set()
    for route in ROUTES:
        path = route.path.split("?")[0].format(did=1, pid=1, app=1)
        rule, _ = adapter.match(path, method=route.method, return_rule=True)
        covered.add((route.method, rule.rule))
    for spec in REGISTRY.values():
        rule, _ = adapter.match(API + spec.http_path.replace("{dialogue_id}", "1"), method="POST", return_rule=True)
        assert rule.endpoint == f"api.{spec.operation_id}", spec.name
        covered.add(("POST", rule.rule))
    return covered


def test_every_route_has_its_rule(app):
    covered = covered_rules(app)
    missing = sorted(f"{method} {rule.rule}" for rule in app.url_map.iter_rules()
                     if not rule.rule.startswith("/_test/")
                     for method in rule.methods - {"HEAD", "OPTIONS"} if (method, rule.rule) not in covered)
    assert not missing, "add these routes to ROUTES with the status each caller gets:\n" + "\n".join(missing)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id)
def test_route_matrix(app, service, world, route):
    callers = API_CALLERS if route.api else PAGE_CALLERS
    assert {c.name for c in callers} <= set(route.expected), route.id
    refused = [c for c in callers if route.expected[c.name] in (401, 403)]
    admitted = [c for c in callers if c not in refused]
    problems = []

    def knock(caller: Caller) -> None:
        response = caller.http(app, world).request(route.method, route.url(world), json=route.json,
                                                   form=route.form(world) if route.form else None)
        if response.status_code != route.expected[caller.name]:
            problems.append(f"{caller.name}: expected {route.expected[caller.name]}, got {response.status_code} "
                            f"{response.get_data(as_text=True)[:200]!r}")
        if route.path.startswith("/api/") and response.status_code >= 400:
            assert response.mimetype == "application/json", route.id

    # The refused first: they must change nothing. Reads never change anything.
    before = db_state(service)
    for caller in refused:
        knock(caller)
    if db_state(service) != before:
        problems.append("a refused call changed the database")
    for caller in admitted:
        knock(caller)
    if route.method == "GET" and db_state(service) != before:
        problems.append("a GET changed the database")
    assert not problems, f"{route.id}:\n" + "\n".join(problems)
