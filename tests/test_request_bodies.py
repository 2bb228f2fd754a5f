"""What the API does with any request body: every route that takes one
(walked from the OpenAPI document, not listed by hand) answers a body that
is not a JSON object of bounded depth with a documented JSON 4xx, stores
nothing and logs no error; and each route takes the largest body that its
documented schema allows."""
from __future__ import annotations

import json
import logging
import re

import pytest
from conftest import run, seed_dialogue
from test_command_layer import db_state

from moderation.core.auth import SYSTEM

API = "/api/v1"
DEEP = 5_000
BAD_BODIES = {
    "nested arrays": ("[" * DEEP + "]" * DEEP, "application/json"),
    "nested objects": ('{"a":' * DEEP + "1" + "}" * DEEP, "application/json"),
    "nested inside a field": ('{"participant_ids":' + "[" * DEEP + "]" * DEEP + "}", "application/json"),
    "deep but parseable": ('{"a":' * 200 + "1" + "}" * 200, "application/json"),
    "not JSON": ("{not json", "application/json"),
    "truncated": ('{"name": "Am', "application/json"),
    "invalid UTF-8": (b'{"name": "\xff\xfe"}', "application/json"),
    "UTF-16": ('{"name": "x"}'.encode("utf-16"), "application/json"),
    "NaN": ('{"seconds": NaN}', "application/json"),
    "a 5,000-digit number": ('{"seconds": 1' + "0" * 5000 + "}", "application/json"),
    "array": ("[]", "application/json"),
    "number": ("42", "application/json"),
    "string": ('"text"', "application/json"),
    "null": ("null", "application/json"),
    "JSON as text/plain": ("{}", "text/plain"),
    "text": ("hello", "text/plain"),
    "no content type": (b'{"name": "x"}', None),
    "form": ("name=x&dialogue_id=1", "application/x-www-form-urlencoded"),
    "multipart": ('--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--b--\r\n',
                  "multipart/form-data; boundary=b"),
    "multipart without boundary": ("--b\r\n", "multipart/form-data"),
    "XML": ("<a/>", "application/xml"),
}


@pytest.fixture
def world(sqlite_app):
    service = sqlite_app.extensions["moderation"]
    seeded = seed_dialogue(service)
    token = run(service, "access.issue_api_token", {"dialogue_id": seeded["dialogue_id"], "role": "secretariat"})
    return sqlite_app, service, seeded, {"Authorization": f"Bearer {token['token']}"}


def post_operations(client) -> list[tuple[str, dict]]:
    document = client.get(f"{API}/openapi.json").get_json()
    return [(path, operations["post"]) for path, operations in document["paths"].items() if "post" in operations]


def test_every_route_refuses_every_body_that_is_not_a_json_object(world, caplog):
    app, service, seeded, headers = world
    client = app.test_client()
    operations = post_operations(client)
    assert len(operations) > 60
    before = db_state(service)
    with caplog.at_level(logging.WARNING):
        for path, operation in operations:
            url = API + path.replace("{dialogue_id}", str(seeded["dialogue_id"]))
            for name, (body, content_type) in BAD_BODIES.items():
                response = client.post(url, data=body, headers=headers, content_type=content_type)
                where = f"{path} with {name}"
                assert response.status_code == 422, (where, response.status_code, response.get_data()[:300])
                assert str(response.status_code) in operation["responses"], where
                assert response.mimetype == "application/json", where
                error = response.get_json()["error"]
                assert error["code"] == "invalid_payload" and error["message"], where
    assert db_state(service) == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a client's mistake logged an error"


def test_the_refusal_says_what_is_wrong(world):
    app, _, seeded, headers = world
    url = f"{API}/dialogues/{seeded['dialogue_id']}/agenda/advance"
    client = app.test_client()

    def message(name: str) -> str:
        body, content_type = BAD_BODIES[name]
        return client.post(url, data=body, headers=headers, content_type=content_type).get_json()["error"]["message"]

    assert "nested" in message("nested arrays") and "32" in message("deep but parseable")
    assert "UTF-8" in message("invalid UTF-8")
    assert "Content-Type: application/json" in message("form")
    assert "JSON object" in message("array")
    assert "not valid JSON" in message("truncated")


def test_an_empty_body_is_an_empty_object(world):
    app, _, seeded, headers = world
    url = f"{API}/dialogues/{seeded['dialogue_id']}/agenda/advance"
    client = app.test_client()
    for content_type in (None, "application/json", "text/plain"):
        response = client.post(url, data=b"", headers=headers, content_type=content_type)
        assert response.status_code == 200, (content_type, response.get_json())


