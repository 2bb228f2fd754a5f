"""One in-person participant plus one alternate per organization, whatever
the way into the room.

Hypothesis drives random sequences of every command that puts someone in
the room or takes them out — registering a participant, joining with the
code, switching channel (by the secretariat and by the participant),
approving an application, adding and importing delegates — for a few
organizations typed in different ways, and checks the rule after every
step against the stored rows: per organization (the same name however it
is spelled, whatever category it was given) at most one participant in the
room who is not the alternate and at most one alternate; nobody online is
an alternate; delegations of States parties and intergovernmental
organizations are never limited. A refusal is always a ``conflict`` (or the
application's own check) and changes nothing."""
from __future__ import annotations

import itertools
from collections import defaultdict

from conftest import run
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, select
from test_accreditation import application, open_applications
from test_command_layer import db_state

from moderation.core.auth import ANONYMOUS, SYSTEM, Principal
from moderation.core.errors import CommandError
from moderation.features.access.room import UNLIMITED_CATEGORIES, organization_key
from moderation.models import Organization, Participant

# Three organizations, each typed several ways (case, spacing, punctuation).
SPELLINGS = [["Acme Network", "ACME network", "acme  network."],
             ["Victims' Voice", "victims voice", "VICTIMS-VOICE"],
             ["Río Alliance", "río alliance", "Río, Alliance"]]
CATEGORIES = ["ngo", "ngo_ecosoc", "academia", "private_sector", "other"]
APPLICATION_CATEGORIES = ["ngo", "academia", "private_sector", "other"]
MODES = ["in_person", "alternate", "online"]
JOIN_CODE = "ROOMRULE1"


def room_rule_holds(service, dialogue_id: int) -> None:
    """The rule, read from the database."""
    with service.db.session() as s:
        rows = s.execute(select(Participant.id, Participant.channel, Participant.alternate, Organization.name,
                                Organization.category)
                         .join(Organization, Organization.id == Participant.organization_id, isouter=True)
                         .where(Participant.dialogue_id == dialogue_id)).all()
    in_room = defaultdict(lambda: {"main": [], "alternate": []})
    # An organization is its name whatever category it was given: where a
    # limited organization is in the room, everyone of its name counts, also
    # those who called it a State party or an IGO.
    limited_names = {organization_key(name) for _, channel, _, name, category in rows
                     if channel == "room" and name is not None and category not in UNLIMITED_CATEGORIES}
    for pid, channel, alternate, name, category in rows:
        if channel != "room":
            assert not alternate, f"participant {pid} is online but marked as the alternate"
            continue
        if name is None or (category in UNLIMITED_CATEGORIES and organization_key(name) not in limited_names):
            continue
        in_room[organization_key(name)]["alternate" if alternate else "main"].append(pid)
    for key, places in in_room.items():
        assert len(places["main"]) <= 1 and len(places["alternate"]) <= 1, f"{key}: {places}"


