"""Guessing through the public doors is limited: failed password sign-ins,
wrong personal links and wrong join codes per client address (and per
account), public application forms per address and per contact e-mail.
A limited attempt gets HTTP 429 with Retry-After and a readable page, and
changes nothing. The client address is the socket's, or the proxy's
X-Forwarded-For entry only when TRUSTED_PROXY_HOPS says to believe it.
With a Redis message queue the counters are shared by every process.

Time is moved on by replacing ``moderation.core.attempts.clock``: no sleeps."""
from __future__ import annotations

import re
import uuid

import pytest
from conftest import make_app, run, seed_dialogue
from sqlalchemy import func, select
from test_accreditation import application, open_applications
from test_accreditation_web import form_data
from test_pages import csrf_of

from moderation.core import attempts as throttle_module
from moderation.core.attempts import Throttle, TooManyAttempts
from moderation.models import Application, Credential, Participant

PASSWORD = "a long enough password"
LIMITS = {"SIGN_IN_RATE_BURST": 3, "SIGN_IN_RATE_PER_MINUTE": 1, "APPLY_RATE_BURST": 2, "APPLY_RATE_PER_HOUR": 1}


class Clock:
    """Stands in for a module's ``clock`` (seconds since the epoch)."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    @classmethod
    def replacing(cls, monkeypatch, module) -> Clock:
        fake = cls()
        monkeypatch.setattr(module, "clock", fake)
        return fake

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    return Clock.replacing(monkeypatch, throttle_module)


@pytest.fixture
def app(tmp_path, sqlite_url, clock):
    application_ = make_app(tmp_path, sqlite_url, **LIMITS)
    yield application_
    application_.extensions["db"].dispose()


@pytest.fixture
def service(app):
    return app.extensions["moderation"]


@pytest.fixture
def seeded(service):
    return seed_dialogue(service)


def browser(app, address: str = "198.51.100.7", **headers):
    """A test client whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    for name, value in headers.items():
        client.environ_base["HTTP_" + name.upper().replace("-", "_")] = value
    return client


def login(client, username: str, password: str):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def signed_in_as_admin(client) -> bool:
    return client.get("/admin").status_code == 200


def assert_limited(response, *, wait: int, text: str = "please wait"):
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(wait)
    assert text in response.get_data(as_text=True)


def counts(service, did):
    with service.db.session() as s:
        return (s.scalar(select(func.count()).select_from(Participant).where(Participant.dialogue_id == did)),
                s.scalar(select(func.count()).select_from(Credential).where(Credential.dialogue_id == did)))


# -- the password form ------------------------------------------------------------------------
def test_failed_passwords_are_limited_per_address_then_allowed_again(app, service, clock):
    run(service, "user.create", {"username": "staff", "password": PASSWORD, "is_admin": True})
    client = browser(app)
    for _ in range(LIMITS["SIGN_IN_RATE_BURST"]):
        assert login(client, "staff", "wrong password").status_code == 401
    # Limited: even the right password is refused, so that the limit cannot
    # be used to test passwords; the page says why and for how long.
    refused = login(client, "staff", PASSWORD)
    assert_limited(refused, wait=60)
    html = refused.get_data(as_text=True)
    assert "Too many failed attempts to sign in" in html and "60 seconds" in html
    assert 'aria-invalid="true"' in html
    assert not signed_in_as_admin(client)
    clock.advance(59)
    assert login(client, "staff", PASSWORD).status_code == 429
    clock.advance(1)
    assert login(client, "staff", PASSWORD).status_code == 302
    assert signed_in_as_admin(client)


