"""The pages, through Flask's test client: who may open which page, what the
first paint shows, that user text is escaped, that the CSP holds (no inline
script or style anywhere), sign-in, joining with a code, and the
secretariat's pages. The browser side (static/js) is looked at in a real
browser separately; here we check what the server sends it."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import run, seed_dialogue
from sqlalchemy import func, select

from moderation.models import Credential, Participant

ROOT = Path(__file__).resolve().parent.parent
ROLE_PAGES = ("moderator", "participant", "display", "rapporteur")
TOKEN_FOR = {"moderator": "moderator", "participant": "participant0", "display": "display",
             "rapporteur": "rapporteur"}
PASSWORD = "a long enough password"


@pytest.fixture
def service(sqlite_app):
    return sqlite_app.extensions["moderation"]


@pytest.fixture
def seeded(service):
    return seed_dialogue(service)


def open_link(app, token: str):
    """A browser that opened a personal link: (client, the page it landed on)."""
    client = app.test_client()
    response = client.get(f"/l/{token}")
    assert response.status_code == 302
    return client, response.headers["Location"]


def client_for(app, seeded, role: str):
    client, location = open_link(app, seeded["tokens"][TOKEN_FOR[role]])
    assert location == f"/d/{seeded['dialogue_id']}/{role}"
    return client


def admin_client(app, service):
    run(service, "user.create", {"username": "staff", "password": PASSWORD, "is_admin": True})
    client = app.test_client()
    response = client.post("/login", data={"username": "staff", "password": PASSWORD,
                                           "csrf_token": csrf_of(client.get("/login").get_data(as_text=True))})
    assert response.status_code == 302
    return client


def csrf_of(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "every page carries the CSRF token in <meta name=csrf-token>"
    return match.group(1)


class PageAudit(HTMLParser):
    """Collects what the CSP would block or what would run user text as code."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.scripts: list[dict] = []
        self.in_script = False
        self.landmarks: set[str] = set()
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.append(attributes["id"])
        if tag in ("main", "header", "nav"):
            self.landmarks.add(tag)
        if tag == "style":
            self.problems.append("<style> block")
        if "style" in attributes:
            self.problems.append(f"style attribute on <{tag}>")
        for name, value in attributes.items():
            if name.startswith("on"):
                self.problems.append(f"inline event handler {name} on <{tag}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL on <{tag}>")
        if tag == "script":
            self.scripts.append(attributes)
            self.in_script = True
            if not attributes.get("src"):
                self.problems.append("inline <script> without src")

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_script and data.strip():
            self.problems.append("script with inline code")


def audit(html: str) -> PageAudit:
    parser = PageAudit()
    parser.feed(html)
    parser.close()
    return parser


