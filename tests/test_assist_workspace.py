"""The assistant in the rapporteur's workspace, in headless Chromium against
the real server (eventlet, the default backend: all-MiniLM-L6-v2 where the
``embeddings`` extra is installed, which CI does): the rapporteur merges a
possible duplicate, dismisses another pair for good, accepts a suggested
theme, and accepts a theme found from scratch under another name; what the
page did is checked through the protocol, as another screen sees it.
"""
from __future__ import annotations

import pytest
from browser_support import chromium, require_browser
from test_accessibility import AXE, axe_violations, describe, require_axe
from test_assist import require_embeddings
from test_console_pages import open_page  # noqa: F401 - the fixture, with this module's server

pytestmark = [pytest.mark.browser, pytest.mark.server]

TEXTS = {
    "marking": "States parties should require the marking of every firearm at import, with a unique serial number.",
    "marking_again": "pls make sure every gun that is imported gets marked with its own serial number",
    "victims": "Victims of trafficking need free legal aid and interpretation in their own language in court.",
    "victims_again": "Could the panel say how victims get a lawyer and an interpreter in their language at trial?",
    "data": "Publish yearly data on seizures of firearms, disaggregated by type and route.",
    "drones": "Drones are now used to smuggle weapon parts across borders; customs need detection equipment.",
}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    require_browser()
    require_embeddings()
    from server import LiveServer

    env = {"MODERATION_ASSIST_BACKEND": "minilm", "MODERATION_INPUT_RATE_BURST": "1000",
           "MODERATION_INPUT_RATE_PER_MINUTE": "1000"}
    with LiveServer(tmp_path_factory.mktemp("assist-live"), env=env) as server:
        yield server


@pytest.fixture(scope="module")
def browser(live):
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def scene(live):
    """Six inputs from two participants on a running item; a rapporteur's
    connection to check what the page did."""
    from server import Client

    clients = [Client(live, live.token(role), live.dialogue_id).connect()
               for role in ("moderator", "participant", "participant_online", "rapporteur")]
    moderator, first, second, rapporteur = clients
    agenda = moderator.fresh_snapshot()["sections"]["agenda"]
    if agenda["current_item_id"] is None:
        item = next(i for i in agenda["items"] if i["status"] == "pending")
        moderator.command("agenda.start_item", {"item_id": item["id"]})
    ids = {}
    for n, (key, text) in enumerate(TEXTS.items()):
        sender = first if n % 2 == 0 else second
        ids[key] = sender.command("inputs.submit", {"text": text, "attach_to": "dialogue"})["result"]["input_id"]
    # The model loads in its own process at a low priority: on a busy machine, a minute or more.
    ready = rapporteur.sio.call("assist.duplicates", {"input_id": ids["marking"]}, timeout=300)
    assert ready["ok"] and ready["backend"]["name"] == "minilm", ready
    yield {"ids": ids, "rapporteur": rapporteur}
    for client in clients:
        client.disconnect()


def stored(scene, input_id: int, status: str = "published") -> dict:
    answer = scene["rapporteur"].sio.call("inputs.list", {"per_page": 200, "status": status}, timeout=10)
    return next(i for i in answer["items"] if i["id"] == input_id)


def candidate_row(page, first: int, second: int):
    """The candidate ``second`` under ``first``, or ``first`` under ``second``."""
    return page.locator(f'#dup-list .dup-row[data-key="{first}"] .dup-candidate[data-key="{second}"], '
                        f'#dup-list .dup-row[data-key="{second}"] .dup-candidate[data-key="{first}"]')


