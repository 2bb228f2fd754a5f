"""Changing an application takes its private edit link.

Through the public form (plain POST, no JavaScript) and the JSON API: the
confirmation page shows the edit link once and a mail server sends it to
the contact person; the link opens the form filled in and sending it again
changes the application; the same organization's name without it is a new
application that the secretariat's page, filters and API flag as a
possible duplicate. Anyone else — another address, another contact —
changes nothing. Updates count against the same limit as applications."""
from __future__ import annotations

import re

import pytest
from conftest import make_app, run, seed_dialogue
from sqlalchemy import select
from test_accreditation import application, open_applications
from test_accreditation_web import (  # noqa: F401 - post_form, seeded and service are fixtures
    admin_client,
    applications_count,
    assert_no_inline_code,
    csrf_of,
    form_data,
    post_form,
    seeded,
    service,
)
from test_invitation_delivery import mail_server_app

from moderation.models import Application


def stored(service) -> list[tuple]:
    with service.db.session() as s:
        return [(a.id, a.organization_name, a.contact_email, tuple(n.name for n in a.nominees), a.revision)
                for a in s.scalars(select(Application).order_by(Application.id))]


def edit_link_on(page: str) -> str:
    match = re.search(r'<a id="edit-link" href="([^"]+)">', page)
    assert match, "no edit link on the page"
    return match.group(1)


