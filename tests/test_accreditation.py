"""Accreditation, rule by rule, on SQLite and PostgreSQL without a server:
applying (one application per dialogue, updating instead of duplicating,
deadlines in their time zone, the in-person limit, bad input with the field
at fault and nothing stored), reviewing (bulk decisions with the deciding
body), invitations (links re-issued and revoked, the files, the CSV, the QR
code decoded back to the link, sending through a real SMTP server), travel
support, delegates from CSV, check-in, the channel switch, permissions, and
deleting personal data while keeping the counts."""
from __future__ import annotations

import csv
import datetime as dt
import email
import io
import itertools
import socket
import zipfile
from email import policy
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import png
import pytest
import zxingcpp
from aiosmtpd.controller import Controller
from conftest import run, seed_dialogue
from sqlalchemy import func, select
from test_command_layer import committed, db_state, refused

from moderation.core.auth import ANONYMOUS, SYSTEM, Principal, credential_for_token
from moderation.core.errors import CommandError
from moderation.features.accreditation.applications import applications_of_token
from moderation.features.accreditation.checkin import online_now, register_connections
from moderation.features.accreditation.exports import ListApplicationsQuery, list_applications, travel_csv
from moderation.features.accreditation.invitations import SmtpSettings, invitations_zip, letters, send
from moderation.features.accreditation.privacy import DELETED
from moderation.features.summary.commands import attendance
from moderation.models import (
    Application,
    AuditEntry,
    Credential,
    Dialogue,
    IdempotencyRecord,
    Input,
    Participant,
    Role,
    SpeakerEntry,
)

_numbers = itertools.count(1)
NOW = dt.datetime.now(dt.UTC)


# -- helpers -----------------------------------------------------------------------------------
def snapshot_of(service, application_id: int) -> tuple:
    """An application's stored values and nominees."""
    with service.db.session() as s:
        row = s.get(Application, application_id)
        return (tuple(getattr(row, c.key) for c in Application.__table__.columns),
                tuple((n.name, n.email, n.mode) for n in row.nominees))


def dialogue_secretariat(service, dialogue_id: int) -> Principal:
    """The principal of a secretariat API token of one dialogue."""
    result = run(service, "access.issue_api_token", {"dialogue_id": dialogue_id, "role": "secretariat"})
    return Principal(credential_id=result["credential_id"])


def application(dialogue_ids, *, name="Victims' Voice e.V.", category="ngo", ecosoc=True, grassroots=False,
                victim_led=False, people=None, contact_email="contact@victims.example.org") -> dict:
    if people is None:
        people = [("Amara Diallo", "amara@victims.example.org", "in_person"),
                  ("Bo Chen", "bo@victims.example.org", "alternate"),
                  ("Carla Ruiz", "carla@victims.example.org", "online")]
    return {
        "dialogue_ids": list(dialogue_ids),
        "organization": {"name": name, "category": category, "ecosoc_status": ecosoc, "country": "Germany",
                         "website": "victims.example.org", "grassroots": grassroots, "victim_led": victim_led,
                         "expertise": "Support for survivors of trafficking since 2004."},
        "contact": {"name": "Dana Weiss", "email": contact_email},
        "participants": [{"name": n, "email": e, "mode": m} for n, e, m in people],
        "confirmed": True,
    }


def local(moment: dt.datetime, zone: str = "UTC") -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def open_applications(service, dialogue_id: int, deadline: str | None = None, timezone: str = "Europe/Vienna"):
    if deadline is None:
        deadline = local(NOW + dt.timedelta(days=30), timezone)
    return run(service, "applications.configure", {"dialogue_id": dialogue_id, "open": True,
                                                   "deadline": deadline, "timezone": timezone})


def count(service, model, *where) -> int:
    with service.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def fields_of(error: CommandError) -> set[str]:
    return {d["field"] for d in error.details or []}


def approved(service, d, **kwargs) -> dict:
    """An approved application for dialogue ``d``: {application_id, participant_ids by name}."""
    did = d["dialogue_id"]
    open_applications(service, did)
    aid = run(service, "applications.submit", application([did], **kwargs), ANONYMOUS)["applications"][0][
        "application_id"]
    run(service, "applications.decide", {"dialogue_id": did, "application_ids": [aid], "decision": "approve",
                                         "decided_by_body": "Extended Bureau"})
    with service.db.session() as s:
        ids = {p.name: p.id for p in s.scalars(select(Participant).where(Participant.application_id == aid))}
    return {"application_id": aid, "participants": ids}


def invite(service, did, participant_ids=None) -> dict:
    result = run(service, "invitations.issue", {"dialogue_id": did, "participant_ids": participant_ids})
    return {i["name"]: i for i in result["invitations"]}


def participant(service, participant_id: int) -> SimpleNamespace:
    """A participant's stored values (read while the session is open)."""
    with service.db.session() as s:
        row = s.get(Participant, participant_id)
        return SimpleNamespace(**{c.key: getattr(row, c.key) for c in Participant.__table__.columns})


