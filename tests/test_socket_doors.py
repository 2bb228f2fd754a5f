"""The doors of the Socket.IO server, over the real server in a subprocess:
which origins may open a connection, that guessing is limited there as it
is over HTTP, and that an unknown or revoked token gets the same answer on
every adapter."""
from __future__ import annotations

import json

import pytest
import requests

from server import LiveServer

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