def test_failed_passwords_are_limited_per_account_from_any_address(app, service, clock):
    run(service, "user.create", {"username": "staff", "password": PASSWORD, "is_admin": True})
    for n in range(LIMITS["SIGN_IN_RATE_BURST"]):
        assert login(browser(app, f"203.0.113.{n}"), "Staff", "wrong password").status_code == 401
    refused = login(browser(app, "203.0.113.99"), "staff", PASSWORD)
    assert_limited(refused, wait=60)
    # Another account from a fresh address is not affected.
    run(service, "user.create", {"username": "other", "password": PASSWORD, "is_admin": True})
    assert login(browser(app, "203.0.113.100"), "other", PASSWORD).status_code == 302


def test_one_address_guessing_many_accounts_is_limited(app, service, clock):
    run(service, "user.create", {"username": "staff", "password": PASSWORD, "is_admin": True})
    client = browser(app)
    for n in range(LIMITS["SIGN_IN_RATE_BURST"]):
        assert login(client, f"user{n}", "whatever password").status_code == 401
    assert_limited(login(client, "staff", PASSWORD), wait=60)


def test_successful_sign_ins_are_not_counted(app, service, clock):
    run(service, "user.create", {"username": "staff", "password": PASSWORD, "is_admin": True})
    client = browser(app)
    for _ in range(LIMITS["SIGN_IN_RATE_BURST"] * 3):
        assert login(client, "staff", PASSWORD).status_code == 302


def test_an_unknown_name_and_a_wrong_password_get_the_same_answer(app, service, clock):
    long_password = "x" * 200
    run(service, "user.create", {"username": "staff", "password": long_password, "is_admin": True})
    answers = [login(browser(app, f"192.0.2.{n}"), name, password)
               for n, (name, password) in enumerate([("staff", "wrong password"), ("nobody", "wrong password"),
                                                     ("staff", long_password + "y")])]
    assert {a.status_code for a in answers} == {401}
    messages = {re.search(r'id="login-error">([^<]*)<', a.get_data(as_text=True)).group(1) for a in answers}
    assert messages == {"The username or password is not correct."}
    # The password is checked as given: one character more is another password.
    assert login(browser(app, "192.0.2.9"), "staff", long_password).status_code == 302


# -- personal links -----------------------------------------------------------------------------
def test_wrong_personal_links_are_limited_per_address(app, seeded, clock):
    client = browser(app)
    for n in range(LIMITS["SIGN_IN_RATE_BURST"]):
        assert client.get(f"/l/not-a-real-token-{n}").status_code == 401
    refused = client.get(f"/l/{seeded['tokens']['moderator']}")
    assert_limited(refused, wait=60, text="Too many failed attempts")
    assert "Too many requests" in refused.get_data(as_text=True)  # the heading of the error page
    assert client.get(f"/d/{seeded['dialogue_id']}/moderator").status_code == 302  # not signed in
    # Another address opens the same link at once.
    assert browser(app, "192.0.2.44").get(f"/l/{seeded['tokens']['moderator']}").status_code == 302
    clock.advance(60)
    assert client.get(f"/l/{seeded['tokens']['moderator']}").status_code == 302


def test_a_room_behind_one_address_opens_its_links_freely(app, service, seeded, clock):
    """Hundreds of participants share the venue's address: good links never count."""
    did = seeded["dialogue_id"]
    for n in range(LIMITS["SIGN_IN_RATE_BURST"] * 4):
        token = run(service, "participant.register", {"dialogue_id": did, "name": f"P{n}"})["token"]
        assert browser(app).get(f"/l/{token}").status_code == 302


# -- join codes ---------------------------------------------------------------------------------
def join(client, did, code, name="Eve"):
    token = csrf_of(client.get(f"/d/{did}/join").get_data(as_text=True))
    return client.post(f"/d/{did}/join", data={"code": code, "name": name, "organization": "Org",
                                                "category": "ngo", "channel": "online", "csrf_token": token})