def test_json_with_a_charset_or_a_byte_order_mark_is_read(world):
    app, _, seeded, headers = world
    client = app.test_client()
    url = f"{API}/dialogues/{seeded['dialogue_id']}/settings"
    body = json.dumps({"venue": "Salle de conférence"}, ensure_ascii=False).encode()
    for data, content_type in ((body, "application/json; charset=utf-8"), (b"\xef\xbb\xbf" + body, "application/json"),
                               (body, "application/vnd.api+json")):
        response = client.post(url, data=data, headers=headers, content_type=content_type)
        assert response.status_code == 200, response.get_json()
    snapshot = client.get(f"{API}/dialogues/{seeded['dialogue_id']}/snapshot", headers=headers).get_json()
    assert snapshot["snapshot"]["sections"]["dialogue"]["venue"] == "Salle de conférence"


# -- body limits ------------------------------------------------------------------------------------
WIDE = "\u20ac"        # one character; as the escape \u20ac six bytes, the most a character of a body takes
ASTRAL = "\U0001d49c"  # one character, four bytes in UTF-8


def maximal(schema: dict, definitions: dict):
    """The instance of ``schema`` whose compact JSON is longest (NONE when
    the schema sets no bound): every list full, every string at its longest
    in characters that take six bytes, every optional field present."""
    def longest(candidates):
        found = [c for c in candidates if c is not NONE]
        if len(found) < len(candidates) or not found:
            return NONE
        return max(found, key=lambda value: len(encode(value)))

    def build(node):
        if "$ref" in node:
            return build(definitions[node["$ref"].rsplit("/", 1)[-1]])
        for key in ("anyOf", "oneOf", "allOf"):
            if key in node:
                return longest([build(option) for option in node[key]])
        if "enum" in node:
            return longest(list(node["enum"]))
        kind = node.get("type")
        if isinstance(kind, list):
            return longest([build({**node, "type": one}) for one in kind])
        if kind == "string":
            return WIDE * node["maxLength"] if "maxLength" in node else NONE
        if kind == "integer":
            return longest([node.get("minimum", -(2 ** 63)), node.get("maximum", 2 ** 63 - 1)])
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        if kind == "array":
            item = build(node.get("items", {}))
            return NONE if item is NONE or "maxItems" not in node else [item] * node["maxItems"]
        if kind == "object" and node.get("additionalProperties") is False:
            fields = {name: build(value) for name, value in node.get("properties", {}).items()}
            return NONE if NONE in fields.values() else fields
        return NONE

    return build(schema)


NONE = object()


def encode(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()   # non-ASCII escaped: the longer encoding


def test_the_largest_valid_body_of_every_operation_fits_its_documented_limit(world):
    app, *_ = world
    document = app.test_client().get(f"{API}/openapi.json").get_json()
    allowance = app.config["MAX_PAYLOAD_BYTES"]
    bounded = 0
    for path, operation in post_operations(app.test_client()):
        body = operation["requestBody"]
        instance = maximal(body["content"]["application/json"]["schema"], document["components"]["schemas"])
        if instance is NONE:
            assert body["x-max-body-bytes"] == allowance, path
            continue
        bounded += 1
        assert len(encode(instance)) <= body["x-max-body-bytes"] - allowance, path
        assert str(body["x-max-body-bytes"]) in body["description"].replace(",", ""), path
    assert bounded > 40   # most payloads bound every field


def test_every_route_reads_exactly_the_body_it_documents(world):
    app, service, seeded, headers = world
    client = app.test_client()
    before = db_state(service)
    for path, operation in post_operations(client):
        url = API + path.replace("{dialogue_id}", str(seeded["dialogue_id"]))
        limit = operation["requestBody"]["x-max-body-bytes"]
        at_the_limit = '{"_":"' + "x" * (limit - 8) + '"}'
        assert len(at_the_limit) == limit
        response = client.post(url, data=at_the_limit, headers=headers, content_type="application/json")
        assert response.status_code == 422, (path, response.status_code)      # read, then refused: no such field
        response = client.post(url, data=at_the_limit + " ", headers=headers, content_type="application/json")
        assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large", path
        assert "413" in operation["responses"], path
    assert db_state(service) == before


def delegate_list(characters: int, wide: str) -> str:
    """A CSV of exactly ``characters`` characters, names in ``wide``
    characters, one delegate a row."""
    header = "name,email,delegation,category,channel\n"
    rows, index = [header], 0
    total = len(header)
    while True:
        row = f"{wide * 150} {index},d{index}@example.org,Délégation {index},state_party,online\n"
        if total + len(row) > characters:
            break
        rows.append(row)
        total += len(row)
        index += 1
    return "".join(rows) + "\n" * (characters - total)


def participants(service, dialogue_id: int) -> int:
    from sqlalchemy import func, select

    from moderation.models import Participant
    with service.db.session() as s:
        return s.scalar(select(func.count()).select_from(Participant).where(Participant.dialogue_id == dialogue_id))


def test_a_delegate_list_of_the_documented_500000_characters_imports(world):
    app, service, seeded, headers = world
    did = seeded["dialogue_id"]
    text = delegate_list(500_000, WIDE)
    body = json.dumps({"csv": text})   # escaped, as Python's json and requests send it
    assert len(text) == 500_000 and len(body) > 2_300_000
    before = participants(service, did)
    response = app.test_client().post(f"{API}/dialogues/{did}/delegates/import", data=body, headers=headers,
                                      content_type="application/json")
    assert response.status_code == 200, response.get_data()[:300]
    imported = len(response.get_json()["result"]["participant_ids"])
    assert imported == text.count("@example.org") > 2_000
    assert participants(service, did) == before + imported


def test_the_participants_page_imports_the_same_list_as_a_file(world):
    import io

    from test_pages import admin_client, csrf_of
    app, service, seeded, _ = world
    did = seeded["dialogue_id"]
    client = admin_client(app, service)
    token = csrf_of(client.get(f"/admin/d/{did}/participants").get_data(as_text=True))
    text = delegate_list(500_000, ASTRAL)
    assert len(text.encode()) > 1_500_000
    before = participants(service, did)
    response = client.post(f"/admin/d/{did}/delegates/import", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(text.encode()), "delegates.csv")})
    assert response.status_code == 302, response.get_data()[:300]
    assert participants(service, did) == before + text.count("@example.org")


