"""Participant inputs (``moderation/features/inputs``) through the command layer, on
SQLite and PostgreSQL, without a server: every command and who may run it,
what each audience sees of an input, the written-input window, the two
moderation modes, the built-in and plugin filters, the rapporteurs' work
(themes, merging, corrections, oral key points), lists, the rate limit,
idempotent retries, and the messages each role is sent (Flask-SocketIO's test
client).

``refused`` (from ``test_command_layer``) checks that a refused command left
every row of the database as it was: "nothing stored" is checked that way.
"""
from __future__ import annotations

import datetime as dt
import itertools
import time
import uuid
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from concurrency import all_at_once
from conftest import make_app, run, seed_dialogue
from sqlalchemy import func, insert, select
from test_command_layer import refused

from moderation.core.auth import SYSTEM, Principal
from moderation.core.commands import REGISTRY
from moderation.core.rate_limits import RateLimiter
from moderation.features import load_features
from moderation.models import (
    Dialogue,
    Endorsement,
    IdempotencyRecord,
    Input,
    InputRevision,
    InputTheme,
    Role,
    SpeakerEntry,
)
from moderation.plugins import FilterVerdict, InputFilter, hookimpl

NO_LIMIT = {"INPUT_RATE_BURST": 100_000, "INPUT_RATE_PER_MINUTE": 100_000}
VIENNA = ZoneInfo("Europe/Vienna")
UTC = dt.UTC


@pytest.fixture
def app(tmp_path, database_url):
    """The conftest app with a rate limit these tests never reach (it has
    tests of its own, with the default settings)."""
    application = make_app(tmp_path, database_url, **NO_LIMIT)
    yield application
    application.extensions["db"].dispose()


class _People(dict):
    """Principals or tokens by role name; the secretariat's are made on first use."""

    def __init__(self, known: dict, make_secretariat):
        super().__init__(known)
        self._make = make_secretariat

    def __missing__(self, key):
        if key != "secretariat":
            raise KeyError(key)
        self._make()
        return self[key]


# -- the people of a dialogue, by role --------------------------------------------------
class World:
    """A seeded dialogue (``conftest.seed_dialogue``) plus the secretariat
    (an admin account), three more participants, a revoked participant link,
    a participant of another dialogue and nobody (anonymous).

    ``participant`` is participant0 (Amina Okafor, in the room, NGO);
    participant1 is Jonas Lindqvist (online, academia)."""

    def __init__(self, service, seeded):
        self.service = service
        self.id = seeded["dialogue_id"]
        self.items = seeded["item_ids"]
        self.who = _People(seeded["principals"], self._secretariat)
        self.tokens = _People(seeded["tokens"], self._secretariat)
        self.pid = {f"participant{i}": pid for i, pid in enumerate(seeded["participant_ids"])}
        self._texts = itertools.count(1)
        self._entry = None
        for key, name, category in (("participant2", "Carmen Ortiz", "ngo_ecosoc"),
                                    ("participant3", "Dara Singh", "private_sector"),
                                    ("participant4", "Eli Navon", "state_party")):
            self.register(key, name, category)
        revoked = self.register("revoked", "Rene Revoked", "ngo")
        run(service, "access.revoke", {"dialogue_id": self.id, "credential_id": revoked})
        elsewhere = run(service, "dialogue.create", {"topic": "firearms", "local_start": "2026-06-04T10:00:00"})
        self.other_dialogue = elsewhere["dialogue_id"]
        self.other_item = run(service, "agenda.add_item", {"dialogue_id": self.other_dialogue,
                                                           "item_type": "generic"})["item_id"]
        outsider = run(service, "participant.register", {"dialogue_id": self.other_dialogue, "name": "Otto Outside"})
        self.who["outsider"] = Principal(credential_id=outsider["credential_id"])
        self.who["anonymous"] = Principal()
        self.who["participant"] = self.who["participant0"]

    def _secretariat(self) -> None:
        """The secretariat: an admin account, as after signing in (made when
        first needed: hashing its password takes half a second)."""
        username = f"secretariat{self.id}"
        user_id = run(self.service, "user.create", {"username": username, "password": "a long enough password",
                                                    "is_admin": True})["user_id"]
        self.who["secretariat"] = Principal(user_id=user_id, session_epoch=0)
        self.tokens["secretariat"] = run(self.service, "user.issue_sign_in_link", {"username": username})["token"]

    def register(self, key: str, name: str, category: str, channel: str = "online") -> int:
        result = run(self.service, "participant.register", {
            "dialogue_id": self.id, "name": name, "channel": channel,
            "organization": {"name": f"{name} Organization", "category": category}})
        self.who[key] = Principal(credential_id=result["credential_id"])
        self.tokens[key] = result["token"]
        self.pid[key] = result["participant_id"]
        return result["credential_id"]

    # -- commands ------------------------------------------------------------------------
    def dispatch(self, who: str, name: str, /, key: str | None = None, **payload):
        return self.service.dispatch(self.who[who], name, {"dialogue_id": self.id, **payload}, key)

    def do(self, who: str, name: str, /, key: str | None = None, **payload) -> dict:
        return self.dispatch(who, name, key, **payload).result

    def refused(self, who: str, name: str, code: str, /, key: str | None = None, **payload):
        return refused(self.service, name, {"dialogue_id": self.id, **payload}, self.who[who], code, key)

    def text(self) -> str:
        return f"Input number {next(self._texts)}: victims need protection, not prosecution."

    def submit(self, who: str = "participant0", text: str | None = None, **payload) -> int:
        return self.do(who, "inputs.submit", text=text or self.text(), **payload)["input_id"]

    def start(self) -> None:
        self.do("moderator", "agenda.advance")

    def theme(self, name: str | None = None) -> int:
        return self.do("rapporteur", "inputs.create_theme", name=name or self.text()[:40])["theme_id"]

    def spoken_entry(self) -> int:
        """A speaker entry that has had the floor (participant3 asked, the chair called)."""
        if self._entry is None:
            self._entry = self.do("participant3", "queue.request_floor")["entry_id"]
            self.do("moderator", "queue.call_next")
        return self._entry

    # -- reading -------------------------------------------------------------------------
    def row(self, input_id: int) -> SimpleNamespace:
        with self.service.db.session() as s:
            inp = s.get(Input, input_id)
            return SimpleNamespace(**{c.name: getattr(inp, c.name) for c in Input.__table__.columns})

    def count(self, model=Input, *where) -> int:
        with self.service.db.session() as s:
            return s.scalar(select(func.count()).select_from(model).where(*where))

    def revisions(self, input_id: int) -> list[tuple[str, str]]:
        with self.service.db.session() as s:
            return [(r.text, r.replaced_by) for r in s.scalars(
                select(InputRevision).where(InputRevision.input_id == input_id).order_by(InputRevision.id))]

    def themes_of(self, input_id: int) -> set[int]:
        with self.service.db.session() as s:
            return set(s.scalars(select(InputTheme.theme_id).where(InputTheme.input_id == input_id)))

    def endorsers(self, input_id: int) -> list[int]:
        with self.service.db.session() as s:
            return sorted(s.scalars(select(Endorsement.participant_id).where(Endorsement.input_id == input_id)))

    def page(self, who: str, **query) -> dict:
        return self.service.list_inputs(self.who[who], self.id, query)

    def ids(self, who: str, **query) -> list[int]:
        return [item["id"] for item in self.page(who, per_page=200, **query)["items"]]

    def view(self, who: str, input_id: int, **query) -> dict | None:
        return next((i for i in self.page(who, per_page=200, **query)["items"] if i["id"] == input_id), None)

    def mine(self, who: str, input_id: int) -> dict:
        """The input as its author sees it in the snapshot (``my_inputs``)."""
        sections = self.service.snapshot(self.who[who], self.id)["sections"]
        return next(i for i in sections["my_inputs"] if i["id"] == input_id)

    def section(self, who: str, name: str):
        return self.service.sections(self.who[who], self.id, [name])["sections"].get(name)

    def dialogue(self) -> SimpleNamespace:
        with self.service.db.session() as s:
            d = s.get(Dialogue, self.id)
            return SimpleNamespace(**{c.name: getattr(d, c.name) for c in Dialogue.__table__.columns})


@pytest.fixture
def idle(service, dialogue):
    """A dialogue whose live session has not begun."""
    return World(service, dialogue)


@pytest.fixture
def world(idle):
    """A dialogue whose first agenda item is running: inputs are accepted."""
    idle.start()
    return idle


