"""A rapporteur's session with the assistant on the real server, through the
public protocol only (Socket.IO clients with access-link tokens, the HTTP
API for the summary export): what happens to merged, hidden, withdrawn and
dismissed inputs, and whether the participation figures count what their
titles say."""
from __future__ import annotations

import json
import re
import urllib.request

import pytest
from conftest import run, seed_dialogue
from server import Client, LiveServer, disconnect_all

pytestmark = pytest.mark.server

NO_LIMIT = {"MODERATION_INPUT_RATE_BURST": "100000", "MODERATION_INPUT_RATE_PER_MINUTE": "100000"}
MARKING = "States parties should require the marking of every firearm at import, with a unique serial number."
MARKING_AGAIN = "We ask States parties to require the marking of every imported firearm with a unique serial number."
MARKING_THIRD = "Every imported firearm should carry a unique serial number: States parties must require marking."
VICTIMS = "Victims of trafficking need legal aid and interpretation in their own language during proceedings."


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("assist-session"), env=NO_LIMIT) as live:
        yield live


@pytest.fixture
def world(server):
    service = server.app().extensions["moderation"]
    seeded = seed_dialogue(service, participants=[("Amina Okafor", "room", "ngo"),
                                                  ("Jonas Lindqvist", "online", "academia"),
                                                  ("Sarah Mensah", "online", "private_sector")])
    did = seeded["dialogue_id"]
    seeded["api_rapporteur"] = run(service, "access.issue_api_token", {"dialogue_id": did, "role": "rapporteur"})["token"]
    opened: list[Client] = []

    def connect(who: str) -> Client:
        client = Client(server, seeded["tokens"][who], did).connect()
        opened.append(client)
        return client

    seeded["connect"] = connect
    moderator = connect("moderator")
    moderator.command("agenda.advance")  # the session is live: inputs are accepted
    seeded["moderator"] = moderator
    seeded["rapporteur"] = connect("rapporteur")
    yield seeded
    disconnect_all(opened)


def submit(world, who: str, text: str) -> int:
    return world["connect"](who).command("inputs.submit", {"text": text})["result"]["input_id"]


def listed(client: Client, status: str) -> dict[int, dict]:
    page = client.sio.call("inputs.list", {"status": status, "per_page": 200}, timeout=10)
    assert page["ok"], page
    return {item["id"]: item for item in page["items"]}