def decode_qr(png_bytes: bytes) -> str:
    """Decode a QR code from a PNG: pypng reads the pixels (pure Python),
    zxing-cpp (a self-contained wheel) finds and decodes the code."""
    width, height, rows, info = png.Reader(bytes=png_bytes).asDirect()
    planes, top = info["planes"], (1 << info["bitdepth"]) - 1
    grey = bytearray()
    for row in rows:
        grey.extend(row[x * planes] * 255 // top for x in range(width))
    found = zxingcpp.read_barcodes(memoryview(bytes(grey)).cast("B", (height, width)))
    assert found, "no QR code found in the image"
    return found[0].text


# -- applying ------------------------------------------------------------------------------------
def test_one_application_per_dialogue_and_the_preparation_day(service, dialogue):
    did = dialogue["dialogue_id"]
    prep = run(service, "dialogue.create", {"topic": "trafficking_in_persons", "kind": "preparation_day",
                                            "prepares_id": did})["dialogue_id"]
    open_applications(service, did)
    open_applications(service, prep)
    result = committed(service, "applications.submit", application([did, prep]), ANONYMOUS).result
    assert [a["dialogue_id"] for a in result["applications"]] == sorted([did, prep])
    assert all(not a["updated"] for a in result["applications"])
    with service.db.session() as s:
        rows = s.scalars(select(Application).order_by(Application.dialogue_id)).all()
        assert [(a.dialogue_id, a.status, a.category, a.ecosoc_status) for a in rows] == \
            [(did, "pending", "ngo", True), (prep, "pending", "ngo", True)]
        assert [n.mode for n in rows[0].nominees] == ["in_person", "alternate", "online"]
        assert rows[0].website == "https://victims.example.org"
        # The audit log of a public command keeps no personal data.
        entry = s.scalars(select(AuditEntry).where(AuditEntry.command == "applications.submit")).one()
        assert entry.role == "anonymous" and "contact" not in entry.payload and "participants" not in entry.payload
        assert "amara@victims.example.org" not in str(entry.payload)


def test_only_the_edit_token_changes_an_application(service, dialogue):
    """Someone else sending the same organization's name makes a new
    application flagged as a possible duplicate; the submitter's edit token
    changes the original (and nothing else does)."""
    did = dialogue["dialogue_id"]
    open_applications(service, did)
    first = run(service, "applications.submit", application([did]), ANONYMOUS)
    original, token = first["applications"][0], first["edit_token"]
    assert first["edit_path"] == f"/apply/edit/{token}" and len(token) >= 40
    before = snapshot_of(service, original["application_id"])
    # The reported attack: same name, another contact and nominee, no token.
    other = application([did], name="  VICTIMS VOICE e.v ", contact_email="mallory@evil.example",
                        people=[("Mallory", "mallory@evil.example", "in_person")])
    second = run(service, "applications.submit", other, ANONYMOUS)
    assert second["applications"][0]["application_id"] != original["application_id"]
    assert second["applications"][0]["updated"] is False and second["edit_token"] != token
    assert snapshot_of(service, original["application_id"]) == before               # untouched
    with service.db.session() as s:
        listed = {a["id"]: a for a in list_applications(s, did, ListApplicationsQuery())}
        only = list_applications(s, did, ListApplicationsQuery(duplicate=True))
    assert listed[original["application_id"]]["possible_duplicate_of"] is None
    assert listed[second["applications"][0]["application_id"]]["possible_duplicate_of"] == original["application_id"]
    assert [a["id"] for a in only] == [second["applications"][0]["application_id"]]
    # A wrong token changes nothing; the right one changes the original.
    state = db_state(service)
    # One character changed (never to itself: a token ending in "A" stayed valid one run in 64).
    altered = second["edit_token"][:-1] + ("B" if second["edit_token"].endswith("A") else "A")
    for wrong in ("x" * 43, altered, token.upper()):
        error = refused(service, "applications.update", {**other, "edit_token": wrong}, ANONYMOUS, code="forbidden")
        assert fields_of(error) == {"edit_token"}
    assert db_state(service) == state
    changed = application([did], name="Victims Voice", people=[("Eve Adams", "eve@victims.example.org", "online")])
    again = run(service, "applications.update", {**changed, "edit_token": token}, ANONYMOUS)["applications"][0]
    assert again["application_id"] == original["application_id"] and again["updated"] and again["revision"] == 2
    with service.db.session() as s:
        stored = s.get(Application, original["application_id"])
        assert [n.name for n in stored.nominees] == ["Eve Adams"] and stored.organization_name == "Victims Voice"
        # Only the hash is stored, and the audit log keeps no token.
        assert token not in str(s.scalars(select(Application.edit_token_hash)).all())
        entries = s.scalars(select(AuditEntry.payload).where(AuditEntry.command == "applications.update")).all()
        assert entries and all("edit_token" not in e and token not in str(e) for e in entries)
    # Once decided, even the token cannot change it.
    run(service, "applications.decide", {"dialogue_id": did, "application_ids": [original["application_id"]],
                                         "decision": "reject", "reason": "Outside the scope"})
    error = refused(service, "applications.update", {**changed, "edit_token": token}, ANONYMOUS, code="conflict")
    assert "rejected" in error.message


def test_an_edit_token_covers_the_dialogues_of_its_submission(service, dialogue):
    did = dialogue["dialogue_id"]
    prep = run(service, "dialogue.create", {"topic": "trafficking_in_persons", "kind": "preparation_day",
                                            "prepares_id": did})["dialogue_id"]
    third = run(service, "dialogue.create", {"topic": "firearms"})["dialogue_id"]
    for d in (did, prep, third):
        open_applications(service, d)
    first = run(service, "applications.submit", application([did]), ANONYMOUS)
    token = first["edit_token"]
    # Adding a dialogue: a new application there, with the same token.
    both = run(service, "applications.update", {**application([did, prep]), "edit_token": token}, ANONYMOUS)
    assert [(a["dialogue_id"], a["updated"]) for a in both["applications"]] == [(did, True), (prep, False)]
    assert "edit_token" not in both
    with service.db.session() as s:
        assert len(applications_of_token(s, token)) == 2
    # A token of another submission does not reach these.
    other = run(service, "applications.submit", application([third], name="Other Org"), ANONYMOUS)
    with service.db.session() as s:
        assert [a.dialogue_id for a in applications_of_token(s, other["edit_token"])] == [third]
    # After the deadline the token changes nothing; the secretariat still can (a late change).
    open_applications(service, prep, deadline=local(NOW - dt.timedelta(minutes=1), "Europe/Vienna"))
    refused(service, "applications.update", {**application([did, prep]), "edit_token": token}, ANONYMOUS,
            code="forbidden")
    secretariat = dialogue_secretariat(service, prep)
    late = run(service, "applications.update", {**application([prep]), "edit_token": token}, secretariat)
    assert late["applications"][0]["updated"]
    with service.db.session() as s:
        assert s.get(Application, late["applications"][0]["application_id"]).late is True


def test_the_in_person_limit_is_enforced_with_the_field_at_fault(service, dialogue):
    did = dialogue["dialogue_id"]
    open_applications(service, did)
    two_in_person = application([did], people=[("A One", "a@x.org", "in_person"), ("B Two", "b@x.org", "online"),
                                                ("C Three", "c@x.org", "in_person")])
    error = refused(service, "applications.submit", two_in_person, ANONYMOUS, code="invalid_payload")
    assert fields_of(error) == {"participants.2.mode"}
    assert "one person per organization can attend in person" in error.details[0]["message"]
    two_alternates = application([did], people=[("A One", "a@x.org", "in_person"), ("B Two", "b@x.org", "alternate"),
                                                ("C Three", "c@x.org", "alternate")])
    assert fields_of(refused(service, "applications.submit", two_alternates, ANONYMOUS,
                             code="invalid_payload")) == {"participants.2.mode"}
    lone_alternate = application([did], people=[("B Two", "b@x.org", "alternate")])
    assert fields_of(refused(service, "applications.submit", lone_alternate, ANONYMOUS,
                             code="invalid_payload")) == {"participants.0.mode"}
    same_person = application([did], people=[("A One", "a@x.org", "online"), ("A Again", "A@x.org", "online")])
    assert fields_of(refused(service, "applications.submit", same_person, ANONYMOUS,
                             code="invalid_payload")) == {"participants.1.email"}
    # One in person, one alternate and any number online is fine.
    many = application([did], people=[("A One", "a@x.org", "in_person"), ("B Two", "b@x.org", "alternate")]
                       + [(f"Online {i}", f"o{i}@x.org", "online") for i in range(5)])
    assert run(service, "applications.submit", many, ANONYMOUS)["applications"][0]["revision"] == 1


@pytest.mark.parametrize("change, field", [
    (lambda a: a["contact"].update(email="not-an-address"), "contact.email"),
    (lambda a: a["participants"][1].update(email="bo@"), "participants.1.email"),
    (lambda a: a["organization"].pop("country"), "organization.country"),
    (lambda a: a["organization"].update(name=""), "organization.name"),
    (lambda a: a["organization"].update(category="government"), "organization.category"),
    (lambda a: a["organization"].pop("ecosoc_status"), "organization.ecosoc_status"),
    (lambda a: a["organization"].update(website="not a site"), "organization.website"),
    (lambda a: a.update(participants=[]), "participants"),
    (lambda a: a.update(dialogue_ids=[]), "dialogue_ids"),
    (lambda a: a.update(confirmed=False), "confirmed"),
    (lambda a: a.update(dialogue_ids=[987654]), "dialogue_ids"),
])
def test_bad_input_names_the_field_and_stores_nothing(service, dialogue, change, field):
    did = dialogue["dialogue_id"]
    open_applications(service, did)
    bad = application([did])
    change(bad)
    error = refused(service, "applications.submit", bad, ANONYMOUS, code="invalid_payload")
    assert field in fields_of(error), error.details
    assert error.status == 422


def test_a_multi_dialogue_application_is_all_or_nothing(service, dialogue):
    did = dialogue["dialogue_id"]
    other = run(service, "dialogue.create", {"topic": "firearms"})["dialogue_id"]
    open_applications(service, did)
    open_applications(service, other, deadline=local(NOW - dt.timedelta(hours=1), "Europe/Vienna"))
    error = refused(service, "applications.submit", application([did, other]), ANONYMOUS, code="forbidden")
    assert fields_of(error) == {"dialogue_ids"} and "passed" in error.message
    assert count(service, Application) == 0


def test_deadlines_are_read_in_their_time_zone(service, dialogue):
    did = dialogue["dialogue_id"]
    # Midnight Vienna time at the end of 1 May is 22:00 UTC in summer time.
    result = open_applications(service, did, deadline="2026-05-02T00:00", timezone="Europe/Vienna")
    assert result["deadline"] == "2026-05-01T22:00:00+00:00"
    assert result["deadline_text"] == "1 May 2026, 24:00 (midnight) Europe/Vienna time"
    # A wall-clock time two hours ahead of UTC has already passed in UTC+14 ...
    ahead = local(NOW + dt.timedelta(hours=2))
    open_applications(service, did, deadline=ahead, timezone="Pacific/Kiritimati")
    error = refused(service, "applications.submit", application([did]), ANONYMOUS, code="forbidden")
    assert "deadline" in error.message and "Pacific/Kiritimati" in error.message
    assert "Nothing was stored" in error.message
    # ... and one two hours behind UTC is still ahead in UTC-11.
    open_applications(service, did, deadline=local(NOW - dt.timedelta(hours=2)), timezone="Pacific/Pago_Pago")
    assert run(service, "applications.submit", application([did]), ANONYMOUS)["applications"][0]["revision"] == 1


def test_after_the_deadline_the_secretariat_extends_it_or_accepts_late(service, dialogue):
    did = dialogue["dialogue_id"]
    open_applications(service, did, deadline=local(NOW - dt.timedelta(minutes=5), "Europe/Vienna"))
    refused(service, "applications.submit", application([did]), ANONYMOUS, code="forbidden")
    # A late application by hand: marked late.
    late = committed(service, "applications.accept_late", application([did], name="Late Org"))
    with service.db.session() as s:
        assert s.get(Application, late.result["applications"][0]["application_id"]).late is True
    refused(service, "applications.accept_late", application([did], name="Sneaky"), ANONYMOUS,
            code="unauthenticated")
    # A secretariat token of another dialogue may not enter late applications here.
    other = seed_dialogue(service, participants=())
    token = run(service, "access.issue_api_token", {"dialogue_id": other["dialogue_id"], "role": "secretariat"})
    refused(service, "applications.accept_late", application([did], name="Elsewhere"),
            Principal(credential_id=token["credential_id"]), code="forbidden")
    # Extending the deadline opens the public form again.
    open_applications(service, did, deadline=local(NOW + dt.timedelta(days=2), "Europe/Vienna"))
    assert run(service, "applications.submit", application([did]), ANONYMOUS)["applications"][0]["revision"] == 1
    # Closed applications refuse whatever the deadline.
    run(service, "applications.configure", {"dialogue_id": did, "open": False})
    error = refused(service, "applications.submit", application([did], name="Another"), ANONYMOUS, code="forbidden")
    assert "not open" in error.message


# -- reviewing -------------------------------------------------------------------------------------
def test_bulk_decisions_record_the_deciding_body(service, dialogue):
    did = dialogue["dialogue_id"]
    open_applications(service, did)
    ids = [run(service, "applications.submit", application([did], name=f"Org {i}", people=[
        (f"Person {i}", f"p{i}@org{i}.example", "online")]), ANONYMOUS)["applications"][0]["application_id"]
        for i in range(3)]
    # An unknown id refuses the whole batch.
    refused(service, "applications.decide", {"dialogue_id": did, "application_ids": ids[:2] + [999999],
                                             "decision": "approve"}, code="not_found")
    # Rejecting needs a reason.
    error = refused(service, "applications.decide", {"dialogue_id": did, "application_ids": ids[:1],
                                                     "decision": "reject"}, code="invalid_payload")
    assert fields_of(error) == {"reason"}
    outcome = committed(service, "applications.decide", {
        "dialogue_id": did, "application_ids": ids[:2], "decision": "approve", "decided_by_body": "Extended Bureau"})
    assert outcome.result["decided"] == ids[:2] and len(outcome.result["participant_ids"]) == 2
    committed(service, "applications.decide", {"dialogue_id": did, "application_ids": [ids[2]], "decision": "reject",
                                               "reason": "Not working on the topic",
                                               "decided_by_body": "Extended Bureau"})
    with service.db.session() as s:
        rows = {a.id: a for a in s.scalars(select(Application))}
        assert [rows[i].status for i in ids] == ["approved", "approved", "rejected"]
        assert {rows[i].decided_by_body for i in ids} == {"Extended Bureau"}
        assert rows[ids[2]].decision_reason == "Not working on the topic"
    # Approving again changes nothing; an approved application is not rejected afterwards.
    again = run(service, "applications.decide", {"dialogue_id": did, "application_ids": ids[:1], "decision": "approve"})
    assert again["unchanged"] == ids[:1] and again["participant_ids"] == []
    refused(service, "applications.decide", {"dialogue_id": did, "application_ids": ids[:1], "decision": "reject",
                                             "reason": "changed our mind"}, code="conflict")
    # A rejected one may still be approved.
    assert run(service, "applications.decide", {"dialogue_id": did, "application_ids": [ids[2]],
                                                "decision": "approve"})["decided"] == [ids[2]]


def test_approval_creates_the_participants_with_their_mode(service, dialogue):
    result = approved(service, dialogue)
    people = {name: participant(service, pid) for name, pid in result["participants"].items()}
    assert {n: (p.channel, p.alternate) for n, p in people.items()} == {
        "Amara Diallo": ("room", False), "Bo Chen": ("room", True), "Carla Ruiz": ("online", False)}
    with service.db.session() as s:
        p = s.get(Participant, result["participants"]["Amara Diallo"])
        assert p.organization.category == "ngo_ecosoc" and p.organization.name == "Victims' Voice e.V."
        assert p.email == "amara@victims.example.org" and p.invited_at is None
    # The alternate named first is still the alternate; a place taken by hand counts against the limit.
    did = dialogue["dialogue_id"]
    listed = application([did], name="Second Org", ecosoc=False, people=[("Alt First", "alt@second.example", "alternate"),
                                                           ("Main Second", "main@second.example", "in_person")])
    aid = run(service, "applications.submit", listed, ANONYMOUS)["applications"][0]["application_id"]
    run(service, "participant.register", {"dialogue_id": did, "name": "Walk In", "channel": "room",
                                          "organization": {"name": "Second Org", "category": "ngo"}})
    error = refused(service, "applications.decide", {"dialogue_id": did, "application_ids": [aid],
                                                     "decision": "approve"}, code="conflict")
    assert "Walk In" in error.message
    with service.db.session() as s:
        walk_in = s.scalars(select(Participant).where(Participant.name == "Walk In")).one().id
    run(service, "participant.set_channel", {"dialogue_id": did, "participant_id": walk_in, "channel": "online"})
    run(service, "applications.decide", {"dialogue_id": did, "application_ids": [aid], "decision": "approve"})
    with service.db.session() as s:
        modes = {p.name: (p.channel, p.alternate) for p in s.scalars(select(Participant).where(
            Participant.application_id == aid))}
    assert modes == {"Alt First": ("room", True), "Main Second": ("room", False)}


def test_permissions(service, dialogue):
    """Nobody but the secretariat reviews, invites, checks in, imports or deletes."""
    did = dialogue["dialogue_id"]
    result = approved(service, dialogue, grassroots=True)
    others = {"moderator": dialogue["principals"]["moderator"], "rapporteur": dialogue["principals"]["rapporteur"],
              "display": dialogue["principals"]["display"], "participant": dialogue["principals"]["participant0"]}
    pid = result["participants"]["Amara Diallo"]
    staff_only = {
        "applications.configure": {"open": True},
        "applications.decide": {"application_ids": [result["application_id"]], "decision": "approve"},
        "invitations.issue": {},
        "invitations.record_delivery": {"participant_ids": [pid], "method": "email"},
        "travel.decide": {"application_id": result["application_id"], "decision": "granted"},
        "delegates.add": {"name": "Delegate", "delegation": "Austria", "category": "state_party"},
        "delegates.import_csv": {"csv": "name,delegation,category\nX,Austria,state_party\n"},
        "participants.check_in": {"participant_id": pid},
        "participants.cancel_check_in": {"participant_id": pid},
        "attendance.record_connections": {"participant_ids": [pid]},
        "privacy.delete_personal_data": {"confirm": True},
        "summary.mark_published": {},
    }
    for name, payload in staff_only.items():
        for principal in others.values():
            refused(service, name, {"dialogue_id": did, **payload}, principal, code="forbidden")
        refused(service, name, {"dialogue_id": did, **payload}, ANONYMOUS, code="unauthenticated")
    # Only participants ask for travel support.
    refused(service, "travel.request", {"dialogue_id": did}, dialogue["principals"]["moderator"])
    # The participants section: e-mail addresses are the secretariat's only.
    for role in (Role.MODERATOR, Role.RAPPORTEUR):
        people = service.snapshot(SYSTEM if role is Role.SECRETARIAT else dialogue["principals"][role.value],
                                  did)["sections"]["participants"]
        assert people and all("email" not in p for p in people)
    assert "participants" not in service.snapshot(dialogue["principals"]["participant0"], did)["sections"]


# -- invitations --------------------------------------------------------------------------------------
def test_issuing_invitations_and_reissuing_revokes_the_old_link(service, dialogue):
    did = dialogue["dialogue_id"]
    result = approved(service, dialogue)
    outcome = committed(service, "invitations.issue", {"dialogue_id": did})
    invited = {i["name"]: i for i in outcome.result["invitations"]}
    # Everyone without a link: the approved nominees, not the participants registered by hand.
    assert set(invited) == set(result["participants"])
    assert invited["Amara Diallo"]["email"] == "amara@victims.example.org"
    first = invited["Amara Diallo"]["token"]
    with service.db.session() as s:
        assert first not in s.scalars(select(Credential.token_hash)).all()   # stored hashed only
        assert credential_for_token(s, first).participant_id == result["participants"]["Amara Diallo"]
    assert run(service, "invitations.issue", {"dialogue_id": did})["invitations"] == []   # nobody left
    again = committed(service, "invitations.issue",
                      {"dialogue_id": did, "participant_ids": [result["participants"]["Amara Diallo"]]})
    old_credential = invited["Amara Diallo"]["credential_id"]
    assert again.result["revoked"] == [old_credential]
    assert ("disconnect_credential", old_credential) in again.effects
    with service.db.session() as s:
        assert credential_for_token(s, first) is None
        assert credential_for_token(s, again.result["invitations"][0]["token"]) is not None
    refused(service, "invitations.issue", {"dialogue_id": did, "participant_ids": [10**6]}, code="not_found")
    other = seed_dialogue(service)
    refused(service, "invitations.issue", {"dialogue_id": did, "participant_ids": other["participant_ids"][:1]},
            code="not_found")


def test_invitation_files_csv_and_qr_code(service, dialogue):
    did = dialogue["dialogue_id"]
    approved(service, dialogue, grassroots=True)
    invitations = run(service, "invitations.issue", {"dialogue_id": did})["invitations"]
    items = letters(invitations, {"title": "Constructive Dialogue on Trafficking in Persons", "when": "3 June 2026",
                                  "venue": "Vienna International Centre",
                                  "registration_path": f"/d/{did}/registration"},
                    "https://dialogue.example.org", "Secretariat <dialogue@example.org>")
    archive = zipfile.ZipFile(io.BytesIO(invitations_zip(items)))
    names = archive.namelist()
    assert sorted(names) == sorted([i.filename for i in items] + ["invitations.csv"])
    assert len([n for n in names if n.endswith(".eml")]) == 3
    rows = list(csv.DictReader(io.StringIO(archive.read("invitations.csv").decode("utf-8-sig"))))
    by_name = {r["name"]: r for r in rows}
    tokens = {i["name"]: i["token"] for i in invitations}
    for name, row in by_name.items():
        assert row["link"] == f"https://dialogue.example.org/l/{tokens[name]}"
        assert row["file"] in names
    assert by_name["Bo Chen"]["mode"] == "alternate" and by_name["Carla Ruiz"]["mode"] == "online"
    for row in by_name.values():
        message = email.message_from_bytes(archive.read(row["file"]), policy=policy.default)
        assert message["X-Unsent"] == "1" and message["Subject"].startswith("Invitation: ")
        assert row["email"] in message["To"]
        text = message.get_body(("plain",)).get_content()
        assert row["link"] in text and "registration" in text           # a grassroots organization
        images = [part for part in message.walk() if part.get_content_type() == "image/png"]
        if row["mode"] == "online":
            assert images == [] and "bear their own costs" not in text
        else:
            # In person: the QR code, and it decodes back to exactly this person's link.
            assert len(images) == 1 and "bear their own costs" in text
            assert decode_qr(images[0].get_content()) == row["link"]
            html = message.get_body(("html",)).get_content()
            assert f'cid:{images[0]["Content-ID"].strip("<>")}' in html


class Inbox:
    """An aiosmtpd handler that keeps what it receives and refuses one address."""

    def __init__(self, refuse: str = ""):
        self.messages: list = []
        self.refuse = refuse

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd API
        if address == self.refuse:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((envelope.rcpt_tos[:], email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox(refuse="carla@victims.example.org")
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def test_sending_invitations_through_smtp(service, dialogue, smtp_server):
    controller, inbox = smtp_server
    did = dialogue["dialogue_id"]
    approved(service, dialogue)
    invitations = run(service, "invitations.issue", {"dialogue_id": did})["invitations"]
    items = letters(invitations, {"title": "The dialogue"}, "https://dialogue.example.org",
                    "Secretariat <dialogue@example.org>")
    settings = SmtpSettings(host="127.0.0.1", port=controller.port, starttls=False, sender="dialogue@example.org")
    results = send(settings, items)
    ids = {i.name: i.participant_id for i in items}
    assert results[ids["Amara Diallo"]] is None and results[ids["Bo Chen"]] is None
    assert "550" in results[ids["Carla Ruiz"]]                                # refused, and said so
    received = {tuple(to): message for to, message in inbox.messages}
    assert set(received) == {("amara@victims.example.org",), ("bo@victims.example.org",)}
    message = received[("amara@victims.example.org",)]
    assert message["Subject"] == "Invitation: The dialogue" and "X-Unsent" not in message
    image = next(p for p in message.walk() if p.get_content_type() == "image/png")
    link = next(i.link for i in items if i.name == "Amara Diallo")
    assert decode_qr(image.get_content()) == link and link in message.get_body(("plain",)).get_content()
    # No server there: every invitation is reported as not sent, nothing raises.
    down = send(SmtpSettings(host="127.0.0.1", port=free_port(), starttls=False, timeout=2), items)
    assert all(reason and "could not be used" in reason for reason in down.values())


# -- travel support -----------------------------------------------------------------------------------
def test_travel_support_for_grassroots_and_victim_led_organizations(service, dialogue):
    did = dialogue["dialogue_id"]
    eligible = approved(service, dialogue, victim_led=True)
    links = invite(service, did)
    amara = Principal(credential_id=links["Amara Diallo"]["credential_id"])
    outcome = committed(service, "travel.request", {"dialogue_id": did, "note": "From Lagos"}, amara)
    assert outcome.result == {"application_id": eligible["application_id"], "travel_support": "requested"}
    # An organization that is neither grassroots nor victim-led / -focused may not.
    consultancy = application([did], name="Big Consulting", category="private_sector", ecosoc=False,
                              people=[("Zed Zu", "zed@big.example", "online")])
    other = run(service, "applications.submit", consultancy, ANONYMOUS)["applications"][0]["application_id"]
    run(service, "applications.decide", {"dialogue_id": did, "application_ids": [other], "decision": "approve"})
    zed = Principal(credential_id=invite(service, did)["Zed Zu"]["credential_id"])
    error = refused(service, "travel.request", {"dialogue_id": did}, zed, code="forbidden")
    assert "grassroots" in error.message
    # A participant registered by hand has no application.
    refused(service, "travel.request", {"dialogue_id": did}, dialogue["principals"]["participant0"])
    refused(service, "travel.decide", {"dialogue_id": did, "application_id": other, "decision": "granted"},
            code="conflict")
    committed(service, "travel.decide", {"dialogue_id": did, "application_id": eligible["application_id"],
                                         "decision": "granted", "note": "Economy ticket"})
    refused(service, "travel.request", {"dialogue_id": did}, amara, code="conflict")
    with service.db.session() as s:
        exported = travel_csv(s, s.get(Dialogue, did)).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [(r["organization"], r["travel_support"], r["decision_note"], r["request_note"]) for r in rows] == \
        [("Victims' Voice e.V.", "Granted", "Economy ticket", "From Lagos")]


# -- delegates -----------------------------------------------------------------------------------------
def test_adding_and_importing_delegates(service, dialogue):
    did = dialogue["dialogue_id"]
    pid = committed(service, "delegates.add", {
        "dialogue_id": did, "name": "Ana Gruber", "email": "ana@bmeia.example", "delegation": "Austria",
        "category": "state_party"}).result["participant_id"]
    assert participant(service, pid).channel == "room"
    good = ("name;email;delegation;category;channel\n"
            "Kofi Mensah;kofi@gov.example;Ghana;State party;in person\n"
            "Lena Berg;lena@interpol.example;INTERPOL;igo;online\n"
            "Ana Gruber;ana@bmeia.example;Austria;state_party;room\n")
    outcome = committed(service, "delegates.import_csv", {"dialogue_id": did, "csv": good})
    assert len(outcome.result["participant_ids"]) == 2 and outcome.result["skipped"] == ["ana@bmeia.example"]
    with service.db.session() as s:
        kofi = s.scalars(select(Participant).where(Participant.name == "Kofi Mensah")).one()
        lena = s.scalars(select(Participant).where(Participant.name == "Lena Berg")).one()
        assert (kofi.organization.category, kofi.channel) == ("state_party", "room")
        assert (lena.organization.category, lena.channel) == ("igo", "online")
    bad = ("name,email,delegation,category,channel\n"
           "Good Person,good@gov.example,Chile,state_party,room\n"
           "Bad Mail,not-an-email,Peru,state_party,room\n"
           "No Category,nc@gov.example,Peru,,room\n"
           ",nobody@gov.example,Peru,state_party,room\n"
           "Good Person,good@gov.example,Chile,state_party,room\n"
           "Wrong Channel,wc@gov.example,Peru,igo,balcony\n")
    error = refused(service, "delegates.import_csv", {"dialogue_id": did, "csv": bad}, code="invalid_payload")
    assert {(d["row"], d.get("column")) for d in error.details} == {
        (3, "email"), (4, "category"), (5, "name"), (6, "email"), (7, "channel")}
    assert "nothing was imported" in error.message
    assert count(service, Participant, Participant.name == "Good Person") == 0
    error = refused(service, "delegates.import_csv", {"dialogue_id": did, "csv": "who,what\nx,y\n"},
                    code="invalid_payload")
    assert "missing" in error.details[0]["message"]


# -- on the day -----------------------------------------------------------------------------------------
def test_check_in_by_qr_code_or_by_name(service, dialogue):
    did = dialogue["dialogue_id"]
    people = approved(service, dialogue)["participants"]
    links = invite(service, did)
    scanned = f"https://dialogue.example.org/l/{links['Amara Diallo']['token']}"
    outcome = committed(service, "participants.check_in", {"dialogue_id": did, "token": scanned})
    assert outcome.result["participant"]["name"] == "Amara Diallo" and not outcome.result["already"]
    assert outcome.result["in_room"] == 1 and {"attendance", "participants"} <= outcome.touched
    # The token never reaches the audit log.
    with service.db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.command == "participants.check_in")).one()
        assert "token" not in entry.payload
    # Scanning twice says so and changes nothing.
    again = run(service, "participants.check_in", {"dialogue_id": did, "token": links["Amara Diallo"]["token"]})
    assert again["already"] and again["in_room"] == 1
    # By id, after a name search.
    assert run(service, "participants.check_in", {"dialogue_id": did,
                                                  "participant_id": people["Bo Chen"]})["in_room"] == 2
    error = refused(service, "participants.check_in", {"dialogue_id": did, "token": "forged-token-123"},
                    code="not_found")
    assert fields_of(error) == {"token"}
    refused(service, "participants.check_in", {"dialogue_id": did, "participant_id": people["Carla Ruiz"]},
            code="conflict")                                                # registered online
    refused(service, "participants.check_in", {"dialogue_id": did}, code="invalid_payload")
    # A revoked (re-issued) link is refused with a clear message.
    old = links["Bo Chen"]["token"]
    invite(service, did, [people["Bo Chen"]])
    error = refused(service, "participants.check_in", {"dialogue_id": did, "token": old}, code="forbidden")
    assert "revoked" in error.message
    # An invitation to another dialogue.
    other = seed_dialogue(service, participants=(("Far Away", "room", "ngo"),))
    error = refused(service, "participants.check_in", {"dialogue_id": did, "token": other["tokens"]["participant0"]},
                    code="forbidden")
    assert "not for this one" in error.message
    # Every role sees the counts; a mistaken check-in is undone.
    assert service.snapshot(dialogue["principals"]["display"], did)["sections"]["attendance"]["in_room"] == 2
    changes = committed(service, "participants.cancel_check_in", {"dialogue_id": did,
                                                                  "participant_id": people["Bo Chen"]}).changes
    assert changes.roles[Role.DISPLAY]["sections"]["attendance"]["in_room"] == 1
    assert changes.roles[Role.PARTICIPANT]["sections"]["attendance"]["in_room"] == 1


def test_the_channel_switch_keeps_the_in_person_limit(service, dialogue):
    did = dialogue["dialogue_id"]
    people = approved(service, dialogue)["participants"]
    error = refused(service, "participant.set_channel", {"dialogue_id": did, "channel": "room",
                                                          "participant_id": people["Carla Ruiz"]}, code="conflict")
    assert "Amara Diallo and Bo Chen" in error.message and fields_of(error) == {"channel"}
    # The participant may not squeeze in either.
    carla = Principal(credential_id=invite(service, did)["Carla Ruiz"]["credential_id"])
    refused(service, "participant.set_channel", {"dialogue_id": did, "channel": "room"}, carla, code="conflict")
    # Once the in-person participant goes online (leaving the room: the check-in ends) the place is free.
    run(service, "participants.check_in", {"dialogue_id": did, "participant_id": people["Amara Diallo"]})
    outcome = committed(service, "participant.set_channel", {"dialogue_id": did, "channel": "online",
                                                             "participant_id": people["Amara Diallo"]})
    assert "attendance" in outcome.touched and participant(service, people["Amara Diallo"]).checked_in_at is None
    committed(service, "participant.set_channel", {"dialogue_id": did, "channel": "room"}, carla)
    assert (participant(service, people["Carla Ruiz"]).channel, participant(service, people["Carla Ruiz"]).alternate) \
        == ("room", False)                                                   # the alternate stays the alternate
    assert participant(service, people["Bo Chen"]).alternate is True
    # Delegations of States parties are not limited.
    for i in range(3):
        pid = run(service, "delegates.add", {"dialogue_id": did, "name": f"Delegate {i}", "delegation": "Mexico",
                                             "category": "state_party", "channel": "online"})["participant_id"]
        committed(service, "participant.set_channel", {"dialogue_id": did, "channel": "room", "participant_id": pid})


# -- the summary and personal data ------------------------------------------------------------------------
def test_summary_attendance_uses_check_in_and_connections(service, dialogue):
    did = dialogue["dialogue_id"]
    people = approved(service, dialogue)["participants"]
    with service.db.session() as s:
        registered = attendance(s, did)
    # Seed: one NGO in the room and one academic online; the application: two in the room, one online.
    assert registered["source"] == {"room": "registered", "online": "registered"}
    assert registered["totals"] == {"room": 3, "online": 2, "total": 5}
    assert "registered" in registered["note"]
    run(service, "participants.check_in", {"dialogue_id": did, "participant_id": people["Amara Diallo"]})
    committed(service, "attendance.record_connections", {"dialogue_id": did,
                                                         "participant_ids": [people["Carla Ruiz"], people["Bo Chen"]]})
    with service.db.session() as s:
        attended = attendance(s, did)
    assert attended["source"] == {"room": "checked_in", "online": "connected"}
    assert "checked in at the door" in attended["note"] and "connected online" in attended["note"]
    ngo = next(r for r in attended["rows"] if r["category"] == "ngo_ecosoc")
    assert (ngo["room"], ngo["online"]) == (1, 2)                   # Bo did not come to the door but followed online
    assert attended["totals"] == {"room": 1, "online": 2, "total": 3}


def test_deleting_personal_data_keeps_the_counts(service, dialogue):
    did = dialogue["dialogue_id"]
    people = approved(service, dialogue, grassroots=True)["participants"]
    links = invite(service, did)
    run(service, "participants.check_in", {"dialogue_id": did, "participant_id": people["Amara Diallo"]})
    run(service, "travel.request", {"dialogue_id": did, "note": "Please"},
        Principal(credential_id=links["Amara Diallo"]["credential_id"]))
    item = dialogue["item_ids"][0]
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": item})
    run(service, "queue.add_speaker", {"dialogue_id": did, "participant_id": people["Amara Diallo"]})
    run(service, "inputs.submit", {"dialogue_id": did, "text": "More shelters, please."},
        Principal(credential_id=links["Carla Ruiz"]["credential_id"]))
    error = refused(service, "privacy.delete_personal_data", {"dialogue_id": did, "confirm": True}, code="conflict")
    assert "Publish the summary first" in error.message
    run(service, "summary.mark_published", {"dialogue_id": did})
    with service.db.session() as s:
        before = attendance(s, did)
    outcome = committed(service, "privacy.delete_personal_data", {"dialogue_id": did, "confirm": True})
    assert outcome.result["participants"] == 5
    assert ("disconnect_credential", links["Amara Diallo"]["credential_id"]) in outcome.effects
    with service.db.session() as s:
        assert attendance(s, did) == before
        personal = [p for p in s.scalars(select(Participant).where(Participant.dialogue_id == did))]
        assert {p.name for p in personal} == {DELETED} and {p.email for p in personal} == {""}
        app_row = s.scalars(select(Application).where(Application.dialogue_id == did)).one()
        assert (app_row.contact_name, app_row.contact_email, app_row.travel_request_note) == ("", "", "")
        assert app_row.organization_name == "Victims' Voice e.V." and app_row.travel_support == "requested"
        assert {n.email for n in app_row.nominees} == {""} and len(app_row.nominees) == 3
        assert app_row.edit_token_hash is None                        # the edit link opens nothing any more
        assert {e.name for e in s.scalars(select(SpeakerEntry).where(SpeakerEntry.dialogue_id == did))} == {DELETED}
        assert {i.author_name for i in s.scalars(select(Input).where(Input.dialogue_id == did))} == {""}
        assert credential_for_token(s, links["Amara Diallo"]["token"]) is None
        text = str([e.payload for e in s.scalars(select(AuditEntry).where(AuditEntry.dialogue_id == did))])
        text += str([e.actor for e in s.scalars(select(AuditEntry).where(AuditEntry.dialogue_id == did))])
        text += str([r.response for r in s.scalars(select(IdempotencyRecord))])
        for secret in ("Amina Okafor", "amara@victims.example.org", "Amara Diallo", "Carla Ruiz"):
            assert secret not in text
        assert s.get(Dialogue, did).personal_data_deleted_at is not None
    refused(service, "applications.configure", {"dialogue_id": did, "open": True}, code="conflict")
    refused(service, "invitations.issue", {"dialogue_id": did}, code="conflict")
    # The other dialogues keep theirs.
    other = seed_dialogue(service)
    assert participant(service, other["participant_ids"][0]).name == "Amina Okafor"


def test_presence_counts_connected_participants_not_checked_in(service, dialogue):
    """The online figure: connected participants of this process, minus
    those checked in at the door (a phone in the room counts in the room)."""
    did = dialogue["dialogue_id"]
    people = approved(service, dialogue)["participants"]

    class Source:
        def __init__(self, connections):
            self.connections = connections

    class Connection:
        def __init__(self, participant_id, role=Role.PARTICIPANT, dialogue_id=did):
            self.participant_id, self.role, self.dialogue_id = participant_id, role, dialogue_id

    source = Source({"a": Connection(people["Amara Diallo"]), "b": Connection(people["Carla Ruiz"]),
                     "b2": Connection(people["Carla Ruiz"]), "c": Connection(None, Role.DISPLAY),
                     "d": Connection(people["Bo Chen"], dialogue_id=did + 1000)})
    register_connections(service.db.engine, source)
    with service.db.session() as s:
        assert online_now(s, did) == 2
    run(service, "participants.check_in", {"dialogue_id": did, "participant_id": people["Amara Diallo"]})
    assert service.snapshot(dialogue["principals"]["display"], did)["sections"]["attendance"] == \
        {"in_room": 1, "online": 1}