def local(moment: dt.datetime) -> str:
    """A naive local (Vienna) date and time, as the secretariat types it."""
    return moment.astimezone(VIENNA).replace(tzinfo=None, microsecond=0).isoformat()


def open_window(w: World, before: float = 3600, after: float = 3600) -> None:
    now = dt.datetime.now(UTC)
    w.do("secretariat", "inputs.configure", window_opens_local=local(now - dt.timedelta(seconds=before)),
         window_closes_local=local(now + dt.timedelta(seconds=after)))


# -- every command and who may run it -------------------------------------------------------------
PARTICIPANT = {"participant"}
CHAIR = {"secretariat", "moderator"}
STAFF = {"secretariat", "moderator", "rapporteur"}
WRITERS = {"secretariat", "rapporteur"}
ROLES = ("participant", "moderator", "rapporteur", "secretariat", "display", "anonymous", "revoked", "outsider")
DENIED = {"anonymous": "unauthenticated", "revoked": "link_revoked"}


def _own(w: World) -> dict:
    return {"input_id": w.submit("participant0")}


def _others(w: World) -> dict:
    return {"input_id": w.submit("participant1")}


MATRIX = {
    "inputs.submit": (PARTICIPANT, lambda w: {"text": w.text()}),
    "inputs.edit": (PARTICIPANT, lambda w: {**_own(w), "text": w.text()}),
    "inputs.withdraw": (PARTICIPANT, _own),
    "inputs.endorse": (PARTICIPANT, _others),
    "inputs.moderate": (CHAIR, lambda w: {**_others(w), "action": "hide", "reason": "Off topic"}),
    "inputs.pin": (STAFF, _others),
    "inputs.mark_addressed": (STAFF, _others),
    "inputs.create_theme": (WRITERS, lambda w: {"name": w.text()[:40]}),
    "inputs.update_theme": (WRITERS, lambda w: {"theme_id": w.theme(), "name": w.text()[:40]}),
    "inputs.tag": (WRITERS, lambda w: {**_others(w), "theme_ids": [w.theme()]}),
    "inputs.merge": (WRITERS, lambda w: {"target_id": w.submit("participant1"),
                                         "source_ids": [w.submit("participant2")]}),
    "inputs.correct": (WRITERS, lambda w: {**_others(w), "text": w.text()}),
    "inputs.record_oral": (WRITERS, lambda w: {"speaker_entry_id": w.spoken_entry(), "text": w.text()}),
    "inputs.configure": ({"secretariat"}, lambda w: {"moderation_mode": "post", "max_chars": 1500}),
}


def test_the_matrix_covers_every_input_command_and_matches_the_registry():
    load_features()
    assert set(MATRIX) == {name for name in REGISTRY if name.startswith("inputs.")}
    for name, (allowed, _) in MATRIX.items():
        assert REGISTRY[name].roles == {Role(r) for r in allowed}, name


def test_the_issue_operation_ids_exist():
    load_features()
    ids = {spec.operation_id for spec in REGISTRY.values()}
    assert {"submitInput", "editInput", "withdrawInput", "endorseInput", "moderateInput", "tagInput",
            "mergeInputs", "createTheme"} <= ids


def test_who_may_run_each_input_command(service, world):
    """Every command, each role in turn, on a fresh target: allowed roles
    succeed; the others are refused with the right code and leave the
    database as it was. (One test: a dialogue per command would take long.)"""
    for name, (allowed, build) in sorted(MATRIX.items()):
        for role in ROLES:
            payload = {"dialogue_id": world.id, **build(world)}
            if role in allowed:
                outcome = service.dispatch(world.who[role], name, payload)
                assert outcome.version is not None and not outcome.replayed, (name, role)
            else:
                try:
                    refused(service, name, payload, world.who[role], DENIED.get(role, "forbidden"))
                except AssertionError as exc:
                    raise AssertionError(f"{name} as {role}: {exc}") from None


# -- attaching ------------------------------------------------------------------------------------
def test_inputs_attach_to_the_running_item_the_dialogue_or_a_chosen_item(world):
    first, second, third = world.items[:3]
    current = world.submit()
    whole = world.submit(attach_to="dialogue")
    chosen = world.submit(attach_to=third)
    assert world.row(current).agenda_item_id == first
    assert world.row(whole).agenda_item_id is None
    assert world.row(chosen).agenda_item_id == third
    world.do("moderator", "agenda.advance")
    world.do("moderator", "agenda.pause_item")
    paused = world.submit()  # a paused item is still the current one
    assert world.row(paused).agenda_item_id == second
    world.refused("participant0", "inputs.submit", "not_found", text=world.text(), attach_to=world.other_item)
    world.refused("participant0", "inputs.submit", "not_found", text=world.text(), attach_to=987654)
    world.refused("participant0", "inputs.submit", "invalid_payload", text=world.text(), attach_to="elsewhere")
    assert world.ids("moderator", item=str(first)) == [current]
    assert world.ids("moderator", item="dialogue") == [whole]
    assert world.ids("moderator", item=str(second)) == [paused]


def test_with_no_running_item_current_means_the_whole_dialogue(idle):
    open_window(idle)
    assert idle.row(idle.submit()).agenda_item_id is None


# -- what each audience sees ------------------------------------------------------------------------
def test_attribution_in_lists_and_snapshots(world):
    anon = world.submit("participant0", text="Anonymous: shelters need funding.", named=False)
    named = world.submit("participant1", text="Named: train labour inspectors.")
    amina, jonas = world.pid["participant0"], world.pid["participant1"]

    for who in ("participant1", "participant2", "display"):
        a, n = world.view(who, anon), world.view(who, named)
        assert (a["author"], a["organization"], a["named"]) == ("A participant", "", False)
        assert not {"category", "category_label", "participant_id", "channel", "flagged"} & set(a)
        assert (n["author"], n["organization"], n["category"]) == ("Jonas Lindqvist",
                                                                     "Jonas Lindqvist Organization", "academia")
        assert "participant_id" not in n
    for who in ("moderator", "rapporteur"):
        a, n = world.view(who, anon), world.view(who, named)
        assert (a["author"], a["organization"]) == ("A participant", "")
        assert (a["category"], a["category_label"]) == ("ngo", "NGO without ECOSOC status")
        assert a["participant_id"] is None  # the participants list would name the author
        assert a["channel"] == "room"
        assert (n["author"], n["participant_id"]) == ("Jonas Lindqvist", jonas)
    a = world.view("secretariat", anon)
    assert (a["author"], a["organization"], a["category"], a["participant_id"]) == (
        "Amina Okafor", "Amina Okafor Organization", "ngo", amina)
    mine = world.mine("participant0", anon)
    assert (mine["author"], mine["organization"], mine["named"]) == ("Amina Okafor", "Amina Okafor Organization",
                                                                     False)
    # The record keeps everything, whatever the choice.
    row = world.row(anon)
    assert (row.author_name, row.organization, row.category, row.named) == (
        "Amina Okafor", "Amina Okafor Organization", "ngo", False)
    # Filtering by category does not reveal anonymous authors to the public.
    assert anon not in world.ids("participant1", category="ngo")
    assert anon in world.ids("moderator", category="ngo")
    # The display shows a pinned anonymous input anonymously.
    world.do("moderator", "inputs.pin", input_id=anon)
    pinned = world.section("display", "pinned")
    assert (pinned["id"], pinned["author"], pinned["organization"]) == (anon, "A participant", "")
    assert "category" not in pinned


def test_attribution_in_the_change_messages(world):
    outcome = world.dispatch("participant0", "inputs.submit", text="Anonymous in a change", named=False)
    changes, input_id = outcome.changes, outcome.result["input_id"]
    assert set(changes.roles) == {Role.SECRETARIAT, Role.MODERATOR, Role.RAPPORTEUR}
    for role in (Role.MODERATOR, Role.RAPPORTEUR):
        [record] = changes.roles[role]["records"]["inputs"]
        assert (record["id"], record["author"], record["organization"], record["category"],
                record["participant_id"]) == (input_id, "A participant", "", "ngo", None)
    [record] = changes.roles[Role.SECRETARIAT]["records"]["inputs"]
    assert (record["author"], record["organization"]) == ("Amina Okafor", "Amina Okafor Organization")
    [mine] = changes.private[world.pid["participant0"]]["records"]["my_inputs"]
    assert (mine["id"], mine["author"], mine["status"], mine["editable"]) == (input_id, "Amina Okafor",
                                                                              "published", True)
    assert set(changes.private) == {world.pid["participant0"]}
    assert changes.hint == {"dialogue_id": world.id, "version": outcome.version, "published": 1}