def test_the_rapporteur_merges_dismisses_and_accepts_themes_from_the_workspace(open_page, scene):
    from playwright.sync_api import expect

    ids, rapporteur = scene["ids"], scene["rapporteur"]
    require_axe()
    page = open_page("rapporteur", bypass_csp=True)

    # Possible duplicates: the same point in other words, found, merged from the list.
    page.click("#dup-find")
    expect(page.locator("#dup-status")).to_contain_text("possible duplicate", timeout=60_000)
    expect(page.locator("#assist-backend")).to_have_text("Compared by Meaning (all-MiniLM-L6-v2 embeddings)")
    pair = candidate_row(page, ids["marking"], ids["marking_again"])
    expect(pair).to_have_count(1)
    keep, drop = sorted((ids["marking"], ids["marking_again"]))
    pair.get_by_role("button", name=f"Merge into #{keep} (input #{drop})").click()
    expect(page.locator("#messages")).to_contain_text(f"Merged #{drop} into #{keep}.", timeout=15_000)
    merged = stored(scene, drop, "merged")
    assert merged["status"] == "merged" and merged["merged_into_id"] == keep
    expect(page.locator(f'#dup-list [data-key="{drop}"]')).to_have_count(0, timeout=15_000)

    # Another pair, dismissed: never proposed again, by this page or any other.
    other = candidate_row(page, ids["victims"], ids["victims_again"])
    expect(other).to_have_count(1)
    other.locator("button[data-dup=dismiss]").first.click()
    expect(page.locator("#messages")).to_contain_text("Not proposed again.", timeout=15_000)
    expect(candidate_row(page, ids["victims"], ids["victims_again"])).to_have_count(0, timeout=15_000)
    again = rapporteur.sio.call("assist.duplicates", {"input_id": ids["victims"], "limit": 10}, timeout=30)
    assert ids["victims_again"] not in {c["input_id"] for c in again["items"][0]["candidates"]}

    # One input's card: "Similar…" lists its five most similar (here the four
    # others), with the same actions.
    card = page.locator(f'#ws-list .input-card[data-key="{ids["data"]}"]')
    card.locator('[data-act="similar"]').click()
    similar = card.locator(".similar-list .dup-candidate")
    expect(similar).to_have_count(4, timeout=30_000)
    closest = int(similar.first.get_attribute("data-key"))
    similar.first.locator("button[data-dup=dismiss]").click()
    expect(card.locator(f'.similar-list .dup-candidate[data-key="{closest}"]')).to_have_count(0, timeout=15_000)
    expect(similar).to_have_count(3)  # read again, without the dismissed pair

    # A theme suggested from one tagged input, accepted with one click.
    theme_id = rapporteur.command("inputs.create_theme", {"name": "Victims' access to justice"})["result"]["theme_id"]
    rapporteur.command("inputs.tag", {"input_id": ids["victims"], "theme_ids": [theme_id]})
    page.click("#suggest-find")
    row = page.locator(f'#suggest-list .suggest-row[data-key="{ids["victims_again"]}"]')
    expect(row).to_have_count(1, timeout=60_000)
    first_choice = row.locator("button").first
    expect(first_choice).to_contain_text("Victims' access to justice")
    first_choice.click()
    expect(page.locator("#messages")).to_contain_text("1 theme added.", timeout=15_000)
    assert stored(scene, ids["victims_again"])["theme_ids"] == [theme_id]
    expect(page.locator(f'#suggest-list .suggest-row[data-key="{ids["victims_again"]}"]')).to_have_count(0,
                                                                                                    timeout=15_000)

    # Themes from scratch: the first renamed and accepted; a rejected one only leaves the list.
    page.click("#cluster-find")
    clusters = page.locator("#cluster-list .cluster-row")
    expect(clusters.first).to_be_visible(timeout=60_000)
    page.click("#dup-find")
    expect(page.locator("#dup-status")).to_contain_text("duplicate", timeout=30_000)
    card.locator('[data-act="similar"]').click()
    card.locator('[data-act="similar"]').click()  # open again: the panel next to everything else
    expect(card.locator(".similar-list .dup-candidate").first).to_be_visible(timeout=30_000)
    violations = axe_violations(page, AXE.read_text(encoding="utf-8"))  # every part of the panel filled
    assert not violations, describe(violations)
    count = clusters.count()
    first = clusters.first
    members = first.locator(".cluster-members li").count()
    first.locator("input[type=text]").fill("Tracing firearms")
    first.get_by_role("button", name="Accept").click()
    expect(page.locator("#messages")).to_contain_text("Theme “Tracing firearms” given to", timeout=15_000)
    expect(clusters).to_have_count(count - 1)
    themes = rapporteur.fresh_snapshot()["sections"]["themes"]
    accepted = next(t for t in themes if t["name"] == "Tracing firearms")
    assert accepted["inputs"] == members
    if count > 1:
        clusters.first.get_by_role("button", name="Reject").click()
        expect(clusters).to_have_count(count - 2)
    assert [t["name"] for t in rapporteur.fresh_snapshot()["sections"]["themes"]].count("Tracing firearms") == 1
    assert not page.errors, page.errors


def test_the_moderator_sees_similar_inputs_on_the_console_and_may_dismiss_but_not_merge(open_page, scene):
    from playwright.sync_api import expect

    ids = scene["ids"]
    page = open_page("moderator", size=(1280, 720))
    page.click("#tab-published")
    card = page.locator(f'#list-published .input-card[data-key="{ids["drones"]}"]')
    card.locator('[data-act="similar"]').click()
    candidates = card.locator(".similar-list .dup-candidate")
    expect(candidates.first).to_be_visible(timeout=30_000)
    assert card.locator("button[data-dup=merge]").count() == 0, "merging is the rapporteurs'"
    expect(card.locator("button[data-dup=dismiss]").first).to_be_visible()
    card.locator('[data-act="similar"]').click()
    expect(card.locator(".similar-list")).to_have_count(0)
    assert not page.errors, page.errors


def test_a_suggestion_asked_while_cut_off_says_it_waits_and_is_answered_once_back(tmp_path, browser):
    """With the server down the panel does not pretend to work: it says that
    the read waits for the connection, and answers once the server is back
    (a server of its own, TF-IDF: this is about the connection, not the model)."""
    from playwright.sync_api import expect
    from server import LiveServer

    with LiveServer(tmp_path / "server", env={"MODERATION_ASSIST_BACKEND": "tfidf"}) as server:
        context = browser.new_context(viewport={"width": 390, "height": 844})
        try:
            page = context.new_page()
            page.goto(server.demo["links"]["rapporteur"])
            page.wait_for_selector('#connection[data-state="connected"]', timeout=15_000)
            server.stop()
            page.wait_for_selector('#connection:not([data-state="connected"])', timeout=15_000)
            page.click("#dup-find")
            expect(page.locator("#dup-status")).to_have_text("Waiting for the connection to the server…")
            server.restart()
            expect(page.locator("#dup-status")).to_have_text("No possible duplicates.", timeout=30_000)
        finally:
            context.close()