class IntoTheRoom(RuleBasedStateMachine):
    service = None  # set by the test

    def __init__(self):
        super().__init__()
        self.did = run(self.service, "dialogue.create", {"topic": "smuggling_of_migrants"})["dialogue_id"]
        run(self.service, "dialogue.configure_join", {"dialogue_id": self.did, "enabled": True, "code": JOIN_CODE})
        open_applications(self.service, self.did)
        self.participants: list[int] = []
        self.principals: dict[int, Principal] = {}
        self.numbers = itertools.count(1)

    # -- helpers --------------------------------------------------------------------------------
    def attempt(self, name, payload, principal=SYSTEM, allowed=("conflict",)):
        """Run a command; a refusal must be one of ``allowed`` and change nothing."""
        before = db_state(self.service)
        try:
            return self.service.dispatch(principal, name, payload).result
        except CommandError as exc:
            assert exc.code in allowed, (name, exc.to_dict())
            assert db_state(self.service) == before
            return None

    def added(self, result, principal_key="credential_id"):
        if result is not None and "participant_id" in result:
            self.participants.append(result["participant_id"])
            if principal_key in result:
                self.principals[result["participant_id"]] = Principal(credential_id=result[principal_key])

    # -- the ways in ----------------------------------------------------------------------------
    @rule(org=st.integers(0, 2), spelling=st.integers(0, 2), category=st.sampled_from(CATEGORIES),
          channel=st.sampled_from(["room", "online"]))
    def register(self, org, spelling, category, channel):
        self.added(self.attempt("participant.register", {
            "dialogue_id": self.did, "name": f"Registered {next(self.numbers)}", "channel": channel,
            "organization": {"name": SPELLINGS[org][spelling], "category": category}}))

    @rule(org=st.integers(0, 2), spelling=st.integers(0, 2),
          category=st.sampled_from(CATEGORIES + sorted(UNLIMITED_CATEGORIES)), channel=st.sampled_from(["room", "online"]))
    def join_with_code(self, org, spelling, category, channel):
        # Calling the organization a State party or an IGO changes nothing.
        self.added(self.attempt("participant.join_with_code", {
            "dialogue_id": self.did, "code": JOIN_CODE, "name": f"Joined {next(self.numbers)}",
            "organization": SPELLINGS[org][spelling], "category": category, "channel": channel}, ANONYMOUS))

    @precondition(lambda self: self.participants)
    @rule(data=st.data(), channel=st.sampled_from(["room", "online"]), themselves=st.booleans())
    def switch_channel(self, data, channel, themselves):
        pid = data.draw(st.sampled_from(self.participants))
        if themselves and pid in self.principals:
            self.attempt("participant.set_channel", {"dialogue_id": self.did, "channel": channel},
                         self.principals[pid])
        else:
            self.attempt("participant.set_channel", {"dialogue_id": self.did, "channel": channel,
                                                     "participant_id": pid})

    @rule(org=st.integers(0, 2), spelling=st.integers(0, 2), category=st.sampled_from(APPLICATION_CATEGORIES),
          modes=st.lists(st.sampled_from(MODES), min_size=1, max_size=3))
    def approve_application(self, org, spelling, category, modes):
        n = next(self.numbers)
        people = [(f"Nominee {n}.{i}", f"nominee{n}.{i}@example.org", mode) for i, mode in enumerate(modes)]
        submitted = self.attempt("applications.submit", application(
            [self.did], name=SPELLINGS[org][spelling], category=category, people=people,
            contact_email=f"contact{n}@example.org"), ANONYMOUS, allowed=("invalid_payload", "conflict"))
        if submitted is None:
            return
        decided = self.attempt("applications.decide", {
            "dialogue_id": self.did, "application_ids": [submitted["applications"][0]["application_id"]],
            "decision": "approve"})
        if decided is not None:
            self.participants += decided["participant_ids"]

    @rule(category=st.sampled_from(["state_party", "igo"]), count=st.integers(1, 3), by_csv=st.booleans())
    def add_delegates(self, category, count, by_csv):
        """Never limited: every delegate gets into the room."""
        n = next(self.numbers)
        if by_csv:
            rows = "".join(f"Delegate {n}.{i},d{n}.{i}@example.org,Austria,{category},room\n" for i in range(count))
            result = run(self.service, "delegates.import_csv", {
                "dialogue_id": self.did, "csv": "name,email,delegation,category,channel\n" + rows})
            self.participants += result["participant_ids"]
        else:
            for i in range(count):
                self.added(run(self.service, "delegates.add", {
                    "dialogue_id": self.did, "name": f"Delegate {n}.{i}", "delegation": "Austria",
                    "category": category, "channel": "room"}))

    @invariant()
    def one_in_person_plus_one_alternate(self):
        room_rule_holds(self.service, self.did)


def test_every_way_into_the_room_keeps_the_rule(service):
    IntoTheRoom.service = service
    run_state_machine_as_test(IntoTheRoom, settings=settings(
        max_examples=25, stateful_step_count=14, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))


def test_registering_the_second_makes_them_the_alternate_and_refuses_the_third(service, dialogue):
    did = dialogue["dialogue_id"]
    org = {"name": "Acme Network", "category": "ngo"}
    first = run(service, "participant.register", {"dialogue_id": did, "name": "Ana", "channel": "room",
                                                  "organization": org})["participant_id"]
    second = run(service, "participant.register", {"dialogue_id": did, "name": "Bo", "channel": "room",
                                                   "organization": {**org, "name": "ACME network"}})["participant_id"]
    with service.db.session() as s:
        assert (s.get(Participant, first).alternate, s.get(Participant, second).alternate) == (False, True)
    before = db_state(service)
    try:
        run(service, "participant.register", {"dialogue_id": did, "name": "Cy", "channel": "room",
                                              "organization": {"name": "Acme Network", "category": "academia"}})
    except CommandError as exc:
        assert exc.code == "conflict" and "Ana and Bo" in exc.message
        assert exc.details == [{"field": "channel", "message": "no in-person place left for this organization"}]
    else:
        raise AssertionError("a third person of the same organization got into the room")
    assert db_state(service) == before