def test_text_is_stored_and_sent_as_given_never_as_html(world, app):
    text = '<script>alert("x")</script> & <b>bold</b>\nsecond line'
    input_id = world.submit(text=text)
    assert world.row(input_id).text == text
    client = app.test_client()
    response = client.get(f"/api/v1/dialogues/{world.id}/inputs",
                          headers={"Authorization": f"Bearer {world.tokens['api_moderator']}"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json()["items"][0]["text"] == text


def test_the_json_api_lists_and_moderates_inputs(world, app):
    input_id = world.submit()
    client = app.test_client()
    auth = {"Authorization": f"Bearer {world.tokens['api_moderator']}"}
    answer = client.post(f"/api/v1/dialogues/{world.id}/inputs/moderate", headers={**auth, "Idempotency-Key":
                         "api-hide-0001"}, json={"input_id": input_id, "action": "hide", "reason": "Duplicate"})
    assert answer.status_code == 200 and answer.get_json()["result"]["status"] == "hidden"
    listed = client.get(f"/api/v1/dialogues/{world.id}/inputs?status=hidden&per_page=5", headers=auth).get_json()
    assert (listed["total"], listed["items"][0]["id"], listed["per_page"]) == (1, input_id, 5)
    assert client.get(f"/api/v1/dialogues/{world.id}/inputs?sort=loudest", headers=auth).status_code == 422
    operations = {op.get("operationId") for path in client.get("/api/v1/openapi.json").get_json()["paths"].values()
                  for op in path.values() if isinstance(op, dict)}
    assert {"submitInput", "editInput", "withdrawInput", "endorseInput", "moderateInput", "tagInput",
            "mergeInputs", "listInputs", "createTheme"} <= operations


# -- edit and withdraw ------------------------------------------------------------------------------
def test_the_author_edits_until_a_moderator_acts_and_every_wording_is_kept(world):
    input_id = world.submit(text="First wording")
    world.do("participant0", "inputs.edit", input_id=input_id, text="Second wording", kind="question",
             named=False)
    row = world.row(input_id)
    assert (row.text, row.kind, row.named, row.status) == ("Second wording", "question", False, "published")
    world.do("participant0", "inputs.edit", input_id=input_id, text="Second wording")  # no change, no revision
    world.do("participant0", "inputs.edit", input_id=input_id, text="Third wording")
    assert world.revisions(input_id) == [("First wording", "author"), ("Second wording", "author")]
    world.refused("participant1", "inputs.edit", "forbidden", input_id=input_id, text="Not mine")
    world.refused("participant1", "inputs.withdraw", "forbidden", input_id=input_id)

    world.do("moderator", "inputs.moderate", input_id=input_id, action="approve")
    error = world.refused("participant0", "inputs.edit", "conflict", input_id=input_id, text="Too late")
    assert "moderator" in error.message
    world.refused("participant0", "inputs.withdraw", "conflict", input_id=input_id)
    assert world.row(input_id).text == "Third wording"
    assert len(world.revisions(input_id)) == 2  # the history stays
    assert world.mine("participant0", input_id)["editable"] is False

    hidden = world.submit()
    world.do("moderator", "inputs.moderate", input_id=hidden, action="hide", reason="Off topic")
    world.refused("participant0", "inputs.edit", "conflict", input_id=hidden, text="Let me fix it")
    world.refused("participant0", "inputs.withdraw", "conflict", input_id=hidden)


def test_withdrawing(world):
    input_id = world.submit(text="I will take this back")
    world.do("participant0", "inputs.withdraw", input_id=input_id)
    assert world.row(input_id).status == "withdrawn"
    assert input_id not in world.ids("participant1")
    assert input_id not in world.ids("moderator")  # staff lists leave withdrawn inputs out by default
    assert world.ids("moderator", status="withdrawn") == [input_id]
    assert world.mine("participant0", input_id)["status"] == "withdrawn"
    world.refused("participant0", "inputs.withdraw", "conflict", input_id=input_id)
    world.refused("participant0", "inputs.edit", "conflict", input_id=input_id, text="Back again")
    world.refused("moderator", "inputs.moderate", "conflict", input_id=input_id, action="approve")
    world.submit(text="I will take this back")  # withdrawn text is no duplicate


def test_a_pending_input_can_be_edited_under_pre_moderation(world):
    world.do("secretariat", "inputs.configure", moderation_mode="pre")
    input_id = world.submit(text="Pending wording")
    world.do("participant0", "inputs.edit", input_id=input_id, text="Better pending wording")
    assert (world.row(input_id).status, world.row(input_id).text) == ("pending", "Better pending wording")


def test_edits_pass_the_filters_and_the_window(world):
    input_id = world.submit()
    world.refused("participant0", "inputs.edit", "invalid_payload", input_id=input_id, text="x" * 2001)
    world.refused("participant0", "inputs.edit", "invalid_payload", input_id=input_id, text="bell\x07")
    world.refused("participant0", "inputs.edit", "conflict", input_id=input_id, text="Long read", kind="statement")


def test_unknown_inputs_and_inputs_of_other_dialogues_are_not_found(world, service):
    world.refused("participant0", "inputs.edit", "not_found", input_id=999_999, text="Nothing here")
    world.refused("moderator", "inputs.moderate", "not_found", input_id=999_999, action="approve")
    open_other = run(service, "inputs.configure", {"dialogue_id": world.other_dialogue, "moderation_mode": "pre"})
    assert open_other
    mine = world.submit()
    refused(service, "inputs.moderate", {"dialogue_id": world.other_dialogue, "input_id": mine,
                                         "action": "approve"}, SYSTEM, "not_found")


# -- endorsements -------------------------------------------------------------------------------------
def test_endorse_once_take_back_never_your_own(world):
    input_id = world.submit("participant0")
    assert world.do("participant1", "inputs.endorse", input_id=input_id) == {
        "input_id": input_id, "endorsements": 1, "endorsed": True}
    assert world.do("participant1", "inputs.endorse", input_id=input_id)["endorsements"] == 1  # once each
    outcome = world.dispatch("participant2", "inputs.endorse", input_id=input_id)
    assert outcome.result["endorsements"] == 2
    # Counts are live: staff get the record, the public a hint.
    assert outcome.changes.roles[Role.MODERATOR]["records"]["inputs"][0]["endorsements"] == 2
    assert outcome.changes.hint is not None and Role.PARTICIPANT not in outcome.changes.roles
    assert world.view("participant3", input_id)["endorsements"] == 2
    assert world.do("participant1", "inputs.endorse", input_id=input_id, endorse=False)["endorsements"] == 1
    assert world.do("participant1", "inputs.endorse", input_id=input_id, endorse=False)["endorsements"] == 1
    world.refused("participant0", "inputs.endorse", "forbidden", input_id=input_id)
    assert world.endorsers(input_id) == [world.pid["participant2"]]
    assert world.row(input_id).endorsement_count == 1


def test_a_participants_list_says_what_they_endorsed_on_any_device(world):
    first, second = world.submit("participant0"), world.submit("participant0")
    world.do("participant1", "inputs.endorse", input_id=second)
    assert world.view("participant1", first)["endorsed_by_me"] is False
    assert world.view("participant1", second)["endorsed_by_me"] is True
    assert world.view("participant2", second)["endorsed_by_me"] is False
    world.do("participant1", "inputs.endorse", input_id=second, endorse=False)
    assert world.view("participant1", second)["endorsed_by_me"] is False
    # Staff lists are about the inputs, not about the reader.
    assert "endorsed_by_me" not in world.view("moderator", second)


def test_only_published_inputs_can_be_endorsed(world):
    world.do("secretariat", "inputs.configure", moderation_mode="pre")
    pending = world.submit()
    world.refused("participant1", "inputs.endorse", "conflict", input_id=pending)
    world.do("moderator", "inputs.moderate", input_id=pending, action="hide", reason="Spam")
    world.refused("participant1", "inputs.endorse", "conflict", input_id=pending)


# -- the written-input window -------------------------------------------------------------------------
def test_outside_the_session_and_the_window_nothing_is_accepted(idle):
    error = idle.refused("participant0", "inputs.submit", "conflict", text="Too early")
    assert "not being accepted" in error.message
    idle.refused("participant0", "inputs.submit", "conflict", text="Too early", kind="statement")
    assert idle.section("participant0", "input_settings")["accepting"] is False
    idle.start()
    for _ in idle.items:
        idle.do("moderator", "agenda.advance")  # through the agenda, past its end
    assert idle.section("participant0", "input_settings")["live"] is False
    idle.refused("participant0", "inputs.submit", "conflict", text="Too late")
    assert idle.count() == 0


def test_the_window_is_set_in_the_dialogues_local_time(idle):
    idle.do("secretariat", "inputs.configure", window_opens_local="2026-06-01T09:00:00",
            window_closes_local="2026-06-05T18:30")
    d = idle.dialogue()
    assert d.input_window_opens_at == dt.datetime(2026, 6, 1, 7, 0, tzinfo=UTC)  # CEST, UTC+2
    assert d.input_window_closes_at == dt.datetime(2026, 6, 5, 16, 30, tzinfo=UTC)
    settings = idle.section("participant0", "input_settings")
    assert (settings["window_opens_local"], settings["window_closes_local"], settings["timezone"]) == (
        "2026-06-01T09:00+02:00", "2026-06-05T18:30+02:00", "Europe/Vienna")
    assert settings["window_opens_at"] == int(dt.datetime(2026, 6, 1, 7, 0, tzinfo=UTC).timestamp() * 1000)
    idle.do("secretariat", "inputs.configure", window_opens_local="2026-01-15T09:00:00",
            window_closes_local="2026-01-16T09:00:00")
    assert idle.dialogue().input_window_opens_at == dt.datetime(2026, 1, 15, 8, 0, tzinfo=UTC)  # CET, UTC+1
    # An explicit offset names the instant itself.
    idle.do("secretariat", "inputs.configure", window_opens_local="2026-06-01T09:00:00+00:00",
            window_closes_local="2026-06-01T10:00:00Z")
    assert idle.dialogue().input_window_opens_at == dt.datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    # The deadline must come after the opening, and must be given.
    idle.refused("secretariat", "inputs.configure", "invalid_payload", window_opens_local="2026-06-05T10:00",
                 window_closes_local="2026-06-05T09:59")
    idle.refused("secretariat", "inputs.configure", "invalid_payload", window_opens_local="2026-06-05T10:00",
                 window_closes_local="2026-06-05T10:00")
    # Either end can be moved alone; the other stays.
    idle.do("secretariat", "inputs.configure", window_opens_local="2026-06-01T08:00")
    d = idle.dialogue()
    assert (d.input_window_opens_at, d.input_window_closes_at) == (dt.datetime(2026, 6, 1, 6, 0, tzinfo=UTC),
                                                                    dt.datetime(2026, 6, 1, 10, 0, tzinfo=UTC))
    idle.do("secretariat", "inputs.configure", window_closes_local="2026-06-02T12:00")
    assert idle.dialogue().input_window_closes_at == dt.datetime(2026, 6, 2, 10, 0, tzinfo=UTC)
    idle.refused("secretariat", "inputs.configure", "invalid_payload", window_opens_local="2026-06-02T12:00")
    idle.do("secretariat", "inputs.configure", close_window=True)
    d = idle.dialogue()
    assert d.input_window_opens_at is None and d.input_window_closes_at is None
    # Without a window, a deadline must be given.
    idle.refused("secretariat", "inputs.configure", "invalid_payload", window_opens_local="2026-06-05T10:00")


def test_the_window_follows_the_dialogues_own_time_zone(service):
    dialogue_id = run(service, "dialogue.create", {"topic": "firearms", "local_start": "2026-07-01T10:00:00",
                                                   "timezone": "America/New_York"})["dialogue_id"]
    run(service, "inputs.configure", {"dialogue_id": dialogue_id, "window_opens_local": "2026-07-01T09:00",
                                      "window_closes_local": "2026-07-02T17:00"})
    with service.db.session() as s:
        d = s.get(Dialogue, dialogue_id)
        assert d.input_window_opens_at == dt.datetime(2026, 7, 1, 13, 0, tzinfo=UTC)  # EDT, UTC-4
        assert d.input_window_closes_at == dt.datetime(2026, 7, 2, 21, 0, tzinfo=UTC)


def test_inside_the_window_inputs_and_long_statements_are_accepted(idle):
    open_window(idle)
    settings = idle.section("participant0", "input_settings")
    assert (settings["live"], settings["written_window_open"], settings["accepting"]) == (False, True, True)
    comment = idle.submit(text="Written before the session")
    statement_text = " ".join(f"word{i}" for i in range(1500))
    assert len(statement_text) > 2000  # longer than any comment may be
    statement = idle.submit(text=statement_text, kind="statement")
    assert idle.row(statement).kind == "statement" and idle.row(comment).kind == "comment"
    error = idle.refused("participant1", "inputs.submit", "invalid_payload",
                         text=" ".join(f"word{i}" for i in range(1501)), kind="statement")
    assert "1500 words" in error.message and "1501" in error.message
    error = idle.refused("participant1", "inputs.submit", "invalid_payload", text="c" * 2001)
    assert "2000 characters" in error.message


def test_statements_only_while_the_window_is_open(world):
    error = world.refused("participant0", "inputs.submit", "conflict", text="A long statement", kind="statement")
    assert "written-input window" in error.message
    world.submit(text="A comment is fine during the session")


def test_after_the_deadline_and_before_the_opening_nothing_is_accepted(idle):
    now = dt.datetime.now(UTC)
    idle.do("secretariat", "inputs.configure", window_opens_local=local(now - dt.timedelta(hours=3)),
            window_closes_local=local(now - dt.timedelta(minutes=1)))
    error = idle.refused("participant0", "inputs.submit", "conflict", text="Just too late")
    assert "Europe/Vienna" in error.message  # the message names the window
    idle.refused("participant0", "inputs.submit", "conflict", text="Just too late", kind="statement")
    idle.do("secretariat", "inputs.configure", window_opens_local=local(now + dt.timedelta(minutes=5)),
            window_closes_local=local(now + dt.timedelta(hours=3)))
    idle.refused("participant0", "inputs.submit", "conflict", text="Too early")
    assert idle.count() == 0


# -- moderation modes --------------------------------------------------------------------------------
def test_pre_moderation_waits_for_approval(world):
    world.do("secretariat", "inputs.configure", moderation_mode="pre")
    outcome = world.dispatch("participant0", "inputs.submit", text="Please review me")
    input_id = outcome.result["input_id"]
    assert outcome.result["status"] == "pending"
    assert input_id not in world.ids("participant1") and input_id not in world.ids("display")
    assert world.view("moderator", input_id)["status"] == "pending"
    assert world.view("rapporteur", input_id)["status"] == "pending"
    assert world.mine("participant0", input_id)["status"] == "pending"
    assert outcome.changes.roles[Role.MODERATOR]["records"]["inputs"][0]["status"] == "pending"
    assert world.section("participant1", "inputs_overview") == {"published": 0}
    assert world.section("moderator", "inputs_overview")["by_status"] == {"pending": 1}

    error = world.refused("moderator", "inputs.moderate", "invalid_payload", input_id=input_id, action="hide")
    assert "why" in error.message
    outcome = world.dispatch("moderator", "inputs.moderate", input_id=input_id, action="approve")
    assert outcome.result["status"] == "published" and input_id in world.ids("participant1")
    assert outcome.changes.private[world.pid["participant0"]]["records"]["my_inputs"][0]["status"] == "published"

    other = world.submit(text="Rude words")
    outcome = world.dispatch("moderator", "inputs.moderate", input_id=other, action="hide", reason="Not respectful")
    [mine] = outcome.changes.private[world.pid["participant0"]]["records"]["my_inputs"]
    assert (mine["status"], mine["moderation_reason"]) == ("hidden", "Not respectful")
    assert other not in world.ids("participant1")
    assert world.view("moderator", other, status="hidden")["moderation_reason"] == "Not respectful"


def test_post_moderation_publishes_at_once_and_hides_with_a_reason(world):
    input_id = world.submit(text="Visible at once")
    assert world.row(input_id).status == "published" and input_id in world.ids("display")
    world.refused("moderator", "inputs.moderate", "invalid_payload", input_id=input_id, action="hide", reason="")
    world.do("secretariat", "inputs.moderate", input_id=input_id, action="hide", reason="Personal data")
    assert input_id not in world.ids("display")
    assert world.ids("moderator", status="hidden") == [input_id]
    world.do("moderator", "inputs.moderate", input_id=input_id, action="approve")  # a second look
    assert world.row(input_id).status == "published" and input_id in world.ids("display")


# -- filters through the commands ----------------------------------------------------------------------
def test_built_in_filters_refuse_bad_text_and_store_nothing(world):
    for text in ("   ", "\n \n\t"):
        world.refused("participant0", "inputs.submit", "invalid_payload", text=text)
    # Control characters no database or export can hold are refused with the
    # payload (moderation/core/storable.py); direction overrides by the filter.
    for text in ("ring the bell\x07", "null\x00byte", "escape\x1b[31m"):
        error = world.refused("participant0", "inputs.submit", "invalid_payload", text=text)
        assert error.details[0]["field"].endswith("text") and "control characters" in error.details[0]["message"]
    for text in ("hidden \u202etxet", "isolate\u2066x"):
        error = world.refused("participant0", "inputs.submit", "invalid_payload", text=text)
        assert error.details[0]["filter"] == "length_and_characters"
    kept = world.submit(text="Tabs\tand\r\nline breaks  \r\nare fine")
    assert world.row(kept).text == "Tabs\tand\nline breaks\nare fine"
    error = world.refused("participant0", "inputs.submit", "invalid_payload", text="x" * 2001)
    assert "2000" in error.message
    world.submit(text="y" * 2000)
    world.do("secretariat", "inputs.configure", max_chars=500)
    assert world.section("participant0", "input_settings")["max_chars"] == 500
    world.refused("participant0", "inputs.submit", "invalid_payload", text="z" * 501)
    world.submit(text="z" * 500)


def test_an_exact_duplicate_from_the_same_participant_is_refused(world):
    first = world.submit("participant0", text="Protect  victims first.")
    for again in ("protect victims FIRST.", "Protect victims first.\n", " Protect\nvictims   first. "):
        error = world.refused("participant0", "inputs.submit", "conflict", text=again)
        assert error.message == "You have already submitted this text."
        assert error.details[0]["filter"] == "exact_duplicate"
    world.submit("participant1", text="Protect victims first.")  # someone else may say it too
    other = world.submit("participant0", text="Another point")
    world.refused("participant0", "inputs.edit", "conflict", input_id=other, text="PROTECT victims first.")
    world.do("participant0", "inputs.edit", input_id=first, text="Protect victims FIRST.")  # itself is fine
    world.do("participant0", "inputs.withdraw", input_id=first)
    world.submit("participant0", text="Protect victims first.")


def test_a_rapporteurs_note_of_an_oral_intervention_is_no_duplicate_for_the_speaker(world):
    entry = world.spoken_entry()  # participant3 spoke
    world.do("rapporteur", "inputs.record_oral", speaker_entry_id=entry, text="Fund shelters in every region.")
    world.submit("participant3", text="Fund shelters in every region.")


class Gatekeeper:
    """A plugin filter: holds texts with "link", flags texts with "maybe",
    refuses texts with "forbidden word" with its own code."""

    def __init__(self):
        self.drafts = []

    @hookimpl
    def input_filters(self):
        def check(draft, session):
            self.drafts.append(draft)
            if "link" in draft.text:
                return FilterVerdict("hold", "Contains a link")
            if "maybe" in draft.text:
                return FilterVerdict("flag", "Check the wording")
            if "forbidden word" in draft.text:
                return FilterVerdict("refuse", "That word is not allowed here.", code="conflict")
            return FilterVerdict("accept")
        return [InputFilter("gatekeeper", "Gatekeeper", check)]


@pytest.fixture
def gated(tmp_path, database_url):
    gate = Gatekeeper()
    application = make_app(tmp_path / "gated", database_url, PLUGIN_OBJECTS=[gate], **NO_LIMIT)
    w = World(application.extensions["moderation"], seed_dialogue(application.extensions["moderation"]))
    w.start()
    w.gate = gate
    yield w
    application.extensions["db"].dispose()


def test_a_plugin_filter_holds_flags_or_refuses(gated):
    held = gated.submit(text="See my link please")
    row = gated.row(held)
    assert (row.status, row.flagged) == ("pending", "Contains a link")  # held although moderation is "post"
    assert held not in gated.ids("participant1")
    assert gated.view("moderator", held)["flagged"] == "Contains a link"
    flagged = gated.submit(text="maybe this is fine")
    row = gated.row(flagged)
    assert (row.status, row.flagged) == ("published", "Check the wording")
    assert "flagged" not in gated.view("participant1", flagged)
    error = gated.refused("participant0", "inputs.submit", "conflict", text="a forbidden word")
    assert error.details[0]["filter"] == "gatekeeper"
    gated.do("moderator", "inputs.moderate", input_id=held, action="approve")
    assert (gated.row(held).status, gated.row(held).flagged) == ("published", "")
    # An edit passes the plugin too; a held edit goes back to the moderators.
    plain = gated.submit(text="Plain words")
    gated.do("participant0", "inputs.edit", input_id=plain, text="Now with a link")
    assert (gated.row(plain).status, gated.row(plain).flagged) == ("pending", "Contains a link")
    draft = gated.gate.drafts[-1]
    assert (draft.input_id, draft.participant_id, draft.text, draft.kind, draft.max_chars) == (
        plain, gated.pid["participant0"], "Now with a link", "comment", 2000)


# -- themes and tags ---------------------------------------------------------------------------------
def test_themes_create_rename_delete(world):
    protection = world.do("rapporteur", "inputs.create_theme", name="Victim protection",
                          description="Shelters, support")["theme_id"]
    cooperation = world.theme("International cooperation")
    world.refused("rapporteur", "inputs.create_theme", "conflict", name="Victim protection")
    world.refused("rapporteur", "inputs.update_theme", "conflict", theme_id=cooperation, name="Victim protection")
    world.do("rapporteur", "inputs.update_theme", theme_id=cooperation, name="Cooperation across borders")
    world.refused("rapporteur", "inputs.update_theme", "not_found", theme_id=987654, name="Nothing")
    input_id = world.submit()
    world.do("rapporteur", "inputs.tag", input_id=input_id, theme_ids=[protection, cooperation])
    themes = {t["name"]: t for t in world.section("rapporteur", "themes")}
    assert themes["Victim protection"]["inputs"] == 1 and themes["Victim protection"]["description"] == \
        "Shelters, support"
    assert themes["Cooperation across borders"]["inputs"] == 1
    outcome = world.dispatch("rapporteur", "inputs.update_theme", theme_id=protection, delete=True)
    assert outcome.changes.roles[Role.MODERATOR]["records"]["inputs"][0]["theme_ids"] == [cooperation]
    assert world.themes_of(input_id) == {cooperation}
    assert [t["name"] for t in world.section("moderator", "themes")] == ["Cooperation across borders"]
    assert world.section("participant0", "themes") is None  # staff only


def test_tagging_replaces_the_themes_and_checks_them(world, service):
    a, b, c = world.theme("A"), world.theme("B"), world.theme("C")
    input_id = world.submit()
    assert world.do("rapporteur", "inputs.tag", input_id=input_id, theme_ids=[b, a, b])["theme_ids"] == [a, b]
    assert world.view("moderator", input_id)["theme_ids"] == [a, b]
    world.do("rapporteur", "inputs.tag", input_id=input_id, theme_ids=[c])
    assert world.themes_of(input_id) == {c}
    foreign = run(service, "inputs.create_theme", {"dialogue_id": world.other_dialogue, "name": "Elsewhere"})
    world.refused("rapporteur", "inputs.tag", "not_found", input_id=input_id, theme_ids=[foreign["theme_id"]])
    world.do("rapporteur", "inputs.tag", input_id=input_id, theme_ids=[])
    assert world.themes_of(input_id) == set()


# -- merging ----------------------------------------------------------------------------------------------
def test_merge_keeps_the_originals_and_combines_endorsements_and_themes(world):
    t1, t2, t3 = world.theme("One"), world.theme("Two"), world.theme("Three")
    target = world.submit("participant0", text="Fund shelters")
    b = world.submit("participant1", text="Shelters need money")
    c = world.submit("participant2", text="More money for shelters")
    world.do("rapporteur", "inputs.tag", input_id=target, theme_ids=[t1])
    world.do("rapporteur", "inputs.tag", input_id=b, theme_ids=[t2])
    world.do("rapporteur", "inputs.tag", input_id=c, theme_ids=[t1, t3])
    world.do("participant3", "inputs.endorse", input_id=target)
    world.do("participant3", "inputs.endorse", input_id=b)      # counted once
    world.do("participant4", "inputs.endorse", input_id=b)
    world.do("participant0", "inputs.endorse", input_id=c)      # the target's own author
    world.do("participant1", "inputs.endorse", input_id=c)      # b's author, endorsing c
    outcome = world.dispatch("rapporteur", "inputs.merge", target_id=target, source_ids=[b, c, b])
    pid = world.pid
    expected = sorted([pid["participant3"], pid["participant4"], pid["participant1"], pid["participant2"]])
    assert outcome.result == {"input_id": target, "merged_ids": [b, c], "endorsements": 4}
    assert world.endorsers(target) == expected and world.row(target).endorsement_count == 4
    for source, text in ((b, "Shelters need money"), (c, "More money for shelters")):
        row = world.row(source)
        assert (row.status, row.merged_into_id, row.text) == ("merged", target, text)
    assert world.themes_of(target) == {t1, t2, t3}
    assert world.ids("participant3") == [target]
    assert sorted(world.ids("moderator", status="merged")) == [b, c]
    records = {r["id"]: r for r in outcome.changes.roles[Role.RAPPORTEUR]["records"]["inputs"]}
    assert records[b]["merged_into_id"] == target and records[target]["endorsements"] == 4
    [mine] = outcome.changes.private[pid["participant1"]]["records"]["my_inputs"]
    assert (mine["status"], mine["merged_into_id"]) == ("merged", target)
    # The combined count stays exact: one endorsement each.
    world.do("participant3", "inputs.endorse", input_id=target, endorse=False)
    assert world.do("participant3", "inputs.endorse", input_id=target)["endorsements"] == 4
    world.refused("participant0", "inputs.endorse", "forbidden", input_id=target)


def test_what_cannot_be_merged(world):
    a, b, c, d = (world.submit(f"participant{i}") for i in range(4))
    world.refused("rapporteur", "inputs.merge", "invalid_payload", target_id=a, source_ids=[a])
    world.refused("rapporteur", "inputs.merge", "invalid_payload", target_id=a, source_ids=[b, a])
    world.refused("rapporteur", "inputs.merge", "invalid_payload", target_id=a, source_ids=[])
    world.do("rapporteur", "inputs.merge", target_id=a, source_ids=[b])
    world.refused("rapporteur", "inputs.merge", "conflict", target_id=b, source_ids=[c])   # into a merged one
    world.refused("rapporteur", "inputs.merge", "conflict", target_id=c, source_ids=[b])   # merged again
    world.do("participant3", "inputs.withdraw", input_id=d)
    world.refused("rapporteur", "inputs.merge", "conflict", target_id=c, source_ids=[d])   # withdrawn
    world.refused("rapporteur", "inputs.merge", "conflict", target_id=d, source_ids=[c])
    world.refused("rapporteur", "inputs.merge", "not_found", target_id=c, source_ids=[987654])
    world.refused("participant2", "inputs.endorse", "conflict", input_id=b)  # merged inputs take no endorsements


# -- corrections, oral key points, addressed ---------------------------------------------------------------
def test_a_correction_keeps_the_authors_original(world):
    input_id = world.submit(text="Protecton of victms")
    outcome = world.dispatch("rapporteur", "inputs.correct", input_id=input_id, text="Protection of victims")
    world.do("secretariat", "inputs.correct", input_id=input_id, text="Protection of all victims")
    row = world.row(input_id)
    assert (row.text, row.original_text) == ("Protection of all victims", "Protecton of victms")
    assert world.revisions(input_id) == [("Protecton of victms", "rapporteur"),
                                         ("Protection of victims", "rapporteur")]
    assert outcome.changes.roles[Role.MODERATOR]["records"]["inputs"][0]["original_text"] == "Protecton of victms"
    public = world.view("participant1", input_id)
    assert public["corrected"] is True and "original_text" not in public
    world.refused("participant0", "inputs.edit", "conflict", input_id=input_id, text="My own words again")
    world.refused("rapporteur", "inputs.correct", "invalid_payload", input_id=input_id, text=" \n ")


def test_key_points_of_an_oral_intervention_are_linked_to_the_speaker(world):
    entry = world.spoken_entry()  # participant3, called by the chair
    waiting = world.do("participant1", "queue.request_floor")["entry_id"]
    error = world.refused("rapporteur", "inputs.record_oral", "conflict", speaker_entry_id=waiting,
                          text="Not yet said")
    assert "not had the floor" in error.message
    world.refused("rapporteur", "inputs.record_oral", "not_found", speaker_entry_id=987654, text="Nobody")
    input_id = world.do("rapporteur", "inputs.record_oral", speaker_entry_id=entry,
                        text="Key points: more labour inspections", kind="suggestion")["input_id"]
    row = world.row(input_id)
    with world.service.db.session() as s:
        speaker = s.get(SpeakerEntry, entry)
        assert (row.speaker_entry_id, row.participant_id, row.author_name, row.agenda_item_id) == (
            entry, world.pid["participant3"], speaker.name, speaker.agenda_item_id)
    assert (row.source, row.status, row.kind, row.named) == ("oral", "published", "suggestion", True)
    view = world.view("participant0", input_id)
    assert (view["source"], view["author"]) == ("oral", "Dara Singh")
    assert world.view("moderator", input_id)["speaker_entry_id"] == entry
    my = world.service.snapshot(world.who["participant3"], world.id)["sections"]["my_inputs"]
    assert input_id not in [i["id"] for i in my]  # the speaker did not write it
    world.refused("participant3", "inputs.withdraw", "conflict", input_id=input_id)


def test_mark_addressed_and_back(world):
    input_id = world.submit()
    assert world.do("moderator", "inputs.mark_addressed", input_id=input_id)["addressed"] is True
    assert world.view("participant1", input_id)["addressed"] is True
    world.do("rapporteur", "inputs.mark_addressed", input_id=input_id, addressed=False)
    assert world.row(input_id).addressed is False


# -- pinning to the display --------------------------------------------------------------------------------
def test_pin_only_published_and_unpin_when_it_goes(world):
    world.do("secretariat", "inputs.configure", moderation_mode="pre")
    pending = world.submit()
    world.refused("moderator", "inputs.pin", "conflict", input_id=pending)
    world.do("moderator", "inputs.moderate", input_id=pending, action="approve")
    outcome = world.dispatch("rapporteur", "inputs.pin", input_id=pending)
    assert outcome.changes.roles[Role.DISPLAY]["sections"]["pinned"]["id"] == pending
    assert world.section("display", "pinned")["id"] == pending
    # Changes to the pinned input reach the display.
    outcome = world.dispatch("participant1", "inputs.endorse", input_id=pending)
    assert outcome.changes.roles[Role.DISPLAY]["sections"]["pinned"]["endorsements"] == 1
    outcome = world.dispatch("rapporteur", "inputs.correct", input_id=pending, text="Corrected on the screen")
    assert outcome.changes.roles[Role.DISPLAY]["sections"]["pinned"]["text"] == "Corrected on the screen"
    outcome = world.dispatch("moderator", "inputs.moderate", input_id=pending, action="hide", reason="Not now")
    assert outcome.changes.roles[Role.DISPLAY]["sections"]["pinned"] is None
    assert world.dialogue().pinned_input_id is None

    world.do("secretariat", "inputs.configure", moderation_mode="post")
    own = world.submit()
    world.do("moderator", "inputs.pin", input_id=own)
    world.do("participant0", "inputs.withdraw", input_id=own)
    assert world.section("display", "pinned") is None and world.dialogue().pinned_input_id is None
    merged, into = world.submit(), world.submit("participant1")
    world.do("moderator", "inputs.pin", input_id=merged)
    world.do("rapporteur", "inputs.merge", target_id=into, source_ids=[merged])
    assert world.dialogue().pinned_input_id is None
    world.do("moderator", "inputs.pin", input_id=into)
    world.do("moderator", "inputs.pin", input_id=None)
    assert world.section("display", "pinned") is None


def test_an_edit_of_the_pinned_input_reaches_the_display(world):
    input_id = world.submit(text="Before")
    world.do("moderator", "inputs.pin", input_id=input_id)
    outcome = world.dispatch("participant0", "inputs.edit", input_id=input_id, text="After")
    assert outcome.changes.roles[Role.DISPLAY]["sections"]["pinned"]["text"] == "After"


# -- lists -----------------------------------------------------------------------------------------------
def test_list_filters_and_sorts(world):
    first, second = world.items[:2]
    t = world.theme("Labour")
    made = {
        "a": world.submit("participant0", kind="question"),                              # ngo, item 1
        "b": world.submit("participant1", kind="suggestion", attach_to="dialogue"),       # academia
        "c": world.submit("participant2", kind="suggestion", attach_to=second),          # ngo_ecosoc
        "d": world.submit("participant3", named=False),                                   # private_sector, anon
        "e": world.submit("participant4", kind="suggestion"),                             # state_party
    }
    world.do("rapporteur", "inputs.tag", input_id=made["c"], theme_ids=[t])
    world.do("rapporteur", "inputs.tag", input_id=made["d"], theme_ids=[t])
    world.do("moderator", "inputs.moderate", input_id=made["e"], action="hide", reason="Off topic")
    for endorser, target in (("participant1", "c"), ("participant2", "a"), ("participant3", "c"),
                             ("participant4", "c"), ("participant0", "d"), ("participant1", "d")):
        world.do(endorser, "inputs.endorse", input_id=made[target])
    m = made

    assert world.ids("moderator") == [m["e"], m["d"], m["c"], m["b"], m["a"]]   # newest first
    assert world.ids("moderator", order="asc") == [m["a"], m["b"], m["c"], m["d"], m["e"]]
    assert world.ids("participant0") == [m["d"], m["c"], m["b"], m["a"]]           # published only
    assert world.ids("participant0", status="hidden") == [m["d"], m["c"], m["b"], m["a"]]  # status: staff only
    assert world.ids("moderator", status="hidden") == [m["e"]]
    assert world.ids("moderator", item=str(first)) == [m["e"], m["d"], m["a"]]
    assert world.ids("moderator", item="dialogue") == [m["b"]]
    assert world.ids("moderator", kind="suggestion") == [m["e"], m["c"], m["b"]]
    assert world.ids("moderator", theme=t) == [m["d"], m["c"]]
    assert world.ids("moderator", category="private_sector") == [m["d"]]
    assert world.ids("participant0", category="private_sector") == []              # anonymous stays anonymous
    assert world.ids("participant0", category="academia") == [m["b"]]
    assert world.ids("moderator", min_endorsements=2) == [m["d"], m["c"]]
    assert world.ids("moderator", sort="endorsements") == [m["c"], m["d"], m["a"], m["e"], m["b"]]
    assert world.ids("moderator", sort="endorsements", order="asc") == [m["b"], m["e"], m["a"], m["d"], m["c"]]
    assert world.ids("moderator", kind="suggestion", sort="endorsements", min_endorsements=1) == [m["c"]]
    page = world.page("moderator", per_page=2, page=3)
    assert (page["total"], [i["id"] for i in page["items"]], page["page"]) == (5, [m["a"]], 3)
    assert world.page("moderator", per_page=2, page=9)["items"] == []
    for bad in ({"sort": "loudest"}, {"per_page": 0}, {"per_page": 201}, {"item": "x"}, {"status": "lost"},
                {"extra": 1}):
        with pytest.raises(Exception) as caught:
            world.page("moderator", **bad)
        assert getattr(caught.value, "code", None) == "invalid_payload", bad
    with pytest.raises(Exception) as caught:
        world.service.list_inputs(world.who["anonymous"], world.id, {})
    assert caught.value.code == "unauthenticated"


BULK = 4000


def test_a_page_stays_fast_with_thousands_of_inputs(world):
    """Rows inserted in bulk through the ORM (the commands would take
    minutes); totals computed here from the same rows."""
    kinds, categories = ("comment", "suggestion", "question"), ("ngo", "academia", "state_party", "igo")
    statuses = ("published",) * 7 + ("pending", "hidden", "withdrawn")
    items = [None, *world.items]
    start = dt.datetime(2026, 6, 3, 8, 0, tzinfo=UTC)
    rows = [{"dialogue_id": world.id, "agenda_item_id": items[i % len(items)],
             "participant_id": world.pid[f"participant{i % 5}"], "author_name": f"Person {i}",
             "organization": f"Org {i % 50}", "category": categories[i % 4], "channel": "online",
             "named": i % 3 != 0, "kind": kinds[i % 3], "source": "participant", "text": f"Bulk input {i}",
             "status": statuses[i % len(statuses)], "flagged": "", "moderation_reason": "",
             "endorsement_count": (i * 7) % 23, "addressed": False,
             "created_at": start + dt.timedelta(seconds=i), "updated_at": start + dt.timedelta(seconds=i)}
            for i in range(BULK)]
    with world.service.db.sessions.begin() as s:
        s.execute(insert(Input), rows)

    def expect(rows, role_public=False, **f):
        out = [r for r in rows if (r["status"] == "published" if role_public else r["status"] != "withdrawn")]
        if "kind" in f:
            out = [r for r in out if r["kind"] == f["kind"]]
        if "item" in f:
            out = [r for r in out if r["agenda_item_id"] == f["item"]]
        if "min_endorsements" in f:
            out = [r for r in out if r["endorsement_count"] >= f["min_endorsements"]]
        if "category" in f:
            out = [r for r in out if r["category"] == f["category"] and (r["named"] or not role_public)]
        return out

    second = world.items[1]
    cases = [
        ("moderator", {}, expect(rows)),
        ("participant0", {}, expect(rows, True)),
        ("moderator", {"kind": "question", "sort": "endorsements"}, expect(rows, kind="question")),
        ("participant0", {"item": str(second), "min_endorsements": 10, "sort": "endorsements", "order": "asc"},
         expect(rows, True, item=second, min_endorsements=10)),
        ("participant0", {"category": "igo"}, expect(rows, True, category="igo")),
        ("rapporteur", {"page": 30, "per_page": 50}, expect(rows)),
    ]
    for who, query, expected in cases:
        timings = []
        for _ in range(3):
            began = time.perf_counter()
            page = world.page(who, **query)
            timings.append(time.perf_counter() - began)
        assert page["total"] == len(expected), (who, query)
        key = "endorsement_count" if query.get("sort") == "endorsements" else "created_at"
        ordered = sorted(expected, key=lambda r: r[key], reverse=query.get("order", "desc") == "desc")
        per_page, number = query.get("per_page", 50), query.get("page", 1)
        want = [r[key] for r in ordered[(number - 1) * per_page:number * per_page]]
        got = [i["endorsements"] if key == "endorsement_count" else i["created_at"] for i in page["items"]]
        assert got == ([w for w in want] if key == "endorsement_count" else [int(w.timestamp() * 1000) for w in want])
        assert min(timings) < 0.2, f"{who} {query}: {min(timings) * 1000:.0f} ms"


# -- rate limit --------------------------------------------------------------------------------------------
@pytest.fixture
def limited(tmp_path, database_url):
    """The default rate limit (a burst of 5, 10 a minute)."""
    application = make_app(tmp_path / "limited", database_url)
    w = World(application.extensions["moderation"], seed_dialogue(application.extensions["moderation"]))
    w.start()
    yield w
    application.extensions["db"].dispose()


def test_the_sixth_quick_submission_is_told_to_slow_down(limited):
    keys = [f"burst-{uuid.uuid4().hex}" for _ in range(5)]
    ids = [limited.do("participant0", "inputs.submit", key=k, text=f"Burst {n}")["input_id"]
           for n, k in enumerate(keys)]
    error = limited.refused("participant0", "inputs.submit", "rate_limited", text="One too many")
    assert "Slow down" in error.message and "Nothing was stored" in error.message
    assert 1 <= error.details["retry_after"] <= 6.1
    assert limited.count() == 5
    # Others are not affected, and a retry of a stored submission is still answered.
    limited.submit("participant1", text="My first one")
    again = limited.dispatch("participant0", "inputs.submit", key=keys[0], text="Burst 0")
    assert again.replayed and again.result["input_id"] == ids[0]
    assert limited.count() == 6


def test_the_token_bucket():
    clock = SimpleNamespace(now=100.0)
    bucket = RateLimiter(capacity=2, rate=1.0, clock=lambda: clock.now)
    assert bucket.allow("a") and bucket.allow("a") and not bucket.allow("a")
    assert bucket.retry_after("a") == pytest.approx(1.0)
    assert bucket.allow("b")  # one bucket per key
    clock.now += 0.5
    assert not bucket.allow("a") and bucket.retry_after("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.allow("a") and not bucket.allow("a")
    clock.now += 60
    assert bucket.allow("a") and bucket.allow("a") and not bucket.allow("a")  # never more than the burst
    assert bucket.retry_after("never-seen") == 0.0
    small = RateLimiter(capacity=1, rate=1.0, clock=lambda: clock.now, max_keys=3)
    for key in range(10):
        assert small.allow(key)
        clock.now += 2  # every earlier bucket has refilled and can be forgotten
    assert len(small._buckets) <= 3
    for capacity, rate in ((0, 1.0), (5, 0.0), (5, -1.0)):
        with pytest.raises(ValueError):
            RateLimiter(capacity=capacity, rate=rate)


# -- idempotent retries -------------------------------------------------------------------------------------
def test_a_retry_with_the_same_key_stores_once(world):
    first = world.dispatch("participant0", "inputs.submit", key="submit-key-0001", text="Only once")
    again = world.dispatch("participant0", "inputs.submit", key="submit-key-0001", text="Only once")
    assert again.replayed and again.result == first.result and again.version == first.version
    assert world.count() == 1
    world.refused("participant0", "inputs.edit", "conflict", key="submit-key-0001",
                  input_id=first.result["input_id"], text="Other command, same key")
    # The key belongs to its sender: another participant's equal key is theirs.
    other = world.dispatch("participant1", "inputs.submit", key="submit-key-0001", text="Only once")
    assert not other.replayed and other.result["input_id"] != first.result["input_id"]
    assert world.count() == 2
    assert world.count(IdempotencyRecord, IdempotencyRecord.key == "submit-key-0001") == 2


def test_concurrent_retries_store_once(world):
    """The same submission sent twice at the same moment (a client that
    retried while the first attempt was still on its way)."""
    def send():
        return world.dispatch("participant0", "inputs.submit", key="racing-key-0001", text="Sent twice").result

    results = all_at_once([send] * 4)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    assert len({r["input_id"] for r in results}) == 1 and len(results) == 4
    assert world.count() == 1


# -- what each role is sent ---------------------------------------------------------------------------------
class Socket:
    """A Flask-SocketIO test client that keeps what it received, in order,
    with the time it was collected."""

    def __init__(self, app, token: str, dialogue_id: int):
        self.client = app.extensions["socketio"].test_client(app, auth={"dialogue_id": dialogue_id,
                                                                          "token": token})
        assert self.client.is_connected()
        self.events: list[tuple[str, object, float]] = []

    def pull(self) -> list:
        now = time.monotonic()
        self.events += [(e["name"], e["args"][0] if e["args"] else None, now) for e in self.client.get_received()]
        return self.events

    def of(self, name: str) -> list:
        return [data for event, data, _ in self.pull() if event == name]

    def wait_for(self, name: str, condition=lambda data: True, timeout: float = 4.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [d for d in self.of(name) if condition(d)]
            if found:
                return found[-1]
            time.sleep(0.05)
        raise AssertionError(f"no {name!r} within {timeout} s; received {[e for e, _, _ in self.events]}")

    def emit(self, event: str, payload: dict, key: str | None = None) -> dict:
        return self.client.emit(event, {"payload": payload, "idempotency_key": key or uuid.uuid4().hex},
                                callback=True)

    def chain_is_consistent(self) -> list[dict]:
        """Every change names the version of the previous change this client
        received; the first one names a version no newer than the snapshot."""
        [snapshot] = self.of("snapshot")
        changes = self.of("change")
        previous = snapshot["version"]
        for number, change in enumerate(changes):
            assert change["version"] > previous, (number, change["version"], previous)
            if number == 0:
                assert change["prev_version"] <= snapshot["version"], change
            else:
                assert change["prev_version"] == previous, (number, change["prev_version"], previous)
            previous = change["version"]
        return changes


@pytest.fixture
def sockets(app, world):
    opened = {}

    def connect(who: str) -> Socket:
        opened[who] = Socket(app, world.tokens[who], world.id)
        return opened[who]

    yield connect
    for socket in opened.values():
        if socket.client.is_connected():
            socket.client.disconnect()


def test_staff_get_records_participants_a_hint_and_the_author_a_private_message(world, sockets):
    s = {who: sockets(who) for who in ("secretariat", "moderator", "rapporteur", "participant0", "participant1",
                                       "display")}
    for socket in s.values():
        socket.pull()
    ack = s["participant0"].emit("inputs.submit", {"text": "Over the socket", "named": False},
                                 key="socket-submit-01")
    assert ack["ok"], ack
    input_id, version = ack["result"]["input_id"], ack["version"]
    for who in ("secretariat", "moderator", "rapporteur"):
        change = s[who].wait_for("change", lambda c: c["version"] == version)
        assert [r["id"] for r in change["records"]["inputs"]] == [input_id]
        assert "inputs_overview" in change["sections"]
    assert s["moderator"].of("change")[-1]["records"]["inputs"][0]["author"] == "A participant"
    assert s["secretariat"].of("change")[-1]["records"]["inputs"][0]["author"] == "Amina Okafor"
    private = s["participant0"].wait_for("private", lambda m: m["version"] == version)
    assert private["records"]["my_inputs"][0]["id"] == input_id
    assert private["records"]["my_inputs"][0]["status"] == "published"
    for who in ("participant1", "display", "participant0"):
        hint = s[who].wait_for("inputs_hint")
        assert hint == {"dialogue_id": world.id, "version": version, "published": 1}
        assert s[who].of("change") == [], who  # nothing to show in a change: the hint says it
    assert s["participant1"].of("private") == []
    # A page fetched after the hint has the input.
    page = s["participant1"].client.emit("inputs.list", {"per_page": 10}, callback=True)
    assert page["ok"] and [i["id"] for i in page["items"]] == [input_id]
    assert page["items"][0]["author"] == "A participant"
    # A retry over the socket is answered from the stored record.
    again = s["participant0"].emit("inputs.submit", {"text": "Over the socket", "named": False},
                                   key="socket-submit-01")
    assert again["replayed"] and again["result"]["input_id"] == input_id
    assert world.count() == 1


def test_the_inputs_hint_is_throttled(world, sockets):
    """A burst of inputs gets at most about one hint a second, the last
    saying how many there are now. No waiting for silence: one more input
    after the burst gets its own hint, and hints leave in order, so once it
    is in, every hint about the burst has arrived."""
    listener = sockets("participant1")
    listener.pull()
    began = time.monotonic()
    for n in range(8):
        world.submit(f"participant{n % 5 if n % 5 != 1 else 0}", text=f"Quick input {n}")
        listener.pull()  # note the time each hint arrives
    world.submit("participant2", text="Last quick input")
    burst = time.monotonic() - began
    listener.wait_for("inputs_hint", lambda h: h["published"] == 9)
    world.submit("participant3", text="One more, after the burst")
    listener.wait_for("inputs_hint", lambda h: h["published"] == 10)
    hints = [(data["published"], at) for event, data, at in listener.pull() if event == "inputs_hint"]
    published = [count for count, _ in hints]
    assert published == sorted(published) and published[-2:] == [9, 10], hints
    gaps = [b - a for (_, a), (_, b) in zip(hints, hints[1:], strict=False)]
    assert all(gap > 0.7 for gap in gaps), gaps  # at most about one a second (collection adds jitter)
    # Nine inputs, one hint a second at most: as many hints as seconds the burst took, and one more.
    assert published.count(9) == 1 and len(hints) - 1 <= 2 + int(burst), (burst, hints)


def test_prev_version_chains_hold_for_every_role(world, sockets):
    roles = ("secretariat", "moderator", "rapporteur", "participant0", "participant1", "display")
    s = {who: sockets(who) for who in roles}
    versions = {}

    def step(label, who, name, /, **payload):
        outcome = world.dispatch(who, name, **payload)
        versions[label] = outcome.version
        return outcome.result

    a = step("submit", "participant1", "inputs.submit", text="Chain one")["input_id"]
    step("theme", "rapporteur", "inputs.create_theme", name="Chains")
    step("tag", "rapporteur", "inputs.tag", input_id=a, theme_ids=[])
    step("advance", "moderator", "agenda.advance")
    b = step("submit2", "participant0", "inputs.submit", text="Chain two")["input_id"]
    step("hide", "moderator", "inputs.moderate", input_id=b, action="hide", reason="Test")
    step("configure", "secretariat", "inputs.configure", max_chars=1800)
    step("pin", "moderator", "inputs.pin", input_id=a)
    step("endorse", "participant0", "inputs.endorse", input_id=a)
    step("addressed", "moderator", "inputs.mark_addressed", input_id=a)
    step("submit3", "participant0", "inputs.submit", text="Chain three")
    step("pause", "moderator", "agenda.pause_item")
    last = versions["pause"]
    for who in roles:
        s[who].wait_for("change", lambda c: c["version"] == last)
    seen = {who: [c["version"] for c in s[who].chain_is_consistent()] for who in roles}
    every = sorted(versions.values())
    for who in ("secretariat", "moderator", "rapporteur"):
        assert seen[who] == every, who
    public = [versions[k] for k in ("advance", "configure", "pin", "endorse", "addressed", "pause")]
    for who in ("participant0", "participant1", "display"):
        assert seen[who] == public, who  # the pinned input's changes reach everyone; other inputs do not
    # A client that connects now starts from its snapshot and the next change follows it.
    late = sockets("participant2")
    world.do("moderator", "agenda.resume_item")
    late.wait_for("change")
    late.chain_is_consistent()