# -- role pages ---------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLE_PAGES)
def test_role_page_renders_for_its_role(sqlite_app, seeded, role):
    client = client_for(sqlite_app, seeded, role)
    response = client.get(f"/d/{seeded['dialogue_id']}/{role}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Constructive Dialogue on Trafficking in Persons" in html
    assert f'data-dialogue-id="{seeded["dialogue_id"]}"' in html and f'data-role="{role}"' in html
    assert re.search(r'data-version="\d+"', html) and re.search(r'data-server-time="\d{13}"', html)
    page = audit(html)
    srcs = [script.get("src", "") for script in page.scripts]
    assert any("vendor/socket.io/socket.io.min.js" in src for src in srcs)
    assert any(f"js/{role}.js" in src and script.get("type") == "module"
               for src, script in zip(srcs, page.scripts, strict=False))
    assert "main" in page.landmarks
    assert 'id="connection"' in html and 'aria-live="polite"' in html
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"


@pytest.mark.parametrize("role,other", [("participant", "moderator"), ("display", "participant"),
                                        ("rapporteur", "moderator"), ("moderator", "display")])
def test_role_page_refuses_other_roles(sqlite_app, seeded, role, other):
    client = client_for(sqlite_app, seeded, role)
    response = client.get(f"/d/{seeded['dialogue_id']}/{other}")
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "Not available to you" in html and "forbidden" in html
    assert f"You do not hold the {other} role" in html


def test_role_page_of_another_dialogue_is_refused(sqlite_app, service, seeded):
    other = seed_dialogue(service)
    client = client_for(sqlite_app, seeded, "moderator")
    response = client.get(f"/d/{other['dialogue_id']}/moderator")
    assert response.status_code in (401, 403)
    assert "error" in response.get_data(as_text=True).lower()


@pytest.mark.parametrize("role", ROLE_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(sqlite_app, seeded, role):
    path = f"/d/{seeded['dialogue_id']}/{role}"
    response = sqlite_app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert path.replace("/", "%2F") in response.headers["Location"] or path in response.headers["Location"]


def test_revoked_link_gets_a_friendly_page(sqlite_app, service, seeded):
    token = seeded["tokens"]["display"]
    run(service, "access.revoke", {"dialogue_id": seeded["dialogue_id"],
                                   "credential_id": seeded["principals"]["display"].credential_id})
    response = sqlite_app.test_client().get(f"/l/{token}")
    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "This link does not work" in html and "link_revoked" in html


def test_unknown_page_is_a_404_page(sqlite_app):
    response = sqlite_app.test_client().get("/no/such/page")
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)


# -- what the first paint shows --------------------------------------------------------
def test_participant_page_shows_agenda_person_and_times(sqlite_app, seeded):
    client = client_for(sqlite_app, seeded, "participant")
    html = client.get(f"/d/{seeded['dialogue_id']}/participant").get_data(as_text=True)
    # The seeded dialogue starts at 10:00 Vienna time; items of 20, 15, 60, 45 minutes.
    for start in ("10:00", "10:20", "10:35", "11:35"):
        assert f'<span class="agenda-start">{start}</span>' in html
    assert "12:20" in html  # planned end
    assert "Amina Okafor" in html and "Amina Okafor Organization" in html
    assert "In the room" in html
    assert "Up next" in html and "Planned start 10:00" in html


def test_moderator_page_shows_running_countdown_and_controls(sqlite_app, service, seeded):
    run(service, "agenda.advance", {"dialogue_id": seeded["dialogue_id"]}, seeded["principals"]["moderator"])
    client = client_for(sqlite_app, seeded, "moderator")
    html = client.get(f"/d/{seeded['dialogue_id']}/moderator").get_data(as_text=True)
    timer = re.search(r'<span class="countdown countdown-large"[^>]*data-status="running"[^>]*'
                      r'data-ends-at="(\d+)"[^>]*>([^<]*)</span>', html, re.S)
    assert timer, "the current item's countdown is rendered with its absolute end time"
    assert timer.group(2) in ("20:00", "19:59")
    for key, label in (("N", "Next item"), ("P", "Pause"), ("E", "End item")):
        assert f'aria-keyshortcuts="{key}"' in html and label in html
    assert 'aria-current="step"' in html  # the running item is marked in the agenda
    # Nothing applies before the first item: the controls say so.
    fresh = seed_dialogue(service)
    client = client_for(sqlite_app, fresh, "moderator")
    html = client.get(f"/d/{fresh['dialogue_id']}/moderator").get_data(as_text=True)
    pause = re.search(r'<button[^>]*id="action-pause"[^>]*>', html).group(0)
    assert 'aria-disabled="true"' in pause
    assert "Start first item" in html


def test_display_page_shows_current_and_next_item_without_controls(sqlite_app, service, seeded):
    run(service, "agenda.advance", {"dialogue_id": seeded["dialogue_id"]}, seeded["principals"]["moderator"])
    client = client_for(sqlite_app, seeded, "display")
    html = client.get(f"/d/{seeded['dialogue_id']}/display").get_data(as_text=True)
    assert "countdown-huge" in html
    assert re.search(r'id="next-title">Update on the working group<', html)
    assert "<button" not in html and "<form" not in html


def test_paused_item_shows_paused_note(sqlite_app, service, seeded):
    moderator = seeded["principals"]["moderator"]
    run(service, "agenda.advance", {"dialogue_id": seeded["dialogue_id"]}, moderator)
    run(service, "agenda.pause_item", {"dialogue_id": seeded["dialogue_id"]}, moderator)
    html = client_for(sqlite_app, seeded, "display").get(
        f"/d/{seeded['dialogue_id']}/display").get_data(as_text=True)
    assert 'data-phase="paused"' in html and ">Paused<" in html


# -- user text is text ---------------------------------------------------------------------
def test_participant_name_is_escaped_on_the_moderator_page(sqlite_app, service, seeded):
    evil = "<script>alert(1)</script>"
    run(service, "participant.register", {"dialogue_id": seeded["dialogue_id"], "name": evil, "channel": "room",
                                          "organization": {"name": '"><img src=x onerror=alert(2)>',
                                                           "category": "ngo"}})
    html = client_for(sqlite_app, seeded, "moderator").get(
        f"/d/{seeded['dialogue_id']}/moderator").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert evil not in html
    assert "<img src=x" not in html
    assert audit(html).problems == []


def test_item_title_is_escaped_everywhere(sqlite_app, service, seeded):
    run(service, "agenda.update_item", {"dialogue_id": seeded["dialogue_id"], "item_id": seeded["item_ids"][0],
                                        "title": "<b onmouseover=alert(1)>bold</b>"})
    for role in ROLE_PAGES:
        html = client_for(sqlite_app, seeded, role).get(
            f"/d/{seeded['dialogue_id']}/{role}").get_data(as_text=True)
        assert "<b onmouseover" not in html, role
        assert audit(html).problems == [], role


def test_scripts_never_parse_html():
    """User text reaches the DOM through textContent only."""
    for path in sorted((ROOT / "static" / "js").glob("*.js")):
        source = re.sub(r"/\*.*?\*/|(?<![:\\])//[^\n]*", "", path.read_text(encoding="utf-8"), flags=re.S)
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                          "new Function"):
            assert forbidden not in source, f"{path.name} uses {forbidden}"