def test_5000_participant_ids_are_taken(world):
    app, _, seeded, headers = world
    ids = [2 ** 63 - 1 - n for n in range(5000)]
    response = app.test_client().post(f"{API}/dialogues/{seeded['dialogue_id']}/attendance/connections",
                                      json={"participant_ids": ids}, headers=headers)
    assert response.status_code == 200, response.get_data()[:300]
    assert response.get_json()["result"]["recorded"] == []


# -- the real server ----------------------------------------------------------------------------------
def send_raw(server, path: str, data: bytes, headers: dict) -> tuple[int, dict]:
    import urllib.error
    import urllib.request
    request = urllib.request.Request(server.base_url + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.server
def test_the_real_server_answers_any_body_as_documented(live_server):
    """Under eventlet, as deployed: a body nested 5,000 levels is a 422 and
    no traceback in the log, the 500,000-character delegate list imports, a
    body past a route's limit is a 413, and a chunked body (which eventlet
    cannot hand over) is refused, not run as an empty one."""
    did = live_server.dialogue_id
    token = run(live_server.app().extensions["moderation"], "access.issue_api_token",
                {"dialogue_id": did, "role": "secretariat"})["token"]
    headers = {"Authorization": f"Bearer {token}"}
    for path in (f"{API}/dialogues/{did}/agenda/advance", f"{API}/applications"):
        status, body = send_raw(live_server, path, ("[" * DEEP + "]" * DEEP).encode(), headers)
        assert (status, body["error"]["code"]) == (422, "invalid_payload"), (path, body)
    text = delegate_list(500_000, WIDE)
    status, body = send_raw(live_server, f"{API}/dialogues/{did}/delegates/import",
                            json.dumps({"csv": text}).encode(), headers)
    assert status == 200 and len(body["result"]["participant_ids"]) == text.count("@example.org"), body
    status, body = send_raw(live_server, f"{API}/dialogues/{did}/agenda/advance",
                            json.dumps({"x": "x" * 70_000}).encode(), headers)
    assert (status, body["error"]["code"]) == (413, "too_large")
    before = live_server.app().extensions["moderation"].snapshot(SYSTEM, did)["version"]
    for path in (f"{API}/dialogues/{did}/agenda/advance", f"/d/{did}/join"):
        status, body = send_chunked(live_server, path, b'{"from_item_id": 999}', headers)
        assert status == 422 and "Content-Length" in body, (path, status, body[:300])
    assert live_server.app().extensions["moderation"].snapshot(SYSTEM, did)["version"] == before
    assert live_server.running
    assert "Traceback" not in live_server.stderr and "RecursionError" not in live_server.stderr


def send_chunked(server, path: str, data: bytes, headers: dict) -> tuple[int, str]:
    """A body in chunks, without Content-Length (curl -H 'Transfer-Encoding: chunked')."""
    import http.client
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("POST", path, body=iter([data[:5], data[5:]]), encode_chunked=True,
                           headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked", **headers})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", errors="replace")
    finally:
        connection.close()


def test_the_documented_proxy_passes_the_largest_body(world):
    """nginx refuses bodies over 1 MB unless told otherwise: the proxy of
    docs/deployment.md must let the largest route's body through."""
    from pathlib import Path
    app, *_ = world
    text = (Path(__file__).resolve().parent.parent / "docs" / "deployment.md").read_text(encoding="utf-8")
    [size] = re.findall(r"client_max_body_size (\d+)m;", text)
    largest = max(operation["requestBody"]["x-max-body-bytes"] for _, operation in post_operations(app.test_client()))
    assert largest > 2_000_000 and int(size) * 1024 * 1024 >= largest
