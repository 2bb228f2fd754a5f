"""What every response tells the browser: a strict Content-Security-Policy
(no inline script or style, no plugins, no framing, no <base>), nosniff,
Referrer-Policy, HSTS when served over HTTPS, no caching of what a
signed-in browser sees; and the session cookie's attributes (HttpOnly,
SameSite, and over HTTPS Secure with the __Host- prefix)."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from conftest import make_app, run, seed_dialogue
from test_pages import csrf_of

PASSWORD = "a long enough password"
HTTPS = "https://dialogue.example.org"


@pytest.fixture
def service(sqlite_app):
    return sqlite_app.extensions["moderation"]


def responses(client, dialogue_id: int):
    """One response of each kind: a page, JSON, a static file, an error page, an API error."""
    return {
        "page": client.get("/"),
        "login": client.get("/login"),
        "role page": client.get(f"/d/{dialogue_id}/display"),
        "api": client.get("/api/v1/openapi.json"),
        "api error": client.get("/api/v1/dialogues"),
        "static": client.get("/static/js/live.js"),
        "not found": client.get("/no/such/page"),
        "health": client.get("/healthz"),
    }


def test_every_kind_of_response_carries_the_browser_protections(sqlite_app, service):
    did = run(service, "dialogue.create", {"topic": "trafficking_in_persons",
                                           "local_start": "2026-06-03T10:00:00"})["dialogue_id"]
    for kind, response in responses(sqlite_app.test_client(), did).items():
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        directives = {part.strip().split(" ", 1)[0]: part.strip() for part in csp.split(";") if part.strip()}
        assert directives.get("default-src") == "default-src 'self'", kind
        assert directives.get("script-src") == "script-src 'self'", kind      # no 'unsafe-inline', no eval
        assert directives.get("style-src") == "style-src 'self'", kind
        assert directives.get("object-src") == "object-src 'none'", kind
        assert directives.get("base-uri") == "base-uri 'none'", kind
        assert directives.get("frame-ancestors") == "frame-ancestors 'none'", kind
        assert "unsafe" not in csp, kind
        assert headers.get("X-Content-Type-Options") == "nosniff", kind
        assert headers.get("Referrer-Policy") == "same-origin", kind
        assert "Strict-Transport-Security" not in headers, kind  # plain HTTP: HSTS would mean nothing


def signed_in(app, service, base_url: str = "http://localhost"):
    run(service, "user.create", {"username": "staff", "password": PASSWORD, "is_admin": True})
    client = app.test_client()
    page = client.get("/login", base_url=base_url)
    response = client.post("/login", base_url=base_url, headers={"Referer": base_url + "/login"}, data={
        "username": "staff", "password": PASSWORD, "csrf_token": csrf_of(page.get_data(as_text=True))})
    assert response.status_code == 302
    return client, response


def test_what_a_signed_in_browser_sees_is_not_cached(sqlite_app, service):
    anonymous = sqlite_app.test_client()
    assert "no-store" not in anonymous.get("/login").headers.get("Cache-Control", "")
    client, _ = signed_in(sqlite_app, service)
    for path in ("/admin", "/api/v1/dialogues", "/session/alive"):
        assert client.get(path).headers.get("Cache-Control") == "no-store", path
    assert "no-store" not in client.get("/static/css/app.css").headers.get("Cache-Control", "")


def set_cookie_of(response) -> str:
    [cookie] = [v for k, v in response.headers.items() if k == "Set-Cookie" and "moderation_session=" in v]
    return cookie


def test_the_session_cookie_is_http_only_same_site_and_host_only(sqlite_app, service):
    _, response = signed_in(sqlite_app, service)
    cookie = set_cookie_of(response)
    assert cookie.startswith("moderation_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Domain=" not in cookie and "Secure" not in cookie  # plain HTTP (a venue LAN): no Secure


def test_over_https_hsts_and_a_secure_host_only_cookie(tmp_path, sqlite_url):
    secure_app = make_app(tmp_path, sqlite_url, SESSION_COOKIE_SECURE=True)
    try:
        service = secure_app.extensions["moderation"]
        client, response = signed_in(secure_app, service, HTTPS)
        cookie = set_cookie_of(response)
        assert cookie.startswith("__Host-moderation_session=")
        assert "; Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie and "Domain=" not in cookie
        page = client.get("/admin", base_url=HTTPS)
        assert page.status_code == 200
        assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    finally:
        secure_app.extensions["db"].dispose()


def test_over_https_a_form_needs_a_same_origin_referer(tmp_path, sqlite_url):
    """Flask-WTF's strict Referer check on HTTPS, on top of the CSRF token."""
    secure_app = make_app(tmp_path, sqlite_url, SESSION_COOKIE_SECURE=True)
    try:
        run(secure_app.extensions["moderation"], "user.create",
            {"username": "staff", "password": PASSWORD, "is_admin": True})
        client = secure_app.test_client()
        form = {"username": "staff", "password": PASSWORD,
                "csrf_token": csrf_of(client.get("/login", base_url=HTTPS).get_data(as_text=True))}
        assert client.post("/login", base_url=HTTPS, data=form).status_code == 400
        assert client.post("/login", base_url=HTTPS, data=form,
                           headers={"Referer": "https://elsewhere.example/login"}).status_code == 400
        assert client.post("/login", base_url=HTTPS, data=form, headers={"Referer": HTTPS + "/login"}).status_code == 302
    finally:
        secure_app.extensions["db"].dispose()