# -- the content security policy -------------------------------------------------------------
def every_page(app, service, seeded):
    did = seeded["dialogue_id"]
    pages = []
    for role in ROLE_PAGES:
        client = client_for(app, seeded, role)
        pages.append((role, client.get(f"/d/{did}/{role}")))
    anonymous = app.test_client()
    run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": "JOIN-2026"})
    pages += [("index", anonymous.get("/")), ("login", anonymous.get("/login")),
              ("join", anonymous.get(f"/d/{did}/join")), ("error", anonymous.get("/missing"))]
    admin = admin_client(app, service)
    pages += [("admin", admin.get("/admin")), ("admin_dialogue", admin.get(f"/admin/d/{did}"))]
    return pages


def test_every_page_has_a_strict_csp_and_no_inline_script_or_style(sqlite_app, service, seeded):
    for name, response in every_page(sqlite_app, service, seeded):
        csp = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "style-src 'self'" in csp, name
        html = response.get_data(as_text=True)
        page = audit(html)
        assert page.problems == [], (name, page.problems)
        assert "main" in page.landmarks, name
        assert '<html lang="en">' in html, name
        assert len(page.ids) == len(set(page.ids)), (name, "duplicate ids")


def test_no_template_contains_inline_script_or_style():
    for path in sorted((ROOT / "templates").glob("*.html")):
        source = re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)  # Jinja comments
        assert not re.search(r"<style\b", source), path.name
        assert not re.search(r"\sstyle\s*=", source), path.name
        assert not re.search(r"\son[a-z]+\s*=", source), path.name
        for tag in re.findall(r"<script\b[^>]*>", source):
            assert "src=" in tag, (path.name, tag)
        assert not re.search(r"<script\b[^>]*>\s*[^<\s]", source), path.name