def export(server, world, fmt: str) -> bytes:
    request = urllib.request.Request(
        f"{server.base_url}/api/v1/dialogues/{world['dialogue_id']}/summary/export?format={fmt}",
        headers={"Authorization": f"Bearer {world['api_rapporteur']}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def test_merging_an_input_the_moderator_hid_meanwhile_is_refused(world):
    """The assistant proposes (a, b); the moderator hides b (abusive); the
    rapporteur clicks Merge on the list still on screen. The merge is
    refused: merged, b would come back into the participation figures and
    its author would endorse a, undoing the moderator's decision."""
    a, b = submit(world, "participant0", MARKING), submit(world, "participant1", MARKING_AGAIN)
    rapporteur, moderator = world["rapporteur"], world["moderator"]
    found = rapporteur.sio.call("assist.duplicates", {"input_id": a}, timeout=60)
    assert found["items"][0]["candidates"][0]["input_id"] == b
    before = rapporteur.fresh_snapshot()["sections"]["participation"]["inputs"]
    moderator.command("inputs.moderate", {"input_id": b, "action": "hide", "reason": "Abusive language"})
    ack = rapporteur.call("inputs.merge", {"target_id": a, "source_ids": [b]})
    assert b in listed(moderator, "hidden"), f"the hidden input is now {listed(moderator, 'merged').get(b, {}).get('status')}"
    assert not ack["ok"] and ack["error"]["code"] == "conflict", ack
    assert rapporteur.fresh_snapshot()["sections"]["participation"]["inputs"] == before - 1


def test_an_input_that_others_were_merged_into_does_not_take_them_out_of_the_summary(server, world):
    """b is merged into a (Merge from the assistant); a's author can then no
    longer withdraw a, which would take b's point out of the summary while
    the participation figures still count it."""
    a, b = submit(world, "participant0", MARKING), submit(world, "participant1", MARKING_AGAIN)
    world["rapporteur"].command("inputs.merge", {"target_id": a, "source_ids": [b]})
    ack = world["connect"]("participant0").call("inputs.withdraw", {"input_id": a})
    document = json.loads(export(server, world, "json"))
    cited = {i for point in re.findall(r'"inputs": \[([0-9, ]*)\]', json.dumps(document))
             for i in map(int, filter(None, point.replace(" ", "").split(",")))}
    counted = world["rapporteur"].fresh_snapshot()["sections"]["participation"]["inputs"]
    assert not ack["ok"] or b in cited, f"input {b} (merged into withdrawn {a}) is in no point of the summary"
    assert counted == len(cited), f"the figures count {counted} inputs, the summary's points cite {sorted(cited)}"


def test_a_chain_of_merges_keeps_every_merged_input_in_the_point(server, world):
    """c is merged into b, later b into a (both from the assistant's
    suggestions). The summary's point for a cites a, b and c, and c's
    organization with attribution."""
    a = submit(world, "participant0", MARKING)
    b = submit(world, "participant1", MARKING_AGAIN)
    c = submit(world, "participant2", MARKING_THIRD)
    rapporteur = world["rapporteur"]
    rapporteur.command("summary.configure", {"attribution": True})
    rapporteur.command("inputs.merge", {"target_id": b, "source_ids": [c]})
    rapporteur.command("inputs.merge", {"target_id": a, "source_ids": [b]})
    html = export(server, world, "html").decode("utf-8")
    point = re.search(re.escape(MARKING) + r'\s*<span class="cite">([^<]*)</span>', html)
    assert point, "the point of the merged input is in the summary"
    assert f"#{c}" in point.group(1), f"the point cites {point.group(1)!r}, not input #{c} merged into #{b}"
    assert "Sarah Mensah Organization" in point.group(1)


def test_oral_notes_are_not_counted_as_written_inputs(server, world):
    """The figures "Written inputs by category" (participation section, DOCX
    and HTML exports) leave out the rapporteur's notes of oral
    interventions, which the "Interventions" figure already counts."""
    participant, moderator = world["connect"]("participant0"), world["moderator"]
    entry = participant.command("queue.request_floor", {})["result"]["entry_id"]
    moderator.command("queue.call_speaker", {"entry_id": entry})
    moderator.command("queue.end_speaker", {"entry_id": entry})
    world["rapporteur"].command("inputs.record_oral", {"speaker_entry_id": entry, "text": VICTIMS})
    submit(world, "participant1", MARKING)
    participation = world["rapporteur"].fresh_snapshot()["sections"]["participation"]
    by_category = {row["key"]: row["inputs"] for row in participation["inputs_by_category"]}
    html = export(server, world, "html").decode("utf-8")
    table = re.search(r"Written inputs by category: the numbers</caption>(.*?)</table>", html, re.S).group(1)
    ngo = re.search(r"NGO without ECOSOC status</t[hd]>\s*<td[^>]*>(\d+)<", table)
    assert (participation["inputs"], by_category["ngo"], by_category["academia"]) == (1, 0, 1), participation
    assert ngo and ngo.group(1) == "0", table


def test_a_dismissed_pair_reaches_the_other_staff(world):
    """A rapporteur says "Not a duplicate"; a colleague's open list is read
    again when a change names inputs, so the dismissal's change names the
    pair and reaches the other staff."""
    a, b = submit(world, "participant0", MARKING), submit(world, "participant1", MARKING_AGAIN)
    colleague = world["moderator"]
    ack = world["rapporteur"].command("assist.dismiss_duplicate", {"input_id": a, "other_id": b})
    change = colleague.wait_for_version(ack["version"])
    assert {record["id"] for record in change["records"]["inputs"]} == {a, b}


@pytest.mark.parametrize("event,query", [
    ("assist.duplicates", {"input_id": True}),
    ("assist.duplicates", {"limit": "3"}),
    ("assist.theme_clusters", {"k": 2.0}),
    ("inputs.list", {"per_page": "50"}),
    ("inputs.list", {"theme": True}),
], ids=["bool-id", "string-limit", "float-k", "string-page", "bool-theme"])
def test_a_read_sent_as_json_takes_numbers_as_numbers(server, world, event, query):
    """Over Socket.IO a read's filters are JSON, checked as strictly as a
    command's payload (``true`` is not input 1); a query string's values are
    text, and the HTTP API reads its numbers from it."""
    answer = world["rapporteur"].sio.call(event, query, timeout=30)
    assert not answer["ok"] and answer["error"]["code"] == "invalid_payload", answer
    assert world["rapporteur"].sio.call(event, {}, timeout=30)["ok"]
    request = urllib.request.Request(
        f"{server.base_url}/api/v1/dialogues/{world['dialogue_id']}/assist/duplicates?limit=3",
        headers={"Authorization": f"Bearer {world['api_rapporteur']}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert json.loads(response.read())["ok"]