# Characters a screen does not show (zero-width space, soft hyphen, zero-width
# joiner and non-joiner, word joiner, byte order mark, left-to-right mark):
# typed inside a word they made another organization and another place.
INVISIBLE = ["\u200b", "\u00ad", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e"]


def test_invisible_characters_do_not_make_another_organization():
    for char in INVISIBLE:
        assert organization_key(f"Ac{char}me Net{char}work") == organization_key("Acme Network"), repr(char)
    assert organization_key("Área") != organization_key("Area")


def test_an_invisible_character_opens_no_third_place(service, dialogue):
    did = dialogue["dialogue_id"]
    for name, typed in (("Ana", "Acme Network"), ("Bo", "Acme Net\u00adwork")):
        run(service, "participant.register", {"dialogue_id": did, "name": name, "channel": "room",
                                              "organization": {"name": typed, "category": "ngo"}})
    before = db_state(service)
    # A zero-width space is refused in any one-line text; a zero-width joiner,
    # which scripts need, is accepted and still names the same organization.
    for typed, code in (("Ac\u200bme Network", "invalid_payload"), ("Ac\u200dme Network", "conflict")):
        try:
            run(service, "participant.register", {"dialogue_id": did, "name": "Cy", "channel": "room",
                                                  "organization": {"name": typed, "category": "ngo"}})
        except CommandError as exc:
            assert exc.code == code, (typed, exc.code)
        else:
            raise AssertionError("an invisible character in the name opened a third place in the room")
        assert db_state(service) == before


def test_calling_an_organization_a_state_party_opens_no_more_places(service, dialogue):
    """States parties and IGOs are not limited, but an organization is its
    name whatever category it was given: whoever joins with the code (or is
    registered, or added as a delegate) under the name of a limited
    organization of this dialogue, calling it a State party or an IGO,
    takes one of its places. Another name stays unlimited."""
    did = dialogue["dialogue_id"]
    run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": JOIN_CODE})
    org = {"name": "Acme Network", "category": "ngo"}
    for name in ("Ana", "Bo"):
        run(service, "participant.register", {"dialogue_id": did, "name": name, "channel": "room", "organization": org})
    before = db_state(service)
    attempts = [("participant.join_with_code", {"code": JOIN_CODE, "name": "Cy", "organization": spelling,
                                                "category": category, "channel": "room"}, ANONYMOUS)
                for spelling in ("Acme Network", "ACME  network.") for category in sorted(UNLIMITED_CATEGORIES)]
    attempts += [("participant.register", {"name": "Cy", "channel": "room",
                                           "organization": {"name": "acme network", "category": "state_party"}}, SYSTEM),
                 ("delegates.add", {"name": "Cy", "delegation": "Acme Network", "category": "igo", "channel": "room"},
                  SYSTEM)]
    for name, payload, principal in attempts:
        try:
            service.dispatch(principal, name, {"dialogue_id": did, **payload})
        except CommandError as exc:
            assert exc.code == "conflict" and "Ana and Bo" in exc.message, exc.to_dict()
        else:
            raise AssertionError(f"{name} {payload} got a third person of Acme Network into the room")
    assert db_state(service) == before
    # The other way round: those who came first as a "State party" hold the places.
    for name in ("Dana", "Eli"):
        service.dispatch(ANONYMOUS, "participant.join_with_code", {
            "dialogue_id": did, "code": JOIN_CODE, "name": name, "organization": "Victims Voice",
            "category": "state_party", "channel": "room"})
    run(service, "participant.register", {"dialogue_id": did, "name": "Fay", "channel": "online",
                                          "organization": {"name": "Victims' Voice", "category": "ngo"}})
    for name in ("Gil", "Hal"):
        try:
            service.dispatch(ANONYMOUS, "participant.join_with_code", {
                "dialogue_id": did, "code": JOIN_CODE, "name": name, "organization": "Victims Voice",
                "category": "ngo" if name == "Gil" else "state_party", "channel": "room"})
        except CommandError as exc:
            assert exc.code == "conflict", exc.to_dict()
        else:
            raise AssertionError(f"{name} got a third place of Victims Voice")
    room_rule_holds(service, did)
    # A delegation of another name is not limited.
    for name in ("Ivo", "Jo", "Kim"):
        service.dispatch(ANONYMOUS, "participant.join_with_code", {
            "dialogue_id": did, "code": JOIN_CODE, "name": name, "organization": "Mission of Austria",
            "category": "state_party", "channel": "room"})
    with service.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Participant).where(
            Participant.dialogue_id == did, Participant.channel == "room")) >= 7