# -- every route of its kind, walked from the URL map ------------------------------------------------
@pytest.fixture
def world(csrf_app):
    """A seeded dialogue with an application, a signed-in secretariat
    account (pages, cookie API calls) and a secretariat API token."""
    from test_accreditation import application, open_applications
    service = csrf_app.extensions["moderation"]
    seeded = seed_dialogue(service)
    did = seeded["dialogue_id"]
    open_applications(service, did)
    run(service, "applications.submit", application([did]))
    token = run(service, "access.issue_api_token", {"dialogue_id": did, "role": "secretariat"})["token"]
    browser, _ = signed_in(csrf_app, service)
    return SimpleNamespace(app=csrf_app, service=service, did=did, participant_id=seeded["participant_ids"][0],
                           bearer={"Authorization": f"Bearer {token}"}, browser=browser,
                           csrf={"X-CSRFToken": browser.get("/_test/csrf").get_data(as_text=True)})


def concrete(rule, world) -> str:
    """The rule's path with real values for its variables."""
    values = {"dialogue_id": world.did, "participant_id": world.participant_id, "role": "moderator",
              "token": "no-such-link", "filename": "js/live.js"}
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(\w+:)?{name}>", str(values[name]), path)
    return path


def rules(app):
    return [rule for rule in app.url_map.iter_rules() if not rule.rule.startswith("/_test")]


def downloads(world) -> dict[str, object]:
    """Every file the server hands out: each summary export format, the
    participant and travel exports, the invitations as a ZIP (API and page)."""
    client, did = world.app.test_client(), world.did
    formats = [f["name"] for f in client.get("/api/v1/export-formats").get_json()["formats"]]
    found = {f"summary {name}": client.get(f"/api/v1/dialogues/{did}/summary/export?format={name}",
                                           headers=world.bearer) for name in formats}
    found["participants csv"] = client.get(f"/api/v1/dialogues/{did}/participants/export", headers=world.bearer)
    found["travel csv"] = client.get(f"/api/v1/dialogues/{did}/travel-support/export", headers=world.bearer)
    found["invitations zip (API)"] = client.post(f"/api/v1/dialogues/{did}/invitations/send", headers=world.bearer,
                                                 json={"participant_ids": [world.participant_id],
                                                       "delivery": "download"})
    page = world.browser.get(f"/admin/d/{did}/participants").get_data(as_text=True)
    found["invitations zip (page)"] = world.browser.post(f"/admin/d/{did}/invitations", data={
        "csrf_token": csrf_of(page), "delivery": "download", "participant_ids": str(world.participant_id)})
    return found


def frame_ancestors(response) -> str | None:
    csp = response.headers.get("Content-Security-Policy", "")
    return next((part.strip() for part in csp.split(";") if part.strip().startswith("frame-ancestors")), None)


def test_no_answer_may_be_framed_downloads_included(world):
    files = downloads(world)
    assert len(files) >= 10
    for name, response in files.items():
        assert response.status_code == 200, (name, response.status_code)
        assert response.headers.get("Content-Disposition", "").startswith("attachment"), name
        assert frame_ancestors(response) == "frame-ancestors 'none'", name
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name
    for rule in rules(world.app):
        path = concrete(rule, world)
        for method in sorted(rule.methods - {"OPTIONS"}):
            for client, headers in ((world.browser, {}), (world.app.test_client(), world.bearer)):
                response = client.open(path, method=method, headers=headers, data=b"[]",
                                       content_type="application/json")
                assert frame_ancestors(response) == "frame-ancestors 'none'", (method, path, response.status_code)


def test_every_405_names_the_allowed_methods(world):
    adapter = world.app.url_map.bind("localhost")
    checked = 0
    for rule in rules(world.app):
        path = concrete(rule, world)
        allowed = set(adapter.allowed_methods(path))
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - allowed:
            response = world.app.test_client().open(path, method=method, headers=world.bearer)
            assert response.status_code == 405, (method, path)
            assert set(response.headers.get("Allow", "").replace(" ", "").split(",")) == allowed, (method, path)
            checked += 1
    assert checked > 200


def test_every_api_answer_is_kept_out_of_caches(world):
    """Answers carry names, e-mail addresses and links: none may be stored
    by a browser or a proxy, whoever asks and whatever the answer."""
    callers = {"bearer": (world.app.test_client(), world.bearer), "cookie": (world.browser, world.csrf),
               "anonymous": (world.app.test_client(), {})}
    api = [rule for rule in rules(world.app) if rule.rule.startswith("/api/")]
    assert len(api) > 70
    for name, (client, headers) in callers.items():
        for rule in api:
            path = concrete(rule, world)
            for method in sorted(rule.methods - {"OPTIONS", "HEAD"}):
                response = client.open(path, method=method, headers=headers, data=b"[]",
                                       content_type="application/json")
                assert response.headers.get("Cache-Control") == "no-store", (name, method, path, response.status_code)
        assert client.get(f"/api/v1/dialogues/{world.did}/snapshot", headers=headers).headers[
            "Cache-Control"] == "no-store", name
    for name, response in downloads(world).items():
        assert response.headers.get("Cache-Control") == "no-store", name
    response = world.app.test_client().get(f"/api/v1/dialogues/{world.did}/applications", headers=world.bearer)
    assert "contact@victims.example.org" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
