"""The ways in, over the real server in a subprocess: which origins may
open a Socket.IO connection, that guessing is limited whatever the adapter,
that a token that is not valid gets the same answer on every adapter, and
how an API client with a secretariat token for the whole site creates the
first dialogue."""
from __future__ import annotations

import pytest
import requests
from conftest import run
from security_world import application
from server import Client, LiveServer, run_cli
from sqlalchemy import func, select

from moderation.core.auth import hash_token
from moderation.models import Credential, Participant

EVIL = "https://evil.example"


def polling_handshake(live: LiveServer, headers: dict) -> requests.Response:
    return requests.get(f"{live.base_url}/socket.io/?EIO=4&transport=polling", headers=headers, timeout=10)


def websocket_opens(live: LiveServer, headers: dict) -> bool:
    """Whether a WebSocket with these headers gets Engine.IO's opening packet."""
    import websocket

    rest = {k: v for k, v in headers.items() if k not in ("Origin", "Host")}
    try:
        ws = websocket.create_connection(f"ws://127.0.0.1:{live.port}/socket.io/?EIO=4&transport=websocket",
                                         origin=headers.get("Origin"), host=headers.get("Host"),
                                         header=[f"{k}: {v}" for k, v in rest.items()], timeout=10)
    except (websocket.WebSocketException, ConnectionError, OSError):
        return False
    try:
        return ws.recv().startswith("0{")
    except (websocket.WebSocketException, ConnectionError, OSError):
        return False
    finally:
        ws.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("doors")) as server:
        yield server


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("doors-proxy"), env={"MODERATION_TRUSTED_PROXY_HOPS": "1"}) as server:
        yield server


