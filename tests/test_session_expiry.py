"""Signed-in browser sessions end after SESSION_IDLE_MINUTES without a
request and SESSION_MAX_HOURS after sign-in, on every HTTP request, when a
Socket.IO connection opens and on every Socket.IO event (a connection is
told ``session_ended``). The secretariat ending a user's sessions works end
to end: pages, API, open connections, on the real server too.

Time is moved on by replacing ``moderation.web.sessions.clock``: no sleeps."""
from __future__ import annotations

import re

import pytest
from conftest import run
from test_pages import csrf_of
from test_realtime import command, connect, received  # noqa: F401 - connect is a fixture
from test_sign_in_limits import Clock

from moderation.web import realtime as realtime_module
from moderation.web import sessions

PASSWORD = "a long enough password"
IDLE = 120 * 60        # the defaults: a day-long dialogue with a lunch break
ABSOLUTE = 12 * 3600


@pytest.fixture
def clock(monkeypatch):
    return Clock.replacing(monkeypatch, sessions)


@pytest.fixture
def app(csrf_app):
    return csrf_app


@pytest.fixture
def refusals(monkeypatch):
    """The messages of refused Socket.IO connections (the test client keeps
    only the fact of the refusal)."""
    seen: list[str] = []

    class Recording(realtime_module.ConnectionRefusedError):
        def __init__(self, *args):
            seen.append(args[0])
            super().__init__(*args)

    monkeypatch.setattr(realtime_module, "ConnectionRefusedError", Recording)
    return seen


def signed_in(app, service, username: str, *, admin: bool = False, create: bool = True):
    if create:
        run(service, "user.create", {"username": username, "password": PASSWORD, "is_admin": admin})
    browser = app.test_client()
    token = csrf_of(browser.get("/login").get_data(as_text=True))
    response = browser.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return browser


def follow_to_login(browser, path: str) -> str:
    """The page is refused to an ended session: the sign-in page says why."""
    response = browser.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    return browser.get(response.headers["Location"]).get_data(as_text=True)


# -- HTTP -------------------------------------------------------------------------------------
def test_an_idle_browser_is_signed_out_and_told_why(app, service, clock):
    browser = signed_in(app, service, "staff", admin=True)
    for _ in range(3):  # activity inside the idle limit keeps it alive, well past the limit in total
        clock.advance(IDLE - 60)
        assert browser.get("/admin").status_code == 200
    clock.advance(IDLE + 1)
    html = follow_to_login(browser, "/admin")
    assert re.search(r'<p class="form-notice" role="status" id="session-notice">Your session has ended after '
                     r'120 minutes without activity', html)
    assert browser.get("/admin").status_code == 302   # still signed out
    assert "session-notice" not in browser.get("/login").get_data(as_text=True)  # told once
    signed_in(app, service, "staff", create=False)


def test_a_sign_in_ends_after_the_absolute_limit_however_active(app, service, clock):
    browser = signed_in(app, service, "staff", admin=True)
    for _ in range(12):
        clock.advance(3600 - 1)
        assert browser.get("/admin").status_code == 200
    clock.advance(13)  # 12 hours and a second after sign-in
    assert "a sign-in lasts at most 12 hours" in follow_to_login(browser, "/admin")


def test_a_personal_link_session_ends_and_the_link_signs_in_again(app, service, dialogue, clock):
    did = dialogue["dialogue_id"]
    browser = app.test_client()
    assert browser.get(f"/l/{dialogue['tokens']['participant0']}").status_code == 302
    assert browser.get(f"/d/{did}/participant").status_code == 200
    clock.advance(IDLE + 1)
    html = follow_to_login(browser, f"/d/{did}/participant")
    assert "participants: open your personal link again" in html
    assert browser.get(f"/l/{dialogue['tokens']['participant0']}").status_code == 302
    assert browser.get(f"/d/{did}/participant").status_code == 200


