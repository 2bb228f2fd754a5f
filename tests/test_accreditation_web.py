"""Accreditation through its adapters: the public form (plain POST, errors
next to their fields, nothing stored on error), the JSON API (4xx naming the
field at fault; reads for the secretariat only), the secretariat's pages,
invitations downloaded or e-mailed through a real SMTP server, a
participant's own registration, and a check-in at the door updating the
counts on a connected display (Flask-SocketIO's test client)."""
from __future__ import annotations

import datetime as dt
import email
import io
import logging
import re
import time
import zipfile
from email import policy

import pytest
from aiosmtpd.controller import Controller
from conftest import make_app, run, seed_dialogue
from sqlalchemy import func, select
from test_accreditation import Inbox, application, decode_qr, free_port, invite, local, open_applications

from moderation.models import Application, Dialogue, Participant
from moderation.web.api import openapi_document

PASSWORD = "a long enough password"
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def service(sqlite_app):
    return sqlite_app.extensions["moderation"]


@pytest.fixture
def seeded(service):
    d = seed_dialogue(service)
    open_applications(service, d["dialogue_id"])
    return d


def csrf_of(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match
    return match.group(1)


def admin_client(app, service, username="staff"):
    run(service, "user.create", {"username": username, "password": PASSWORD, "is_admin": True})
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": csrf_of(client.get("/login").get_data(as_text=True))})
    assert response.status_code == 302
    return client


def applications_count(service) -> int:
    with service.db.session() as s:
        return s.scalar(select(func.count()).select_from(Application))


def form_data(dialogue_id: int, **changes) -> dict:
    data = {
        "dialogue_ids": [str(dialogue_id)],
        "organization.name": "Victims Voice", "organization.category": "ngo", "organization.ecosoc_status": "no",
        "organization.country": "Kenya", "organization.website": "https://vv.example.org",
        "organization.grassroots": "yes", "organization.expertise": "We support survivors.",
        "contact.name": "Dana Weiss", "contact.email": "dana@vv.example.org",
        "participants.0.name": "Amara Diallo", "participants.0.email": "amara@vv.example.org",
        "participants.0.mode": "in_person",
        "participants.1.name": "Carla Ruiz", "participants.1.email": "carla@vv.example.org",
        "participants.1.mode": "online",
        "participants.2.name": "", "participants.2.email": "", "participants.2.mode": "online",
        "confirmed": "yes", "action": "submit",
    }
    data.update(changes)
    return data


def post_form(client, dialogue_id: int, data: dict):
    page = client.get(f"/d/{dialogue_id}/apply")
    return client.post(f"/d/{dialogue_id}/apply", data={**data, "csrf_token": csrf_of(page.get_data(as_text=True))})


def assert_no_inline_code(html: str) -> None:
    """The CSP refuses inline scripts and styles: the pages must have none."""
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html and " style=" not in html, "inline style"


def error_next_to(html: str, field_id: str) -> str:
    """The message shown for a field, which the field points at."""
    match = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', html)
    assert match, f"no error shown for {field_id}"
    assert re.search(rf'aria-describedby="{field_id}-error[" ]', html), f"{field_id} does not point at its error"
    return match.group(1)


# -- the public form ----------------------------------------------------------------------------
def test_the_form_says_the_rules_and_works_without_javascript(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    client = sqlite_app.test_client()
    page = client.get(f"/d/{did}/apply")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert_no_inline_code(html)
    for text in ("Organizations with ECOSOC consultative status must apply too",
                 "At most one person per organization attends in person, plus one alternate",
                 "bear their own costs", "Deadline", 'name="csrf_token"', 'method="post"'):
        assert text in html
    for name in ("organization.name", "organization.category", "organization.ecosoc_status", "organization.country",
                 "organization.website", "organization.grassroots", "organization.victim_led",
                 "organization.expertise", "contact.name", "contact.email", "participants.0.mode", "confirmed"):
        assert f'name="{name}"' in html
    # "Add another participant" without JavaScript: the form comes back with a row more, nothing stored.
    more = post_form(client, did, form_data(did, action="add_row"))
    assert more.status_code == 200 and 'name="participants.3.name"' in more.get_data(as_text=True)
    assert 'value="Amara Diallo"' in more.get_data(as_text=True) and applications_count(service) == 0
    # Sent: stored, and the thank-you page names the dialogue.
    done = post_form(client, did, form_data(did))
    assert done.status_code == 302 and done.headers["Location"].endswith("/apply/done")
    thanks = client.get("/apply/done").get_data(as_text=True)
    assert "your application is stored" in thanks and "New application" in thanks
    assert applications_count(service) == 1
    # The same organization again without its edit link: a new application (see test_application_edits.py).
    post_form(client, did, form_data(did, **{"organization.name": "VICTIMS  voice"}))
    assert "New application" in client.get("/apply/done").get_data(as_text=True)
    assert applications_count(service) == 2
    # The index lists the dialogue.
    assert f"/d/{did}/apply" in client.get("/apply").get_data(as_text=True)


def test_form_errors_are_shown_next_to_their_fields_and_nothing_is_stored(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    client = sqlite_app.test_client()
    bad = form_data(did, **{"contact.email": "dana-at-example", "organization.country": "",
                            "participants.2.name": "Bo Chen", "participants.2.email": "bo@vv.example.org",
                            "participants.2.mode": "in_person"})
    del bad["confirmed"]
    del bad["organization.ecosoc_status"]
    response = post_form(client, did, bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert_no_inline_code(html)
    assert "Nothing was stored" in html
    assert "e-mail address such as" in error_next_to(html, "contact-email")
    assert error_next_to(html, "organization-country") == "Required."
    assert error_next_to(html, "organization-ecosoc_status") == "Required."
    assert "one person per organization can attend in person" in error_next_to(html, "participants-2-mode")
    assert "confirm" in error_next_to(html, "confirmed")
    # What was typed is kept.
    assert 'value="dana-at-example"' in html and 'value="Bo Chen"' in html
    assert applications_count(service) == 0
    # An empty row in the middle keeps its number: the error names the row as shown.
    gap = form_data(did, **{"participants.1.name": "", "participants.1.email": "",
                            "participants.2.name": "Bo Chen", "participants.2.email": "bo@"})
    html = post_form(client, did, gap).get_data(as_text=True)
    error_next_to(html, "participants-2-email")
    assert applications_count(service) == 0


def test_after_the_deadline_the_page_says_so_and_stores_nothing(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    open_applications(service, did, deadline=local(NOW - dt.timedelta(minutes=1), "Europe/Vienna"))
    client = sqlite_app.test_client()
    html = client.get(f"/d/{did}/apply").get_data(as_text=True)
    assert "passed on" in html and 'id="apply-form"' not in html
    response = post_form(client, did, form_data(did))
    assert response.status_code == 403 and "Nothing was stored" in response.get_data(as_text=True)
    assert applications_count(service) == 0
    # The secretariat, signed in, enters it as a late application on the same page.
    admin = admin_client(sqlite_app, service)
    page = admin.get(f"/d/{did}/apply").get_data(as_text=True)
    assert "late application" in page and 'id="apply-form"' in page
    response = admin.post(f"/d/{did}/apply", data={**form_data(did), "csrf_token": csrf_of(page)})
    assert response.status_code == 302
    with service.db.session() as s:
        assert s.scalars(select(Application)).one().late is True


# -- the JSON API --------------------------------------------------------------------------------
def test_the_api_answers_4xx_with_the_field_at_fault(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    client = sqlite_app.test_client()
    cases = [
        (lambda a: a["contact"].update(email="nope"), 422, "contact.email"),
        (lambda a: a["organization"].pop("expertise"), 422, "organization.expertise"),
        (lambda a: a["participants"].append({"name": "X", "email": "x@y.org", "mode": "in_person"}), 422,
         "participants.3.mode"),
    ]
    for change, status, field in cases:
        body = application([did])
        change(body)
        response = client.post("/api/v1/applications", json=body)
        data = response.get_json()
        assert response.status_code == status and data["ok"] is False
        assert field in {d["field"] for d in data["error"]["details"]}
    assert applications_count(service) == 0
    assert client.post("/api/v1/applications", json=application([did])).status_code == 200
    open_applications(service, did, deadline=local(NOW - dt.timedelta(minutes=1), "Europe/Vienna"))
    late = client.post("/api/v1/applications", json=application([did], name="Too Late"))
    assert late.status_code == 403 and late.get_json()["error"]["details"][0]["field"] == "dialogue_ids"
    assert applications_count(service) == 1


def test_only_the_secretariat_sees_applications_and_personal_data(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    run(service, "applications.submit", application([did]), )
    secretariat = run(service, "access.issue_api_token", {"dialogue_id": did, "role": "secretariat"})["token"]
    reads = [f"/api/v1/dialogues/{did}/applications", f"/api/v1/dialogues/{did}/participants/export",
             f"/api/v1/dialogues/{did}/travel-support/export"]
    pages = [f"/admin/d/{did}/applications", f"/admin/d/{did}/participants", f"/admin/d/{did}/checkin"]
    anonymous = sqlite_app.test_client()
    participant = sqlite_app.test_client()
    participant.get(f"/l/{seeded['tokens']['participant0']}")
    moderator = sqlite_app.test_client()
    moderator.get(f"/l/{seeded['tokens']['moderator']}")
    for path in reads:
        assert anonymous.get(path).status_code == 401
        assert participant.get(path).status_code == 403
        assert moderator.get(path).status_code == 403
        assert anonymous.get(path, headers={"Authorization": f"Bearer {seeded['tokens']['api_moderator']}"}) \
            .status_code == 403
        assert anonymous.get(path, headers={"Authorization": f"Bearer {secretariat}"}).status_code == 200
    for path in pages:
        assert anonymous.get(path).headers["Location"] == f"/login?next={path}"
        assert participant.get(path).status_code == 403
        assert moderator.get(path).status_code == 403
    listed = anonymous.get(reads[0] + "?status=pending&sort=organization",
                           headers={"Authorization": f"Bearer {secretariat}"}).get_json()
    assert listed["total"] == 1 and listed["applications"][0]["contact"]["email"] == "contact@victims.example.org"
    bad = anonymous.get(reads[0] + "?status=maybe", headers={"Authorization": f"Bearer {secretariat}"})
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["field"] == "status"
    # The secretariat's pages show it, without inline code.
    admin = admin_client(sqlite_app, service)
    for path in pages:
        response = admin.get(path)
        assert response.status_code == 200, path
        assert_no_inline_code(response.get_data(as_text=True))
    assert "contact@victims.example.org" in admin.get(pages[0]).get_data(as_text=True)
    filtered = admin.get(pages[0] + "?category=academia").get_data(as_text=True)
    assert "contact@victims.example.org" not in filtered and "No application matches" in filtered


def test_operation_ids_in_the_openapi_document(sqlite_app):
    from openapi_spec_validator import validate
    with sqlite_app.app_context():
        document = openapi_document()
    validate(document)
    ids = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert {"submitApplication", "listApplications", "decideApplication", "checkIn", "requestTravelSupport",
            "exportParticipants", "sendInvitations", "issueInvitations", "importDelegates",
            "deletePersonalData"} <= ids


# -- reviewing and inviting through the pages ------------------------------------------------------
def submit_and_approve(sqlite_app, service, seeded, admin):
    did = seeded["dialogue_id"]
    run(service, "applications.submit", application([did], grassroots=True))
    page = admin.get(f"/admin/d/{did}/applications").get_data(as_text=True)
    aid = re.search(r'name="application_ids" value="(\d+)"', page).group(1)
    response = admin.post(f"/admin/d/{did}/applications/decide", data={
        "csrf_token": csrf_of(page), "application_ids": [aid], "decision": "approve",
        "decided_by_body": "Extended Bureau"})
    assert response.status_code == 302
    return did


def test_approving_then_downloading_the_invitations(sqlite_app, service, seeded):
    admin = admin_client(sqlite_app, service)
    did = submit_and_approve(sqlite_app, service, seeded, admin)
    page = admin.get(f"/admin/d/{did}/participants").get_data(as_text=True)
    assert "No mail server is configured" in page and "were just approved" in page
    response = admin.post(f"/admin/d/{did}/invitations", data={"csrf_token": csrf_of(page), "scope": "new",
                                                                "delivery_default": "download"})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    emls = [n for n in archive.namelist() if n.endswith(".eml")]
    assert len(emls) == 3 and "invitations.csv" in archive.namelist()
    csv_text = archive.read("invitations.csv").decode("utf-8-sig")
    links = re.findall(r"http://localhost/l/[A-Za-z0-9_\-]+", csv_text)
    assert len(links) == 3
    in_person = next(n for n in emls if "amara" in n)
    message = email.message_from_bytes(archive.read(in_person), policy=policy.default)
    qr = next(p for p in message.walk() if p.get_content_type() == "image/png")
    link = decode_qr(qr.get_content())
    assert link in links
    # The link from the QR code opens the participant's page.
    visitor = sqlite_app.test_client()
    assert visitor.get(link.replace("http://localhost", "")).headers["Location"] == f"/d/{did}/participant"
    with service.db.session() as s:
        assert {p.invitation_delivery for p in s.scalars(select(Participant).where(
            Participant.application_id.is_not(None)))} == {"download"}


@pytest.fixture
def smtp_app(tmp_path):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'smtp.sqlite3'}", SMTP_HOST="127.0.0.1",
                   SMTP_PORT=str(controller.port), SMTP_STARTTLS="0", SMTP_FROM="Secretariat <dialogue@example.org>",
                   PUBLIC_URL="https://dialogue.example.org")
    yield app, inbox
    app.extensions["db"].dispose()
    controller.stop()


def test_approval_sends_the_invitations_by_email(smtp_app):
    app, inbox = smtp_app
    service = app.extensions["moderation"]
    seeded = seed_dialogue(service)
    open_applications(service, seeded["dialogue_id"])
    admin = admin_client(app, service)
    did = submit_and_approve(app, service, seeded, admin)
    invitations = [(to, m) for to, m in inbox.messages if m["Subject"].startswith("Invitation: ")]
    messages = {tuple(to): m for to, m in invitations}
    assert set(messages) == {("amara@victims.example.org",), ("bo@victims.example.org",),
                             ("carla@victims.example.org",)}
    amara = messages[("amara@victims.example.org",)]
    assert amara["From"] == "Secretariat <dialogue@example.org>"
    link = re.search(r"https://dialogue\.example\.org/l/\S+", amara.get_body(("plain",)).get_content()).group(0)
    assert decode_qr(next(p for p in amara.walk() if p.get_content_type() == "image/png").get_content()) == link
    assert not [p for p in messages[("carla@victims.example.org",)].walk() if p.get_content_type() == "image/png"]
    page = admin.get(f"/admin/d/{did}/participants").get_data(as_text=True)
    assert "3 invitation(s) sent by e-mail" in page and "e-mailed" in page
    # The API: send again to one person (the old link is revoked), here as files.
    token = run(service, "access.issue_api_token", {"dialogue_id": did, "role": "secretariat"})["token"]
    with service.db.session() as s:
        pid = s.scalars(select(Participant.id).where(Participant.email == "amara@victims.example.org")).one()
    response = app.test_client().post(f"/api/v1/dialogues/{did}/invitations/send",
                                      json={"participant_ids": [pid], "delivery": "download"},
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.mimetype == "application/zip"
    assert app.test_client().get(link.replace("https://dialogue.example.org", "")).status_code == 401   # revoked
    report = app.test_client().post(f"/api/v1/dialogues/{did}/invitations/send", json={"participant_ids": [pid]},
                                    headers={"Authorization": f"Bearer {token}"}).get_json()
    assert report["ok"] and report["sent"] == [pid]
    assert len([m for _, m in inbox.messages if m["Subject"].startswith("Invitation: ")]) == 4


# -- a participant's own page ---------------------------------------------------------------------
def test_a_participant_sees_their_own_data_and_asks_for_travel_support(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    run(service, "applications.submit", application([did], grassroots=True))
    with service.db.session() as s:
        aid = s.scalars(select(Application.id)).one()
    run(service, "applications.decide", {"dialogue_id": did, "application_ids": [aid], "decision": "approve"})
    links = invite(service, did)
    client = sqlite_app.test_client()
    client.get(f"/l/{links['Carla Ruiz']['token']}")
    page = client.get(f"/d/{did}/registration")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert_no_inline_code(html)
    assert "carla@victims.example.org" in html and "amara@victims.example.org" not in html
    assert "contact@victims.example.org" not in html and "travel support" in html
    response = client.post(f"/d/{did}/registration", data={"csrf_token": csrf_of(html), "note": "Two tickets"})
    assert response.status_code == 302
    assert "decides case by case" in client.get(f"/d/{did}/registration").get_data(as_text=True)
    with service.db.session() as s:
        assert s.get(Application, aid).travel_support == "requested"
    # Someone else's participant page is not theirs.
    assert sqlite_app.test_client().get(f"/d/{did}/registration").status_code == 401


# -- check-in and the live counts --------------------------------------------------------------------
def received(client, event: str, timeout: float = 4.0) -> list:
    """Messages of ``event`` that arrived (waiting a little for background emits)."""
    deadline = time.monotonic() + timeout
    found = []
    while time.monotonic() < deadline:
        found += [m["args"][0] for m in client.get_received() if m["name"] == event]
        if found:
            return found
        time.sleep(0.1)
    return found


def test_check_in_updates_the_counts_on_a_connected_display(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    socketio = sqlite_app.extensions["socketio"]
    display = socketio.test_client(sqlite_app, auth={"dialogue_id": did, "token": seeded["tokens"]["display"]})
    assert display.is_connected()
    snapshot = next(m["args"][0] for m in display.get_received() if m["name"] == "snapshot")
    assert snapshot["sections"]["attendance"] == {"in_room": 0, "online": 0}
    admin = admin_client(sqlite_app, service)
    page = admin.get(f"/admin/d/{did}/checkin").get_data(as_text=True)
    assert 'id="count-room">0<' in page
    # A USB scanner types the whole link into the box (the form works without JavaScript).
    response = admin.post(f"/admin/d/{did}/checkin", data={
        "csrf_token": csrf_of(page), "token": f"http://localhost/l/{seeded['tokens']['participant0']}"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Checked in: Amina Okafor" in html and 'id="count-room">1<' in html
    changes = received(display, "change")
    assert changes and changes[-1]["sections"]["attendance"]["in_room"] == 1
    # A forged code: a clear message, nothing changes.
    forged = admin.post(f"/admin/d/{did}/checkin", data={"csrf_token": csrf_of(page), "token": "abc123forged"})
    assert forged.status_code == 404 and "not an invitation" in forged.get_data(as_text=True)
    # The name search finds the online participant, who cannot be checked in at the door.
    search = admin.get(f"/admin/d/{did}/checkin?q=jonas").get_data(as_text=True)
    assert "Jonas Lindqvist" in search and "Check in Jonas" not in search
    # Online attendance comes from connections: a participant connects, the display is told.
    online = socketio.test_client(sqlite_app, auth={"dialogue_id": did, "token": seeded["tokens"]["participant1"]})
    assert online.is_connected()
    presence = received(display, "presence")
    assert presence and presence[-1] == {"dialogue_id": did, "online": 1, "server_time": presence[-1]["server_time"]}
    online.disconnect()
    assert received(display, "presence")[-1]["online"] == 0
    # The first connection is recorded for the summary's attendance.
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        with service.db.session() as s:
            if s.get(Participant, seeded["participant_ids"][1]).connected_at is not None:
                break
        time.sleep(0.1)
    else:
        pytest.fail("the first connection was not recorded")
    display.disconnect()


def test_a_restarted_server_does_not_record_known_connections_again(sqlite_app, service, seeded):
    """After a restart the whole room reconnects at once: participants whose
    first connection is recorded take no new version (each would be a change
    for every screen), and a participant never seen before still is recorded."""
    from moderation.features.accreditation.web import PresenceWatcher

    did = seeded["dialogue_id"]
    known, new = seeded["participant_ids"][0], seeded["participant_ids"][1]
    realtime = sqlite_app.extensions["realtime"]
    first = PresenceWatcher(service, realtime)
    first.flush(set(), {did: {known}})
    with service.db.session() as s:
        recorded_at = s.get(Participant, known).connected_at
        version = s.get(Dialogue, did).version
    assert recorded_at is not None
    restarted = PresenceWatcher(service, realtime)  # a new process knows nobody
    restarted.flush(set(), {did: {known}})
    with service.db.session() as s:
        assert s.get(Dialogue, did).version == version, "nothing to record: no new version"
        assert s.get(Participant, known).connected_at == recorded_at
    restarted.flush(set(), {did: {known, new}})
    with service.db.session() as s:
        assert s.get(Dialogue, did).version == version + 1
        assert s.get(Participant, new).connected_at is not None
        assert s.get(Participant, known).connected_at == recorded_at


@pytest.mark.postgres
def test_connections_seen_while_the_database_is_down_are_recorded_later(tmp_path, postgres_server_url, caplog):
    """A participant who connects while PostgreSQL cannot be reached (a real
    outage: the connection to it cut by a proxy, so the driver's own error
    comes up, not the command layer's) is still counted as attending once it
    is back, and the online figure is sent again then."""
    from types import SimpleNamespace

    from conftest import empty_postgres
    from fault_tools import TcpProxy
    from sqlalchemy.engine import make_url

    from moderation.features.accreditation.web import PresenceWatcher

    empty_postgres(postgres_server_url)
    direct = make_url(postgres_server_url)
    with TcpProxy(direct.port or 5432, direct.host or "127.0.0.1") as proxy:
        app = make_app(tmp_path, direct.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
        try:
            service = app.extensions["moderation"]
            seeded = seed_dialogue(service)
            did, pid = seeded["dialogue_id"], seeded["participant_ids"][0]
            # The participant is connected (the app's own watcher set aside:
            # this test runs the ticks itself).
            app.extensions["realtime"].presence_listeners.clear()
            participant = app.extensions["socketio"].test_client(
                app, auth={"dialogue_id": did, "token": seeded["tokens"]["participant0"]})
            assert participant.is_connected()
            hints = []
            screens = SimpleNamespace(send_hint=lambda event, message, dialogue_id, roles: hints.append(message))
            watcher = PresenceWatcher(service, screens)

            proxy.cut()
            caplog.clear()
            watcher.flush({did}, {did: {pid}})
            pending, watcher._new = watcher._new, {}
            assert pending == {did: {pid}}, "kept for the next tick"
            dirty, watcher._dirty = watcher._dirty, set()
            assert dirty == {did}, "the online figure is sent again at the next tick"
            assert hints == []
            said = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING]
            assert [level for level, _ in said] == ["WARNING", "WARNING"], said
            assert all("will try again" in message for _, message in said)
            assert not any(r.exc_info for r in caplog.records), "an outage is no bug: no traceback"

            proxy.restore()
            watcher.flush(dirty, pending)
            with service.db.session() as s:
                assert s.get(Participant, pid).connected_at is not None
            assert watcher._new == {} and watcher._dirty == set()
            assert [(h["dialogue_id"], h["online"]) for h in hints] == [(did, 1)]
            participant.disconnect()
            # A dialogue that is gone has nothing to keep.
            other = seeded["participant_ids"][1]
            watcher.flush(set(), {999_999: {other}})
            assert watcher._new == {}
            with service.db.session() as s:
                assert s.get(Participant, other).connected_at is None
        finally:
            app.extensions["db"].dispose()