def test_wrong_join_codes_are_limited_and_a_limited_attempt_stores_nothing(app, service, seeded, clock):
    did = seeded["dialogue_id"]
    run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": "RIGHT-CODE"})
    client = browser(app)
    for n in range(LIMITS["SIGN_IN_RATE_BURST"]):
        assert join(client, did, f"WRONG-{n}").status_code == 403
    before = counts(service, did)
    refused = join(client, did, "RIGHT-CODE", name="Mallory")
    assert_limited(refused, wait=60, text="Too many failed attempts")
    html = refused.get_data(as_text=True)
    assert 'id="join-error"' in html and 'value="Mallory"' in html  # the form comes back, filled in
    assert counts(service, did) == before
    assert client.get(f"/d/{did}/participant").status_code == 302
    clock.advance(60)
    assert join(client, did, "RIGHT-CODE").status_code == 302


def test_a_room_joining_with_the_right_code_from_one_address_is_not_limited(app, service, seeded, clock):
    did = seeded["dialogue_id"]
    run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": "RIGHT-CODE"})
    for n in range(LIMITS["SIGN_IN_RATE_BURST"] * 3):
        assert join(browser(app), did, "RIGHT-CODE", name=f"Person {n}").status_code == 302


def test_wrong_join_codes_through_the_api_are_limited_too(app, service, seeded, clock):
    did = seeded["dialogue_id"]
    run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": "RIGHT-CODE"})
    client = browser(app)
    body = {"code": "WRONG", "name": "Eve", "organization": "Org"}
    for _ in range(LIMITS["SIGN_IN_RATE_BURST"]):
        assert client.post(f"/api/v1/dialogues/{did}/join", json=body).status_code == 403
    before = counts(service, did)
    refused = client.post(f"/api/v1/dialogues/{did}/join", json={**body, "code": "RIGHT-CODE"})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    error = refused.get_json()["error"]
    assert error["code"] == "rate_limited" and error["details"] == {"retry_after": 60}
    assert counts(service, did) == before
    # The web form from the same address shares the limit.
    assert join(client, did, "RIGHT-CODE").status_code == 429


# -- the public application form ----------------------------------------------------------------
def applications(service) -> int:
    with service.db.session() as s:
        return s.scalar(select(func.count()).select_from(Application))


def apply(client, did, organization: str, email: str = "dana@vv.example.org"):
    page = client.get(f"/d/{did}/apply")
    data = form_data(did, **{"organization.name": organization, "contact.email": email})
    return client.post(f"/d/{did}/apply", data={**data, "csrf_token": csrf_of(page.get_data(as_text=True))})


def test_application_forms_are_limited_per_address(app, service, seeded, clock):
    did = seeded["dialogue_id"]
    open_applications(service, did)
    client = browser(app)
    for n in range(LIMITS["APPLY_RATE_BURST"]):
        assert apply(client, did, f"Org {n}", f"contact{n}@example.org").status_code == 302
    refused = apply(client, did, "Org X", "someone.else@example.org")
    assert_limited(refused, wait=3600, text="Nothing was stored")
    html = refused.get_data(as_text=True)
    assert 'id="form-error"' in html and 'value="Org X"' in html  # the form comes back, filled in
    assert applications(service) == LIMITS["APPLY_RATE_BURST"]
    clock.advance(3600)
    assert apply(client, did, "Org X", "someone.else@example.org").status_code == 302


def test_application_forms_are_limited_per_contact_email_from_any_address(app, service, seeded, clock):
    did = seeded["dialogue_id"]
    open_applications(service, did)
    for n in range(LIMITS["APPLY_RATE_BURST"]):
        assert apply(browser(app, f"203.0.113.{n}"), did, f"Org {n}", "Same@Example.org").status_code == 302
    assert apply(browser(app, "203.0.113.50"), did, "Org Z", "same@example.org").status_code == 429
    stored = applications(service)
    response = browser(app, "203.0.113.51").post("/api/v1/applications",
                                                 json=application([did], contact_email="same@example.org"))
    assert response.status_code == 429 and response.headers["Retry-After"] == "3600"
    assert applications(service) == stored