def test_the_api_refuses_an_ended_cookie_session(app, service, dialogue, clock):
    browser = signed_in(app, service, "staff", admin=True)
    token = csrf_of(browser.get("/admin").get_data(as_text=True))
    body = {"dialogue_id": dialogue["dialogue_id"]}
    path = f"/api/v1/dialogues/{dialogue['dialogue_id']}/agenda/advance"
    assert browser.post(path, json=body, headers={"X-CSRFToken": token}).status_code == 200
    clock.advance(IDLE + 1)
    response = browser.post(path, json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthenticated"
    assert browser.get("/api/v1/dialogues").status_code == 401


def test_an_open_page_keeps_its_session_alive(app, service, dialogue, clock):
    did = dialogue["dialogue_id"]
    browser = app.test_client()
    assert browser.get(f"/l/{dialogue['tokens']['display']}").status_code == 302
    html = browser.get(f"/d/{did}/display").get_data(as_text=True)
    # The page carries static/js/session.js, calling well inside the idle limit.
    assert re.search(r'<script type="module" src="/static/js/session\.js[^"]*" data-interval="600">', html)
    for _ in range(32):  # eight hours of a display on the wall, nobody touching it
        clock.advance(15 * 60)
        response = browser.get("/session/alive")
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert browser.get(f"/d/{did}/display").status_code == 200
    clock.advance(IDLE + 1)  # the browser closed: nothing more arrives
    ended = browser.get("/session/alive")
    assert ended.status_code == 401 and "without activity" in ended.get_json()["error"]["message"]


def test_anonymous_pages_carry_no_keepalive(app):
    assert "session.js" not in app.test_client().get("/").get_data(as_text=True)
    assert app.test_client().get("/session/alive").status_code == 401


def test_session_settings_are_checked(tmp_path):
    from moderation.core.config import load_settings
    settings = load_settings(tmp_path, environ={})
    assert (settings["SESSION_IDLE_MINUTES"], settings["SESSION_MAX_HOURS"]) == (120, 12)
    for name in ("SESSION_IDLE_MINUTES", "SESSION_MAX_HOURS"):
        with pytest.raises(ValueError, match=name):
            load_settings(tmp_path, {name: 0}, environ={})
    assert sessions.keepalive_seconds({"SESSION_IDLE_MINUTES": 2, "SESSION_MAX_HOURS": 1}) == 30


# -- Socket.IO --------------------------------------------------------------------------------
def test_a_connection_with_an_ended_session_is_refused(app, connect, dialogue, clock, refusals):
    did = dialogue["dialogue_id"]
    browser = app.test_client()
    assert browser.get(f"/l/{dialogue['tokens']['rapporteur']}").status_code == 302
    first = connect({"dialogue_id": did}, flask_client=browser)
    assert first.is_connected()
    first.disconnect()
    clock.advance(IDLE + 1)  # e.g. a laptop asleep over a long lunch
    assert not connect({"dialogue_id": did}, flask_client=browser).is_connected()
    assert refusals and "without activity" in refusals[-1]


def test_an_open_connection_is_present_but_ends_at_the_absolute_limit(app, connect, dialogue, clock):
    did = dialogue["dialogue_id"]
    browser = app.test_client()
    assert browser.get(f"/l/{dialogue['tokens']['moderator']}").status_code == 302
    client = connect({"dialogue_id": did}, flask_client=browser)
    received(client)
    clock.advance(3 * IDLE)  # no events for hours, but connected all along
    assert command(client, "agenda.advance")["ok"] is True
    assert client.emit("snapshot", callback=True)["ok"] is True
    received(client)
    clock.advance(ABSOLUTE - 3 * IDLE + 1)
    ack = command(client, "agenda.advance")
    assert ack["ok"] is False and ack["error"]["code"] == "unauthenticated"
    assert "at most 12 hours" in ack["error"]["message"]
    events = received(client)
    assert "at most 12 hours" in events["session_ended"][0]["reason"]
    assert "change" not in events
    assert not client.is_connected()


def test_silent_connections_are_ended_when_their_sign_in_runs_out(app, connect, dialogue, clock):
    did = dialogue["dialogue_id"]
    browser = app.test_client()
    assert browser.get(f"/l/{dialogue['tokens']['display']}").status_code == 302
    display = connect({"dialogue_id": did}, flask_client=browser)
    with_token = connect({"dialogue_id": did, "token": dialogue["tokens"]["moderator"]})
    received(display), received(with_token)
    realtime = app.extensions["realtime"]
    clock.advance(ABSOLUTE - 1)
    assert realtime.expire_connections() == 0 and display.is_connected()
    clock.advance(2)
    assert realtime.expire_connections() == 1
    assert "session_ended" in received(display) and not display.is_connected()
    # A bearer token is not a browser session: it lasts until revoked.
    assert with_token.is_connected() and "session_ended" not in received(with_token)


# -- the secretariat ends a user's sessions -----------------------------------------------------
def test_ending_a_users_sessions_end_to_end(app, service, dialogue, connect):
    did = dialogue["dialogue_id"]
    run(service, "user.create", {"username": "chair", "password": PASSWORD})
    run(service, "access.assign_role", {"dialogue_id": did, "username": "chair", "role": "moderator"})
    laptop = signed_in(app, service, "chair", create=False)
    phone = signed_in(app, service, "chair", create=False)
    assert laptop.get(f"/d/{did}/moderator").status_code == 200
    live = connect({"dialogue_id": did}, flask_client=laptop)
    received(live)
    bystander = connect({"dialogue_id": did, "token": dialogue["tokens"]["rapporteur"]})
    received(bystander)

    secretariat = signed_in(app, service, "staff", admin=True)
    token = csrf_of(secretariat.get("/admin").get_data(as_text=True))
    response = secretariat.post("/api/v1/users/end-sessions", json={"username": "chair"},
                                headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.get_json()["ok"] is True

    assert received(live)["session_ended"][0]["reason"]
    assert not live.is_connected()
    assert bystander.is_connected() and "session_ended" not in received(bystander)
    for device in (laptop, phone):
        assert device.get("/api/v1/dialogues").status_code == 401
        assert "Your session has ended" in follow_to_login(device, f"/d/{did}/moderator")
        assert device.get("/").status_code == 200  # the start page works again (no stale cookie)
    assert not connect({"dialogue_id": did}, flask_client=laptop).is_connected()
    # Signing in again works; the secretariat's own session is untouched.
    again = signed_in(app, service, "chair", create=False)
    assert again.get(f"/d/{did}/moderator").status_code == 200
    assert secretariat.get("/admin").status_code == 200


def test_ending_sessions_revokes_the_accounts_sign_in_links(app, service, dialogue, connect):
    """Otherwise a sign-in link from the lost laptop's mail would open a new session at once."""
    run(service, "user.create", {"username": "desk", "password": PASSWORD, "is_admin": True})
    link = run(service, "user.issue_sign_in_link", {"username": "desk"})["token"]
    browser = app.test_client()
    assert browser.get(f"/l/{link}").status_code == 302 and browser.get("/admin").status_code == 200
    with_link = connect({"dialogue_id": dialogue["dialogue_id"], "token": link})
    received(with_link)
    assert run(service, "user.end_sessions", {"username": "desk"})["revoked_links"] == 1
    assert "session_ended" in received(with_link) and not with_link.is_connected()
    assert browser.get("/admin").status_code == 302
    refused = app.test_client().get(f"/l/{link}")
    assert refused.status_code == 401 and "not valid" in refused.get_data(as_text=True)
    assert not connect({"dialogue_id": dialogue["dialogue_id"], "token": link}).is_connected()
    # A new link works.
    fresh = run(service, "user.issue_sign_in_link", {"username": "desk"})["token"]
    assert app.test_client().get(f"/l/{fresh}").status_code == 302


def test_only_the_secretariat_may_end_sessions(app, service, dialogue):
    run(service, "user.create", {"username": "chair", "password": PASSWORD})
    run(service, "access.assign_role", {"dialogue_id": dialogue["dialogue_id"], "username": "chair",
                                        "role": "moderator"})
    chair = signed_in(app, service, "chair", create=False)
    token = csrf_of(chair.get(f"/d/{dialogue['dialogue_id']}/moderator").get_data(as_text=True))
    refused = chair.post("/api/v1/users/end-sessions", json={"username": "chair"}, headers={"X-CSRFToken": token})
    assert refused.status_code == 403
    moderator_api = app.test_client().post("/api/v1/users/end-sessions", json={"username": "chair"}, headers={
        "Authorization": f"Bearer {dialogue['tokens']['api_moderator']}"})
    assert moderator_api.status_code == 403
    assert chair.get(f"/d/{dialogue['dialogue_id']}/moderator").status_code == 200


@pytest.mark.server
def test_ending_a_users_sessions_on_the_real_server(live_server):
    """The same through the real server: HTTP cookies, the eventlet
    server's Socket.IO connection, and the JSON API with the CSRF header."""
    import requests
    from server import Client

    service = live_server.app().extensions["moderation"]
    did = live_server.dialogue_id
    run(service, "user.create", {"username": "chair", "password": PASSWORD})
    run(service, "user.create", {"username": "staff", "password": PASSWORD, "is_admin": True})
    run(service, "access.assign_role", {"dialogue_id": did, "username": "chair", "role": "moderator"})

    def sign_in(username: str) -> requests.Session:
        http = requests.Session()
        token = csrf_of(http.get(live_server.base_url + "/login", timeout=10).text)
        response = http.post(live_server.base_url + "/login", timeout=10, allow_redirects=False,
                             data={"username": username, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 302
        return http

    chair = sign_in("chair")
    cookie = "moderation_session=" + chair.cookies["moderation_session"]
    socket = Client(live_server, None, did, reconnection=False, headers={"Cookie": cookie}).connect()
    try:
        assert socket.snapshots[0]["role"] == "moderator"
        staff = sign_in("staff")
        token = csrf_of(staff.get(live_server.base_url + "/admin", timeout=10).text)
        response = staff.post(live_server.base_url + "/api/v1/users/end-sessions", json={"username": "chair"},
                              headers={"X-CSRFToken": token}, timeout=10)
        assert response.status_code == 200, response.text
        socket.wait_for(lambda: socket.of("session_ended"), 10, "session_ended")
        socket.wait_for(lambda: not socket.connected, 10, "the server to close the connection")
        page = chair.get(f"{live_server.base_url}/d/{did}/moderator", timeout=10, allow_redirects=False)
        assert page.status_code == 302 and page.headers["Location"].startswith("/login")
        assert chair.get(live_server.base_url + "/api/v1/dialogues", timeout=10).status_code == 401
    finally:
        socket.disconnect()



@pytest.mark.browser
@pytest.mark.server
def test_an_open_page_in_a_real_browser_says_it_is_there(tmp_path):
    """static/js/session.js runs under the page's CSP and calls /session/alive
    (every 15 s with a one-minute idle limit), keeping the display signed in."""
    from browser_support import chromium, require_browser
    from server import LiveServer

    require_browser()
    with LiveServer(tmp_path / "live", env={"MODERATION_SESSION_IDLE_MINUTES": "1"}) as live, \
            chromium() as browser:
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(live.demo["links"]["display"])
        assert page.url.endswith(f"/d/{live.dialogue_id}/display")
        with page.expect_response(lambda r: r.url.endswith("/session/alive"), timeout=30_000) as alive:
            pass
        assert alive.value.status == 200
        assert problems == []