# -- origins ----------------------------------------------------------------------------------------------
@pytest.mark.server
def test_a_foreign_origin_is_refused_whatever_forwarded_host_says(live):
    own = {"Origin": live.base_url}
    response = polling_handshake(live, own)
    assert response.status_code == 200 and response.headers.get("Access-Control-Allow-Origin") == live.base_url
    assert websocket_opens(live, own)
    host = f"127.0.0.1:{live.port}"
    for headers in ({"Origin": EVIL}, {"Origin": EVIL, "X-Forwarded-Host": "evil.example"},
                    {"Origin": EVIL, "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
                    {"Origin": f"https://{host}", "X-Forwarded-Proto": "https"}):
        response = polling_handshake(live, headers)
        assert response.status_code == 400, (headers, response.status_code)
        assert "Access-Control-Allow-Origin" not in response.headers, headers
        assert not websocket_opens(live, headers), headers


@pytest.mark.server
def test_behind_a_trusted_proxy_the_scheme_is_the_proxys_and_the_host_is_never_forwarded(behind_proxy):
    """The proxy sets Host and X-Forwarded-Proto: a page served over HTTPS
    by the proxy connects; X-Forwarded-Host, which the proxy passes through
    from the client, opens nothing."""
    site = "https://dialogue.example.org"
    through_proxy = {"Host": "dialogue.example.org", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    response = polling_handshake(behind_proxy, {**through_proxy, "Origin": site})
    assert response.status_code == 200 and response.headers.get("Access-Control-Allow-Origin") == site
    assert websocket_opens(behind_proxy, {**through_proxy, "Origin": site})
    forged = {**through_proxy, "Origin": EVIL, "X-Forwarded-Host": "evil.example"}
    response = polling_handshake(behind_proxy, forged)
    assert response.status_code == 400 and "Access-Control-Allow-Origin" not in response.headers
    assert not websocket_opens(behind_proxy, forged)


# -- guessing is limited whatever the adapter ----------------------------------------------------------------
# Behind a trusted proxy, each test comes from its own address (X-Forwarded-For):
# the counters of one test do not spill into the next.
LIMITS = {"MODERATION_TRUSTED_PROXY_HOPS": "1", "MODERATION_SIGN_IN_RATE_BURST": "3",
          "MODERATION_SIGN_IN_RATE_PER_MINUTE": "1", "MODERATION_APPLY_RATE_BURST": "2",
          "MODERATION_APPLY_RATE_PER_HOUR": "1"}


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("doors-limited"), env=LIMITS) as server:
        yield server


def from_address(address: str) -> dict:
    return {"X-Forwarded-For": address}


def connect(live: LiveServer, token: str | None, address: str):
    """A python-socketio client from ``address``: (the client, None) when it
    connected, (None, the refusal's data) otherwise."""
    import socketio

    client = Client(live, token, live.dialogue_id, reconnection=False, headers=from_address(address))
    try:
        client.connect(timeout=10)
    except socketio.exceptions.ConnectionError:
        refusal = client.wait_for(lambda: client.of("connect_error"), what="connect_error")[0]
        client.disconnect()
        return None, refusal.get("data") if isinstance(refusal, dict) else refusal
    return client, None


def participants(live: LiveServer) -> int:
    with live.app().extensions["db"].session() as session:
        return session.scalar(select(func.count()).select_from(Participant))


@pytest.mark.server
def test_wrong_join_codes_sent_over_socketio_are_limited(limited):
    """A connected client (here the projector's link) guessing the join code
    is limited per address as the join form is; while limited even the right
    code is refused, and nothing is stored."""
    display, _ = connect(limited, limited.token("display"), "203.0.113.10")
    try:
        join = {"name": "Guesser", "organization": "Nowhere"}
        for attempt in range(3):
            ack = display.call("participant.join_with_code", {**join, "code": f"WRONG-{attempt}"})
            assert ack["error"]["code"] == "forbidden", ack
        before = participants(limited)
        ack = display.call("participant.join_with_code", {**join, "code": limited.demo["join_code"]})
        assert ack["ok"] is False and ack["error"]["code"] == "rate_limited", ack
        assert ack["error"]["details"]["retry_after"] > 0
        assert participants(limited) == before
    finally:
        display.disconnect()
    # Another address joins with the right code at once.
    other, _ = connect(limited, limited.token("display"), "203.0.113.11")
    try:
        ack = other.call("participant.join_with_code", {**join, "code": limited.demo["join_code"]})
        assert ack["ok"] is True, ack
    finally:
        other.disconnect()


@pytest.mark.server
def test_application_forms_sent_over_socketio_are_limited(limited):
    run(limited.app().extensions["moderation"], "applications.configure",
        {"dialogue_id": limited.dialogue_id, "open": True, "deadline": "2099-12-31T23:59", "timezone": "UTC"})
    participant, _ = connect(limited, limited.token("participant"), "203.0.113.20")
    try:
        answers = []
        for number in range(3):
            form = application([limited.dialogue_id], f"Network {number}")
            form["contact"]["email"] = f"contact{number}@example.org"
            answers.append(participant.call("applications.submit", form))
        assert [a["ok"] for a in answers] == [True, True, False], answers
        assert answers[2]["error"]["code"] == "rate_limited"
    finally:
        participant.disconnect()


@pytest.mark.server
def test_connecting_with_wrong_tokens_is_limited(limited):
    address = "203.0.113.30"
    for attempt in range(3):
        client, refusal = connect(limited, f"not-a-token-{attempt}", address)
        assert client is None and refusal["code"] == "link_revoked", refusal
    client, refusal = connect(limited, "not-a-token-either", address)
    assert client is None and refusal["code"] == "rate_limited", refusal
    # While limited, a link from that address waits too (as /l/<token> does);
    # another address connects.
    client, refusal = connect(limited, limited.token("moderator"), address)
    assert client is None and refusal["code"] == "rate_limited", refusal
    client, refusal = connect(limited, limited.token("moderator"), "203.0.113.31")
    assert client is not None, refusal
    client.disconnect()


@pytest.mark.server
def test_wrong_bearer_tokens_are_limited_and_signed_in_callers_guess_no_faster(limited):
    address = from_address("203.0.113.40")
    for attempt in range(3):
        status, body = limited.get_json(f"/api/v1/dialogues/{limited.dialogue_id}/snapshot",
                                        headers={"Authorization": f"Bearer wrong-{attempt}", **address})
        assert (status, body["error"]["code"]) == (401, "link_revoked"), body
    status, body = limited.get_json(f"/api/v1/dialogues/{limited.dialogue_id}/snapshot",
                                    headers={"Authorization": "Bearer wrong-again", **address})
    assert (status, body["error"]["code"]) == (429, "rate_limited"), body
    # An API client (not anonymous) guessing join codes over HTTP is limited too.
    token = run(limited.app().extensions["moderation"], "access.issue_api_token",
                {"dialogue_id": limited.dialogue_id, "role": "display"})["token"]
    signed_in = {"Authorization": f"Bearer {token}", **from_address("203.0.113.41")}
    join = {"name": "Guesser", "organization": "Nowhere"}
    codes = []
    for attempt in range(4):
        status, body = limited.request("POST", f"/api/v1/dialogues/{limited.dialogue_id}/join",
                                       {**join, "code": f"WRONG-{attempt}"}, headers=signed_in)
        codes.append(body["error"]["code"])
    assert codes == ["forbidden", "forbidden", "forbidden", "rate_limited"], codes


# -- one answer for a token that is not valid -------------------------------------------------------------------
@pytest.mark.server
def test_an_unknown_or_revoked_token_is_link_revoked_on_every_adapter(live):
    """A token presented (bearer, Socket.IO auth, /l/<token>) that is
    unknown, revoked or not for that door: ``link_revoked``. Nothing
    presented: ``unauthenticated``."""
    svc = live.app().extensions["moderation"]
    did = live.dialogue_id
    api = run(svc, "access.issue_api_token", {"dialogue_id": did, "role": "display"})
    link = run(svc, "access.issue_link", {"dialogue_id": did, "role": "display"})
    for issued in (api, link):
        run(svc, "access.revoke", {"dialogue_id": did, "credential_id": issued["credential_id"]})
    not_valid = {"unknown": "x" * 43, "revoked API token": api["token"], "revoked link": link["token"]}
    for name, token in not_valid.items():
        status, body = live.get_json(f"/api/v1/dialogues/{did}/snapshot", headers={"Authorization": f"Bearer {token}"})
        assert (status, body["error"]["code"]) == (401, "link_revoked"), (name, "bearer", body)
        client, refusal = connect(live, token, "")
        assert client is None and refusal["code"] == "link_revoked", (name, "Socket.IO", refusal)
        response = requests.get(f"{live.base_url}/l/{token}", allow_redirects=False, timeout=10)
        assert response.status_code == 401 and "link_revoked" in response.text, (name, "/l/")
    # A link is not a bearer token, an API token not a link.
    status, body = live.get_json(f"/api/v1/dialogues/{did}/snapshot",
                                 headers={"Authorization": f"Bearer {live.token('moderator')}"})
    assert (status, body["error"]["code"]) == (401, "link_revoked"), body
    # Nothing presented.
    status, body = live.get_json(f"/api/v1/dialogues/{did}/snapshot")
    assert (status, body["error"]["code"]) == (401, "unauthenticated"), body
    client, refusal = connect(live, None, "")
    assert client is None and refusal["code"] == "unauthenticated", refusal


# -- a secretariat API token for the whole site ----------------------------------------------------------------
@pytest.mark.server
def test_an_api_client_with_a_site_token_creates_the_first_dialogue_and_works_in_it(tmp_path_factory):
    """``moderation token --role secretariat`` (no --dialogue) gives a token
    with which an API client creates a dialogue, prepares it, follows it
    over Socket.IO, and which the secretariat revokes like any other."""
    with LiveServer(tmp_path_factory.mktemp("site-token"), demo=False,
                    env={"MODERATION_AUTO_UPGRADE": "1"}) as live:
        issued = run_cli("token", "--role", "secretariat", "--label", "Conference system", env=live.env)
        assert issued.returncode == 0, issued.stderr
        token = issued.stdout.strip()
        refused = run_cli("token", "--role", "moderator", env=live.env)
        assert refused.returncode != 0 and "--dialogue" in refused.stderr
        bearer = {"Authorization": f"Bearer {token}"}

        status, body = live.get_json("/api/v1/dialogues", headers=bearer)
        assert (status, body["dialogues"]) == (200, []), body
        status, body = live.request("POST", "/api/v1/dialogues", {"topic": "firearms", "venue": "Board Room B"},
                                    headers={**bearer, "Idempotency-Key": "first-dialogue-1"})
        assert status == 200 and body["ok"], body
        did = body["result"]["dialogue_id"]
        status, body = live.request("POST", f"/api/v1/dialogues/{did}/agenda/items",
                                    {"title": "Opening", "planned_minutes": 10}, headers=bearer)
        assert status == 200, body
        status, body = live.get_json("/api/v1/dialogues", headers=bearer)
        assert [(d["id"], d["roles"]) for d in body["dialogues"]] == [(did, ["secretariat"])]

        follower = Client(live, token, did, reconnection=False).connect()
        try:
            agenda = follower.snapshots[0]["sections"]["agenda"]
            assert follower.snapshots[0]["role"] == "secretariat" and agenda["items"][0]["title"] == "Opening"
            ack = follower.call("access.issue_link", {"role": "moderator", "label": "Chair"})
            assert ack["ok"] and ack["result"]["token"], ack
            # A second site token revokes the first: its requests and its connection end.
            second = run_cli("token", "--role", "secretariat", env=live.env).stdout.strip()
            with live.app().extensions["db"].session() as session:
                credential_id = session.scalar(select(Credential.id).where(Credential.token_hash == hash_token(token)))
            status, body = live.request("POST", "/api/v1/api-tokens/revoke", {"credential_id": credential_id},
                                        headers={"Authorization": f"Bearer {second}"})
            assert status == 200 and body["ok"], body
            follower.wait_for(lambda: follower.of("session_ended"), what="session_ended")
        finally:
            follower.disconnect()
        status, body = live.get_json("/api/v1/dialogues", headers=bearer)
        assert (status, body["error"]["code"]) == (401, "link_revoked"), body
        # A dialogue's secretariat token cannot create dialogues nor issue site tokens.
        scoped = run(live.app().extensions["moderation"], "access.issue_api_token",
                     {"dialogue_id": did, "role": "secretariat"})["token"]
        for path, payload in (("/api/v1/dialogues", {"topic": "firearms"}), ("/api/v1/api-tokens", {})):
            status, body = live.request("POST", path, payload, headers={"Authorization": f"Bearer {scoped}"})
            assert (status, body["error"]["code"]) == (403, "forbidden"), (path, body)


def test_every_public_command_has_a_guessing_limit():
    """A public command (no role needed) is limited per client address by
    the service; one without a rule in ``throttle.PUBLIC_ATTEMPTS`` would
    not be."""
    from moderation.core.attempts import PUBLIC_ATTEMPTS
    from moderation.core.commands import REGISTRY
    from moderation.features import load_features
    load_features()
    public = {name for name, spec in REGISTRY.items() if spec.public}
    assert public and public <= set(PUBLIC_ATTEMPTS), f"give these a rule: {public - set(PUBLIC_ATTEMPTS)}"