def test_the_edit_link_is_shown_once_and_opens_the_form_filled_in(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    client = sqlite_app.test_client()
    assert post_form(client, did, form_data(did)).status_code == 302
    done = client.get("/apply/done")
    page = done.get_data(as_text=True)
    assert done.headers["Cache-Control"] == "no-store" and "shown only this once" in page
    link = edit_link_on(page)
    assert link.startswith("http://localhost/apply/edit/")
    assert client.get("/apply/done").status_code == 302                   # once
    # Another browser with the link: the form, filled in, kept out of caches.
    owner = sqlite_app.test_client()
    form_page = owner.get(link.replace("http://localhost", ""))
    html = form_page.get_data(as_text=True)
    assert form_page.status_code == 200 and form_page.headers["Cache-Control"] == "no-store"
    assert_no_inline_code(html)
    token = link.rsplit("/", 1)[1]
    assert f'name="edit_token" value="{token}"' in html and "Change your application" in html
    for value in ('value="Victims Voice"', 'value="dana@vv.example.org"', 'value="Amara Diallo"',
                  'value="Carla Ruiz"', f'name="dialogue_ids" value="{did}" checked'):
        assert value in html, value
    # Sent again with a change: the same application, updated.
    changed = form_data(did, **{"participants.1.name": "", "participants.1.email": "", "edit_token": token,
                                "contact.email": "new-contact@vv.example.org"})
    response = owner.post(f"/d/{did}/apply", data={**changed, "csrf_token": csrf_of(html)})
    assert response.status_code == 302
    thanks = owner.get("/apply/done").get_data(as_text=True)
    assert "your changes are stored" in thanks and "Updated" in thanks and 'id="edit-link"' not in thanks
    [row] = stored(service)
    assert row[2:] == ("new-contact@vv.example.org", ("Amara Diallo",), 2)


def test_without_the_link_the_same_name_is_a_new_flagged_application(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    post_form(sqlite_app.test_client(), did, form_data(did))
    before = stored(service)
    # Someone else, same name, another contact and nominee.
    stranger = sqlite_app.test_client()
    response = post_form(stranger, did, form_data(did, **{
        "organization.name": "VICTIMS voice", "contact.email": "mallory@evil.example",
        "participants.0.name": "Mallory", "participants.0.email": "mallory@evil.example",
        "participants.1.name": "", "participants.1.email": ""}))
    assert response.status_code == 302 and "New application" in stranger.get("/apply/done").get_data(as_text=True)
    after = stored(service)
    assert after[0] == before[0] and len(after) == 2                        # the original is untouched
    first, second = after[0][0], after[1][0]
    # A made-up edit token changes nothing either.
    forged = post_form(stranger, did, form_data(did, edit_token="A" * 43))
    assert forged.status_code == 403 and "edit link is not valid" in forged.get_data(as_text=True)
    assert stored(service) == after
    assert sqlite_app.test_client().get("/apply/edit/" + "A" * 43).status_code == 404
    # The secretariat sees it flagged, can filter on it, and so can the API.
    admin = admin_client(sqlite_app, service)
    page = admin.get(f"/admin/d/{did}/applications").get_data(as_text=True)
    assert f'href="#application-{first}">Possible duplicate of #{first}</a>' in page
    assert page.count("Possible duplicate of #") == 1
    only = admin.get(f"/admin/d/{did}/applications?duplicate=1").get_data(as_text=True)
    assert f'id="application-{second}"' in only and f'id="application-{first}"' not in only
    token = run(service, "access.issue_api_token", {"dialogue_id": did, "role": "secretariat"})["token"]
    listed = admin.get(f"/api/v1/dialogues/{did}/applications?duplicate=true",
                       headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [(a["id"], a["possible_duplicate_of"]) for a in listed["applications"]] == [(second, first)]


def test_the_api_gives_the_token_once_and_takes_it_to_update(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    client = sqlite_app.test_client()
    answer = client.post("/api/v1/applications", json=application([did])).get_json()
    token = answer["result"]["edit_token"]
    assert answer["result"]["edit_path"] == f"/apply/edit/{token}"
    attack = application([did], contact_email="mallory@evil.example",
                         people=[("Mallory", "mallory@evil.example", "in_person")])
    assert client.post("/api/v1/applications", json=attack).get_json()["result"]["applications"][0][
        "updated"] is False
    assert client.post("/api/v1/applications/update", json={**attack, "edit_token": "B" * 43}).status_code == 403
    response = client.post("/api/v1/applications/update",
                           json={**application([did], people=[("Eve", "eve@example.org", "online")]),
                                 "edit_token": token})
    result = response.get_json()["result"]
    assert response.status_code == 200 and result["applications"][0]["updated"] and "edit_token" not in result
    rows = stored(service)
    assert rows[0][3:] == (("Eve",), 2) and rows[1][2] == "mallory@evil.example" and applications_count(service) == 2


def test_updates_count_against_the_application_limit(tmp_path):
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'limits.sqlite3'}", APPLY_RATE_BURST=2, APPLY_RATE_PER_HOUR=1)
    try:
        service = app.extensions["moderation"]
        did = seed_dialogue(service)["dialogue_id"]
        open_applications(service, did)
        client = app.test_client()
        token = client.post("/api/v1/applications", json=application([did])).get_json()["result"]["edit_token"]
        assert client.post("/api/v1/applications/update", json={**application([did]), "edit_token": token}) \
            .status_code == 200
        limited = client.post("/api/v1/applications/update", json={**application([did]), "edit_token": token})
        assert limited.status_code == 429 and limited.headers["Retry-After"]
        assert stored(service)[0][4] == 2
    finally:
        app.extensions["db"].dispose()


@pytest.fixture
def mail(tmp_path):
    with mail_server_app(tmp_path, "refused@vv.example.org") as found:
        yield found


def test_the_contact_gets_the_edit_link_by_e_mail(mail):
    app, inbox = mail
    service = app.extensions["moderation"]
    did = seed_dialogue(service)["dialogue_id"]
    open_applications(service, did)
    client = app.test_client()
    post_form(client, did, form_data(did))
    thanks = client.get("/apply/done").get_data(as_text=True)
    assert "e-mailed to dana@vv.example.org" in thanks
    [(to, message)] = inbox.messages
    assert to == ["dana@vv.example.org"] and message["Subject"] == "Application received: Victims Voice"
    text = message.get_body(("plain",)).get_content()
    link = re.search(r"https://dialogue\.example\.org/apply/edit/\S+", text).group(0)
    assert link == edit_link_on(thanks).replace("http://localhost", "https://dialogue.example.org")
    assert app.test_client().get(link.replace("https://dialogue.example.org", "")).status_code == 200
    # A change is told to the contact too, without the link.
    token = link.rsplit("/", 1)[1]
    client.post("/api/v1/applications/update", json={**application([did], name="Victims Voice"),
                                                      "edit_token": token})
    changed = inbox.messages[1][1]
    assert changed["Subject"] == "Application changed: Victims Voice"
    assert token not in changed.get_body(("plain",)).get_content()
    # Through the API as well.
    client.post("/api/v1/applications", json=application([did], name="Other Org"))
    assert inbox.messages[2][0] == ["contact@victims.example.org"]
    # A refused address: the application is stored, the page says the e-mail failed and shows the link.
    post_form(client, did, form_data(did, **{"organization.name": "Third", "contact.email": "refused@vv.example.org"}))
    thanks = client.get("/apply/done").get_data(as_text=True)
    assert 'id="receipt-failed"' in thanks and "550" in thanks and edit_link_on(thanks)
    assert applications_count(service) == 3