def test_the_secretariat_entering_forms_is_not_limited(app, service, seeded, clock):
    did = seeded["dialogue_id"]
    open_applications(service, did)
    run(service, "user.create", {"username": "staff", "password": PASSWORD, "is_admin": True})
    client = browser(app)
    assert login(client, "staff", PASSWORD).status_code == 302
    for n in range(LIMITS["APPLY_RATE_BURST"] * 2):
        assert apply(client, did, f"Org {n}", "desk@example.org").status_code == 302


# -- behind a proxy -----------------------------------------------------------------------------
def test_without_a_trusted_proxy_forwarded_for_is_ignored(app, service, clock):
    """Otherwise anyone could pick a fresh address for every guess."""
    run(service, "user.create", {"username": "staff", "password": PASSWORD, "is_admin": True})
    for n in range(LIMITS["SIGN_IN_RATE_BURST"]):
        client = browser(app, **{"X-Forwarded-For": f"10.0.0.{n}"})
        assert login(client, f"user{n}", "wrong password").status_code == 401
    client = browser(app, **{"X-Forwarded-For": "10.0.0.200"})
    assert login(client, "staff", PASSWORD).status_code == 429


@pytest.fixture
def proxied_app(tmp_path, clock):
    application_ = make_app(tmp_path, f"sqlite:///{tmp_path / 'proxied.sqlite3'}", TRUSTED_PROXY_HOPS=1,
                            **LIMITS)
    yield application_
    application_.extensions["db"].dispose()


def test_behind_a_trusted_proxy_the_client_is_the_last_forwarded_address(proxied_app, clock):
    service = proxied_app.extensions["moderation"]
    run(service, "user.create", {"username": "staff", "password": PASSWORD, "is_admin": True})
    proxy = "127.0.0.1"
    # nginx appends the address it saw; a client's own X-Forwarded-For entry
    # comes first and is not believed.
    for n in range(LIMITS["SIGN_IN_RATE_BURST"]):
        client = browser(proxied_app, proxy, **{"X-Forwarded-For": f"10.9.9.{n}, 198.51.100.1"})
        assert login(client, f"user{n}", "wrong password").status_code == 401
    limited = browser(proxied_app, proxy, **{"X-Forwarded-For": "10.9.9.77, 198.51.100.1"})
    assert login(limited, "staff", PASSWORD).status_code == 429
    # Another client behind the same proxy is not limited.
    other = browser(proxied_app, proxy, **{"X-Forwarded-For": "198.51.100.2"})
    assert login(other, "staff", PASSWORD).status_code == 302


def whoami(app):
    """A test-only route: the client address and scheme the app sees."""
    from flask import jsonify, request

    app.add_url_rule("/_test/whoami", "whoami", lambda: jsonify([request.remote_addr, request.scheme]))
    return app


def test_proxy_headers_are_believed_only_from_a_trusted_proxy(app, proxied_app):
    headers = {"X-Forwarded-For": "10.1.1.1, 198.51.100.5", "X-Forwarded-Proto": "https"}
    direct = browser(whoami(app), "192.0.2.9", **headers).get("/_test/whoami").get_json()
    assert direct == ["192.0.2.9", "http"]
    proxied = browser(whoami(proxied_app), "127.0.0.1", **headers).get("/_test/whoami").get_json()
    assert proxied == ["198.51.100.5", "https"]


def test_client_address_counts_ipv6_by_its_64_and_unwraps_mapped_ipv4(app):
    from moderation.core.attempts import client_address
    cases = {"2001:db8:1:2:aaaa::1": "2001:db8:1:2::/64", "2001:db8:1:2:bbbb::9": "2001:db8:1:2::/64",
             "::ffff:198.51.100.3": "198.51.100.3", "198.51.100.3": "198.51.100.3"}
    for raw, expected in cases.items():
        with app.test_request_context("/", environ_base={"REMOTE_ADDR": raw}):
            assert client_address() == expected


# -- several processes --------------------------------------------------------------------------
SETTINGS = {**LIMITS, "MESSAGE_QUEUE": None}