def test_static_assets_are_served_locally(sqlite_app):
    client = sqlite_app.test_client()
    for path in ("/static/js/live.js", "/static/js/timer.js", "/static/css/app.css",
                 "/static/vendor/socket.io/socket.io.min.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        if path.endswith(".js"):
            assert "javascript" in response.mimetype, path  # module scripts need a JS MIME type
        response.close()
    vendor = ROOT / "static" / "vendor" / "socket.io"
    assert (vendor / "LICENSE").read_text().startswith("(The MIT License)") or "MIT" in (vendor / "LICENSE").read_text()
    version = (vendor / "VERSION").read_text()
    assert re.match(r"socket\.io-client 4\.8\.\d+", version)
    pinned = re.search(r'VERSION="\$\{1:-(4\.8\.\d+)\}"', (ROOT / "static/vendor/refresh-socketio.sh").read_text())
    assert pinned and pinned.group(1) in version, "VERSION and the refresh script pin the same release"
    assert f"Socket.IO v{pinned.group(1)}" in (vendor / "socket.io.min.js").read_text()[:200]


# -- signing in and joining ---------------------------------------------------------------------
def test_login_with_wrong_password_is_refused_with_a_message(sqlite_app, service):
    run(service, "user.create", {"username": "staff", "password": PASSWORD, "is_admin": True})
    client = sqlite_app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": "staff", "password": "not the password",
                                           "csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "The username or password is not correct." in html
    assert 'aria-invalid="true"' in html
    assert client.get("/admin").status_code == 302  # still not signed in


def test_login_without_csrf_token_is_refused(sqlite_app, service):
    run(service, "user.create", {"username": "staff", "password": PASSWORD, "is_admin": True})
    response = sqlite_app.test_client().post("/login", data={"username": "staff", "password": PASSWORD})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_login_then_admin_and_sign_out(sqlite_app, service):
    client = admin_client(sqlite_app, service)
    html = client.get("/admin").get_data(as_text=True)
    assert "Sign out" in html
    response = client.post("/logout", data={"csrf_token": csrf_of(html)})
    assert response.status_code == 302
    assert client.get("/admin").status_code == 302


def join_form(client, did, **fields):
    token = csrf_of(client.get(f"/d/{did}/join").get_data(as_text=True))
    data = {"code": "", "name": "", "organization": "", "category": "ngo", "channel": "room", "csrf_token": token}
    data.update(fields)
    return client.post(f"/d/{did}/join", data=data)


def counts(service, did):
    with service.db.session() as s:
        return (s.scalar(select(func.count()).select_from(Participant).where(Participant.dialogue_id == did)),
                s.scalar(select(func.count()).select_from(Credential).where(Credential.dialogue_id == did)))


def test_join_with_a_wrong_code_stores_nothing(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": "RIGHT-CODE"})
    before = counts(service, did)
    client = sqlite_app.test_client()
    response = join_form(client, did, code="WRONG-CODE", name="Eve", organization="Nowhere")
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "This join code is not valid for this dialogue." in html
    assert 'value="Eve"' in html  # what was typed is kept
    assert counts(service, did) == before
    assert client.get(f"/d/{did}/participant").status_code == 302  # not signed in


def test_join_shows_field_errors(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": "RIGHT-CODE"})
    response = join_form(sqlite_app.test_client(), did, code="RIGHT-CODE", name="", organization="Org")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'<p class="field-error" id="name-error">[^<]+</p>', html)
    assert re.search(r'id="name"[^>]*aria-invalid="true"', html)


def test_join_with_the_right_code_lands_on_the_participant_page(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": "RIGHT-CODE"})
    client = sqlite_app.test_client()
    response = join_form(client, did, code="right-code", name="Zoe <Z>", organization="Zed & Co")
    assert response.status_code == 302 and response.headers["Location"] == f"/d/{did}/participant"
    html = client.get(f"/d/{did}/participant").get_data(as_text=True)
    assert "Zoe &lt;Z&gt;" in html and "Zed &amp; Co" in html


def test_join_page_when_joining_is_closed(sqlite_app, seeded):
    html = sqlite_app.test_client().get(f"/d/{seeded['dialogue_id']}/join").get_data(as_text=True)
    assert "not open" in html and 'name="code"' not in html


# -- the secretariat -------------------------------------------------------------------------------
def test_admin_pages_require_the_secretariat(sqlite_app, service, seeded):
    anonymous = sqlite_app.test_client()
    for path in ("/admin", f"/admin/d/{seeded['dialogue_id']}"):
        response = anonymous.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
        moderator = client_for(sqlite_app, seeded, "moderator")
        response = moderator.get(path)
        assert response.status_code == 403
        assert "This page is for the secretariat." in response.get_data(as_text=True)


def test_admin_page_lists_dialogues_and_offers_the_create_form(sqlite_app, service, seeded):
    html = admin_client(sqlite_app, service).get("/admin").get_data(as_text=True)
    assert f'href="/admin/d/{seeded["dialogue_id"]}"' in html
    assert 'id="create-dialogue"' in html
    for topic in ("Firearms", "Smuggling of Migrants", "Other (type it below)"):
        assert topic in html
    assert 'type="datetime-local"' in html and 'value="Europe/Vienna"' in html
    assert "js/admin.js" in html


def test_admin_dialogue_page_shows_everything_to_manage(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    run(service, "user.create", {"username": "chair", "password": PASSWORD})
    run(service, "access.assign_role", {"dialogue_id": did, "username": "chair", "role": "moderator"})
    client = admin_client(sqlite_app, service)
    response = client.get(f"/admin/d/{did}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-role="secretariat"' in html
    for section in ("settings", "agenda", "participants", "access", "join", "roles"):
        assert f'id="{section}"' in html
    # the agenda editor: one form per item, type select from the plugin types
    assert len(re.findall(r'class="edit-item-form"', html)) == 4
    assert 'data-default-minutes="60"' in html
    # participants with their channel, credentials with revoke buttons
    assert "Jonas Lindqvist" in html and 'data-channel="online"' in html
    assert len(re.findall(r"data-revoke=", html)) >= 6
    assert "chair" in html and 'data-unassign' in html
    # no secret is ever rendered: tokens exist only in the answer that issued them
    for token in seeded["tokens"].values():
        assert token not in html


def test_admin_writes_go_through_the_api_with_the_pages_csrf_token(sqlite_app, service, seeded):
    """What admin_dialogue.js does: JSON POST with X-CSRFToken from the page."""
    did = seeded["dialogue_id"]
    client = admin_client(sqlite_app, service)
    token = csrf_of(client.get(f"/admin/d/{did}").get_data(as_text=True))
    refused = client.post(f"/api/v1/dialogues/{did}/agenda/items", json={"item_type": "generic"})
    assert refused.status_code == 403
    response = client.post(f"/api/v1/dialogues/{did}/agenda/items", json={"item_type": "generic", "title": "Q&A"},
                           headers={"X-CSRFToken": token, "Idempotency-Key": "page-test-0001"})
    assert response.status_code == 200 and response.get_json()["ok"]
    html = client.get(f"/admin/d/{did}").get_data(as_text=True)
    assert 'value="Q&amp;A"' in html
    created = client.post("/api/v1/dialogues", json={"topic": "firearms", "local_start": "2026-09-01T10:00"},
                          headers={"X-CSRFToken": token})
    assert created.status_code == 200
    assert "Constructive Dialogue on Firearms" in client.get("/admin").get_data(as_text=True)
