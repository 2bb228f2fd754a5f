"""Sending invitations never leaves someone without a working link.

Through the real API and real SMTP servers (aiosmtpd; one that refuses a
recipient, one that drops every connection, none at all): a person whose
e-mail could not be sent keeps their old link and gets no new one; the
others are invited; the answer lists who was sent and who was not, and why,
never a 500. Names stored before line breaks were refused (old rows) cannot
add a header to the message."""
from __future__ import annotations

import email
import io
import re
import socket
import threading
import zipfile
from contextlib import contextmanager
from email import policy

import pytest
from aiosmtpd.controller import Controller
from conftest import make_app, run, seed_dialogue
from sqlalchemy import select
from test_accreditation import Inbox, application, free_port, open_applications

from moderation.core.auth import credential_for_token
from moderation.core.errors import CommandError
from moderation.features.accreditation.invitations import header_text, letter
from moderation.models import Credential, Participant

EVIL = "Mallory\r\nBcc: victim@evil.example"


class DroppingServer:
    """An SMTP server that greets, then drops the connection at the first
    command: a mail server that is broken, not absent."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with connection:
                connection.sendall(b"220 broken.example ESMTP\r\n")
                connection.recv(1024)

    def close(self):
        self.listener.close()


def smtp_app_on(tmp_path, port: int, name: str = "smtp"):
    return make_app(tmp_path, f"sqlite:///{tmp_path / (name + '.sqlite3')}", SMTP_HOST="127.0.0.1",
                    SMTP_PORT=str(port), SMTP_STARTTLS="0", SMTP_FROM="Secretariat <dialogue@example.org>",
                    PUBLIC_URL="https://dialogue.example.org")


@contextmanager
def mail_server_app(tmp_path, refuse: str):
    """A real mail server (aiosmtpd) that refuses one address (550), and an
    app that uses it: (app, inbox)."""
    inbox = Inbox(refuse=refuse)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app = smtp_app_on(tmp_path, controller.port)
    try:
        yield app, inbox
    finally:
        app.extensions["db"].dispose()
        controller.stop()


@pytest.fixture
def refusing(tmp_path):
    with mail_server_app(tmp_path, "carla@victims.example.org") as found:
        yield found


def approved_people(service) -> tuple[int, dict[str, int], str]:
    """A dialogue with an approved application: (dialogue id, participant ids
    by name, a secretariat API token)."""
    seeded = seed_dialogue(service)
    did = seeded["dialogue_id"]
    open_applications(service, did)
    aid = run(service, "applications.submit", application([did]))["applications"][0]["application_id"]
    run(service, "applications.decide", {"dialogue_id": did, "application_ids": [aid], "decision": "approve"})
    with service.db.session() as s:
        people = {p.name: p.id for p in s.scalars(select(Participant).where(Participant.application_id == aid))}
    token = run(service, "access.issue_api_token", {"dialogue_id": did, "role": "secretariat"})["token"]
    return did, people, token


def live_links(service, participant_id: int) -> list[int]:
    with service.db.session() as s:
        return list(s.scalars(select(Credential.id).where(
            Credential.participant_id == participant_id, Credential.kind == "link",
            Credential.revoked_at.is_(None))))


def send(app, did: int, token: str, **body):
    return app.test_client().post(f"/api/v1/dialogues/{did}/invitations/send", json=body,
                                  headers={"Authorization": f"Bearer {token}"})


def invitations_in(inbox) -> list[tuple[list[str], object]]:
    """The invitations received (not the receipts of the applications)."""
    return [(to, m) for to, m in inbox.messages if m["Subject"].startswith("Invitation: ")]


def links_in(inbox) -> dict[str, str]:
    found = {}
    for to, message in invitations_in(inbox):
        text = message.get_body(("plain",)).get_content()
        found[to[0]] = re.search(r"https://dialogue\.example\.org/l/(\S+)", text).group(1)
    return found


def test_a_refused_recipient_keeps_the_old_link_and_the_others_are_invited(refusing):
    app, inbox = refusing
    service = app.extensions["moderation"]
    did, people, token = approved_people(service)
    first = run(service, "invitations.issue", {"dialogue_id": did})["invitations"]   # everyone's first link
    old = {i["name"]: i["token"] for i in first}
    response = send(app, did, token)                                       # no one new: nothing to do
    assert response.status_code == 200 and response.get_json()["count"] == 0
    response = send(app, did, token, participant_ids=list(people.values()), delivery="email")
    report = response.get_json()
    assert response.status_code == 200 and report["ok"] is True
    assert sorted(report["sent"]) == sorted([people["Amara Diallo"], people["Bo Chen"]])
    assert [(f["participant_id"], f["name"]) for f in report["failed"]] == [(people["Carla Ruiz"], "Carla Ruiz")]
    assert "550" in report["failed"][0]["reason"] and "Carla Ruiz" in report["message"]
    delivered = links_in(inbox)
    with service.db.session() as s:
        # Carla: her old link still works, and she has no other.
        assert credential_for_token(s, old["Carla Ruiz"]) is not None
        assert live_links(service, people["Carla Ruiz"]) == [credential_for_token(s, old["Carla Ruiz"]).id]
        assert s.get(Participant, people["Carla Ruiz"]).invitation_delivery == ""
        # The others: the e-mailed link works, the old one is revoked.
        for name, address in (("Amara Diallo", "amara@victims.example.org"), ("Bo Chen", "bo@victims.example.org")):
            assert credential_for_token(s, old[name]) is None
            new = credential_for_token(s, delivered[address])
            assert new is not None and live_links(service, people[name]) == [new.id]
            assert s.get(Participant, people[name]).invitation_delivery == "email"


@pytest.mark.parametrize("server", ["dropping", "absent"])
def test_a_broken_mail_server_changes_no_ones_link(tmp_path, server):
    dropping = DroppingServer() if server == "dropping" else None
    app = smtp_app_on(tmp_path, dropping.port if dropping else free_port())
    try:
        service = app.extensions["moderation"]
        did, people, token = approved_people(service)
        first = {i["participant_id"]: i["credential_id"] for i in run(service, "invitations.issue",
                                                                      {"dialogue_id": did})["invitations"]}
        response = send(app, did, token, participant_ids=list(people.values()), delivery="email")
        report = response.get_json()
        assert response.status_code == 200 and report["sent"] == []
        assert sorted(f["participant_id"] for f in report["failed"]) == sorted(people.values())
        assert all("could not be used" in f["reason"] for f in report["failed"])
        for pid in people.values():
            assert live_links(service, pid) == [first[pid]]                 # the old link, and only it
        # Never invited before: still "not invited", so "invite everyone new" tries them again.
        with service.db.session() as s:
            newcomer = s.get(Participant, people["Amara Diallo"])
            assert newcomer.invitation_delivery == ""
        if dropping:
            assert dropping.connections >= 1
    finally:
        app.extensions["db"].dispose()
        if dropping:
            dropping.close()


def test_first_invitations_that_fail_are_tried_again_with_everyone_new(tmp_path):
    app = smtp_app_on(tmp_path, free_port())
    try:
        service = app.extensions["moderation"]
        did, people, token = approved_people(service)
        report = send(app, did, token).get_json()                        # everyone new, server absent
        assert report["sent"] == [] and len(report["failed"]) == 3
        for pid in people.values():
            assert live_links(service, pid) == []
        with service.db.session() as s:
            assert all(s.get(Participant, pid).invited_at is None for pid in people.values())
        # Issuing for everyone new finds the same three again.
        again = run(service, "invitations.issue", {"dialogue_id": did})["invitations"]
        assert sorted(i["participant_id"] for i in again) == sorted(people.values())
    finally:
        app.extensions["db"].dispose()


def test_a_stored_name_with_a_line_break_adds_no_header(refusing):
    """Rows stored before line breaks were refused: the name is written as
    one line, the message goes to its one recipient only."""
    app, inbox = refusing
    service = app.extensions["moderation"]
    did, people, token = approved_people(service)
    with service.db.session() as s, s.begin():
        s.get(Participant, people["Amara Diallo"]).name = EVIL
    report = send(app, did, token, participant_ids=[people["Amara Diallo"]], delivery="email").get_json()
    assert report["sent"] == [people["Amara Diallo"]] and report["failed"] == []
    [(recipients, message)] = invitations_in(inbox)
    assert recipients == ["amara@victims.example.org"]
    assert "Bcc" not in message and [a.addr_spec for a in message["To"].addresses] == ["amara@victims.example.org"]
    assert str(message["To"]) == '"Mallory Bcc: victim@evil.example" <amara@victims.example.org>'
    # The downloaded draft too.
    with service.db.session() as s, s.begin():
        s.get(Participant, people["Bo Chen"]).name = "Bo\u2028Chen\x85\nTo: victim@evil.example"
    response = send(app, did, token, participant_ids=[people["Bo Chen"]], delivery="download")
    assert response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    [eml] = [n for n in archive.namelist() if n.endswith(".eml")]
    draft = email.message_from_bytes(archive.read(eml), policy=policy.default)
    assert draft.get_all("To") == ['"Bo Chen To: victim@evil.example" <bo@victims.example.org>']


def test_headers_are_one_line_whatever_is_stored():
    assert header_text("  Mallory\r\n\tBcc: x@y.z\u2028 ") == "Mallory Bcc: x@y.z"
    invitation = {"participant_id": 1, "name": EVIL, "email": "m@example.org", "link_path": "/l/abc",
                  "channel": "online", "organization": "Org\nX-Evil: 1"}
    written = letter(invitation, {"title": "Dialogue\r\nBcc: victim@evil.example"}, "https://x.example",
                     "Secretariat\r\n <s@x.example>")
    raw = written.message.as_bytes()
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\nBcc" not in headers and b"\nX-Evil" not in headers
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "Invitation: Dialogue Bcc: victim@evil.example"
    assert [str(a) for a in parsed["To"].addresses] == ['"Mallory Bcc: victim@evil.example" <m@example.org>']


@pytest.mark.parametrize("bad", ["a<b@c.de", "a,b@example.org", "a..b@example.org", "\"x\"y@example.org"])
def test_addresses_no_header_can_carry_are_refused_at_entry(service, dialogue, bad):
    did = dialogue["dialogue_id"]
    open_applications(service, did)
    body = application([did], people=[("Ana Lima", bad, "online")])
    cases = [("applications.submit", body, "participants.0.email"),
             ("participant.register", {"dialogue_id": did, "name": "Ana", "email": bad}, "email"),
             ("delegates.add", {"dialogue_id": did, "name": "Ana", "email": bad, "delegation": "Austria",
                                "category": "state_party"}, "email")]
    for name, payload, field in cases:
        with pytest.raises(CommandError) as caught:
            run(service, name, payload)
        assert caught.value.code == "invalid_payload" and field in {d["field"] for d in caught.value.details}