def test_counters_in_redis_are_shared_by_every_process(redis_url, clock):
    """Two throttles on one Redis (two processes): failures at one count at the other."""
    first, second = (Throttle({**SETTINGS, "MESSAGE_QUEUE": redis_url}) for _ in range(2))
    assert first.shared is not None
    keys = [("account", f"test-{uuid.uuid4().hex}")]
    for limiter in (first, second, first):
        limiter.check("sign_in", keys)
        limiter.spend("sign_in", keys)
    for limiter in (first, second):
        with pytest.raises(TooManyAttempts) as refused:
            limiter.check("sign_in", keys)
        assert refused.value.retry_after == 60
    clock.advance(60)
    second.check("sign_in", keys)  # one token back for everyone


def test_two_deployments_on_one_redis_keep_their_counters_apart(redis_url, clock):
    """Processes of one deployment share counters; another deployment on the
    same Redis (another MESSAGE_QUEUE_CHANNEL) does not see them."""
    ours, also_ours, theirs = (Throttle({**SETTINGS, "MESSAGE_QUEUE": redis_url, "MESSAGE_QUEUE_CHANNEL": channel})
                               for channel in ("deployment-a", "deployment-a", "deployment-b"))
    keys = [("account", f"test-{uuid.uuid4().hex}")]
    for _ in range(LIMITS["SIGN_IN_RATE_BURST"]):
        ours.check("sign_in", keys)
        ours.spend("sign_in", keys)
    with pytest.raises(TooManyAttempts):
        also_ours.check("sign_in", keys)
    theirs.check("sign_in", keys)  # a full bucket of its own


def test_without_redis_each_process_counts_alone_and_an_unreachable_redis_falls_back(clock):
    alone = Throttle(SETTINGS)
    assert alone.shared is None
    unreachable = Throttle({**SETTINGS, "MESSAGE_QUEUE": "redis://127.0.0.1:1/0"})
    assert unreachable.shared is not None  # it tries Redis, fails, and counts in the process
    for limiter in (alone, unreachable):
        keys = [("ip", "192.0.2.1")]
        for _ in range(LIMITS["SIGN_IN_RATE_BURST"]):
            limiter.check("sign_in", keys)
            limiter.spend("sign_in", keys)
        with pytest.raises(TooManyAttempts):
            limiter.check("sign_in", keys)


@pytest.mark.parametrize("name, value", [("SIGN_IN_RATE_BURST", 0), ("SIGN_IN_RATE_PER_MINUTE", 0),
                                         ("APPLY_RATE_PER_HOUR", 0)])
def test_a_limit_that_would_refuse_everyone_is_refused_at_start(name, value):
    with pytest.raises(ValueError, match="rate limit"):
        Throttle({**SETTINGS, name: value})


# -- the security log -----------------------------------------------------------------------------
def test_sign_ins_failures_and_limits_are_logged_without_secrets(app, service, seeded, clock, caplog):
    run(service, "user.create", {"username": "staff", "password": PASSWORD, "is_admin": True})
    caplog.set_level("INFO", logger="moderation.security")
    client = browser(app, "192.0.2.77")
    login(client, "staff", "wrong password")
    login(client, "staff", PASSWORD)
    client.get("/l/not-a-real-token-at-all")
    for _ in range(LIMITS["SIGN_IN_RATE_BURST"]):
        client.get("/l/not-a-real-token-at-all")
    lines = [r.getMessage() for r in caplog.records if r.name == "moderation.security"]
    assert "sign_in refused (unauthenticated) from 192.0.2.77" in lines
    assert "signed in user=staff from 192.0.2.77" in lines
    assert "sign_in refused (link_revoked) from 192.0.2.77" in lines
    assert any(line.startswith("sign_in rate limited for") and line.endswith("from 192.0.2.77") for line in lines)
    assert not any("wrong password" in line or "not-a-real-token" in line for line in lines)
