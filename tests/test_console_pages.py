"""The moderator's console and the rapporteur's workspace.

First what the server sends (Flask's test client): the pages render for
their roles and for the secretariat, paint the queue, the themes and the
summary from the snapshot with user text escaped, link their stylesheet and
scripts, and keep the CSP rules. Then, in headless Chromium against the real
server (``tests/server.py``), what a moderator and a rapporteur do with them:
give the floor with the keyboard, see a refused call explained, keep the
focus while the list changes, tag an input and download the DOCX, and keep
typed summary text when another rapporteur saved the same part.
"""
from __future__ import annotations

import html as htmllib
import io
import json
import re
from pathlib import Path

import pytest
from browser_support import chromium, require_browser
from conftest import run, seed_dialogue
from test_pages import admin_client, audit, client_for

ROOT = Path(__file__).resolve().parent.parent
EVIL_NAME = '<script>alert("name")</script>'
EVIL_NOTE = '"><img src=x onerror=alert(1)>'
CONSOLE_MODULES = ("moderator", "console_presses", "undo", "offline_queue", "confirm_dialog", "queue_console",
                   "inputs_staff", "input_cards", "statistics", "rapporteur", "inputs_workspace", "summary_editor")


@pytest.fixture
def service(sqlite_app):
    return sqlite_app.extensions["moderation"]


@pytest.fixture
def seeded(service):
    return seed_dialogue(service)


def start_with_speakers(service, seeded):
    """The first item running, a walk-in with hostile text given the floor,
    and two people waiting (one added by the chair with a note)."""
    did, moderator = seeded["dialogue_id"], seeded["principals"]["moderator"]
    run(service, "agenda.advance", {"dialogue_id": did}, moderator)
    run(service, "queue.add_speaker", {"dialogue_id": did, "name": EVIL_NAME, "organization": "Org & <Co>",
                                       "channel": "room", "note": EVIL_NOTE}, moderator)
    run(service, "queue.call_next", {"dialogue_id": did}, moderator)
    run(service, "queue.request_floor", {"dialogue_id": did, "note": "On <b>shelters</b>"},
        seeded["principals"]["participant0"])
    run(service, "queue.add_speaker", {"dialogue_id": did, "participant_id": seeded["participant_ids"][1],
                                       "intervention_type": "point_of_order", "note": "Interpretation"}, moderator)


def head_of(html: str) -> str:
    return html.split("</head>", 1)[0]


# -- the moderator's console -------------------------------------------------------------
def test_console_paints_the_queue_with_user_text_escaped(sqlite_app, service, seeded):
    start_with_speakers(service, seeded)
    html = client_for(sqlite_app, seeded, "moderator").get(f"/d/{seeded['dialogue_id']}/moderator").get_data(as_text=True)
    # the walk-in has the floor: name, organization and note are text
    assert EVIL_NAME not in html and "<img src=x" not in html
    assert re.search(r'id="speaker-name" dir="auto">&lt;script&gt;alert\(&#34;name&#34;\)&lt;/script&gt;<', html)
    assert "Org &amp; &lt;Co&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "On &lt;b&gt;shelters&lt;/b&gt;" in html and "<b>shelters</b>" not in html
    # the waiting list in effective order: the point of order first, proposed
    rows = re.findall(r'<li class="q-entry" data-key="(\d+)" data-type="([a-z_]+)"([^>]*)>', html)
    assert [kind for _, kind, _ in rows] == ["point_of_order", "statement"]
    assert "data-proposed" in rows[0][2] and "data-proposed" not in rows[1][2]
    proposed = rows[0][0]
    call = re.search(r'<button[^>]*id="call-next"[^>]*>', html).group(0)
    assert f'data-expected-id="{proposed}"' in call and 'aria-keyshortcuts="S Enter"' in call
    assert "aria-disabled" not in call
    assert re.search(r'id="next-name" dir="auto">Jonas Lindqvist<', html)
    # badges: first time, type, channel
    assert ">First time<" in html and ">Point of order<" in html and ">In the room<" in html
    page = audit(html)
    assert page.problems == []
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"


def test_console_lists_every_shortcut_and_links_its_stylesheet(sqlite_app, service, seeded):
    start_with_speakers(service, seeded)
    html = client_for(sqlite_app, seeded, "moderator").get(f"/d/{seeded['dialogue_id']}/moderator").get_data(as_text=True)
    assert "css/console.css" in head_of(html), "the console's stylesheet is linked in <head>"
    for button, key in (("speaker-pause", "T"), ("speaker-plus", "A"), ("speaker-end", "X"),
                        ("add-speaker-toggle", "L"), ("action-next", "N"), ("action-pause", "P"),
                        ("action-end", "E")):
        tag = re.search(rf'<button[^>]*id="{button}"[^>]*>', html)
        assert tag and f'aria-keyshortcuts="{key}"' in tag.group(0), button
    shortcuts = re.search(r'<dl class="shortcuts">(.*?)</dl>', html, re.S).group(1)
    for key in ("S", "Enter", "X", "T", "A", "L", "N", "P", "E"):
        assert f"<kbd>{key}</kbd>" in shortcuts, key
    # the list settings show the dialogue's policies in order, then the others
    policies = re.findall(r'<li class="policy" data-key="([a-z_]+)"><label class="radio"><input type="checkbox"( checked)?',
                          html)
    assert [name for name, checked in policies if checked] == ["points_of_order_first", "first_time_first",
                                                                "alternate_channel"]
    assert len(policies) >= 5
    assert re.search(r'id="set-speaking"[^>]*value="180"', html)
    # the statistics get the category labels as JSON: [key, label] pairs in the intended
    # order (a JSON object would come with its keys sorted)
    for labels in re.findall(r'data-category-labels="([^"]+)"', html):
        pairs = json.loads(htmllib.unescape(labels))
        assert dict(pairs)["ngo_ecosoc"] == "NGO with ECOSOC consultative status"
        assert [key for key, _label in pairs] == ["ngo_ecosoc", "ngo", "academia", "private_sector",
                                                  "state_party", "igo", "other"]


def test_console_without_a_running_item(sqlite_app, seeded):
    html = client_for(sqlite_app, seeded, "moderator").get(f"/d/{seeded['dialogue_id']}/moderator").get_data(as_text=True)
    assert "Nobody has the floor" in html and "Nobody is waiting" in html
    assert "No agenda item is running: the list opens with the item." in html
    for button in ("call-next", "speaker-pause", "speaker-end", "queue-close"):
        assert 'aria-disabled="true"' in re.search(rf'<button[^>]*id="{button}"[^>]*>', html).group(0), button
    assert audit(html).problems == []


# -- the rapporteur's workspace -------------------------------------------------------------
def test_workspace_paints_themes_and_summary_with_user_text_escaped(sqlite_app, service, seeded):
    did, rapporteur = seeded["dialogue_id"], seeded["principals"]["rapporteur"]
    run(service, "inputs.create_theme", {"dialogue_id": did, "name": "<i>Shelters</i> & care"}, rapporteur)
    run(service, "summary.save_section", {"dialogue_id": did, "key": "introduction",
                                          "text": "</textarea><script>alert(3)</script>", "base_revision": 0},
        rapporteur)
    item = seeded["item_ids"][2]
    run(service, "summary.save_section", {"dialogue_id": did, "key": f"item:{item}", "text": "Panel notes",
                                          "base_revision": 0}, rapporteur)
    html = client_for(sqlite_app, seeded, "rapporteur").get(f"/d/{did}/rapporteur").get_data(as_text=True)
    assert "css/console.css" in head_of(html)
    assert "<i>Shelters</i>" not in html and "&lt;i&gt;Shelters&lt;/i&gt; &amp; care" in html
    assert "<script>alert(3)" not in html
    intro = re.search(r'<textarea id="part-introduction"[^>]*>(.*?)</textarea>', html, re.S)
    assert intro and htmllib.unescape(intro.group(1)) == "</textarea><script>alert(3)</script>"
    # one part per agenda item between introduction and conclusions, with its revision
    keys = re.findall(r'<li class="summary-part" data-key="([^"]+)" data-revision="(\d+)"', html)
    assert [k for k, _ in keys] == ["introduction", *(f"item:{i}" for i in seeded["item_ids"]), "conclusions"]
    assert dict(keys)["introduction"] == "1" and dict(keys)[f"item:{item}"] == "1" and dict(keys)["conclusions"] == "0"
    assert re.search(rf'<textarea id="part-item-{item}"[^>]*>Panel notes</textarea>', html)
    # the filters offer every agenda item and the theme
    assert len(re.findall(r'<option value="\d+" data-key="\d+">\d\. ', html)) == len(seeded["item_ids"])
    page = audit(html)
    assert page.problems == []
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"


def test_secretariat_opens_both_staff_pages(sqlite_app, service, seeded):
    start_with_speakers(service, seeded)
    client = admin_client(sqlite_app, service)
    for role in ("moderator", "rapporteur"):
        response = client.get(f"/d/{seeded['dialogue_id']}/{role}")
        html = response.get_data(as_text=True)
        assert response.status_code == 200, role
        assert f'data-role="{role}"' in html and f"js/{role}.js" in html
        assert EVIL_NAME not in html
        assert audit(html).problems == [], role


def test_participant_cannot_open_the_console_or_the_workspace(sqlite_app, seeded):
    client = client_for(sqlite_app, seeded, "participant")
    for role in ("moderator", "rapporteur"):
        assert client.get(f"/d/{seeded['dialogue_id']}/{role}").status_code == 403


def test_console_modules_are_served_and_never_parse_html(sqlite_app):
    client = sqlite_app.test_client()
    for name in CONSOLE_MODULES:
        response = client.get(f"/static/js/{name}.js")
        assert response.status_code == 200, name
        assert "javascript" in response.mimetype, name
        source = response.get_data(as_text=True)
        response.close()
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
            assert forbidden not in source, (name, forbidden)
        # every relative import points at a module that exists
        for target in re.findall(r'from "\./([a-z_]+\.js)"', source):
            assert (ROOT / "static" / "js" / target).exists(), (name, target)
    response = client.get("/static/css/console.css")
    assert response.status_code == 200 and "text/css" in response.mimetype
    response.close()


# -- in a real browser ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(tmp_path_factory):
    require_browser()
    from server import LiveServer

    with LiveServer(tmp_path_factory.mktemp("console-live")) as server:
        yield server


@pytest.fixture(scope="module")
def browser(live):
    with chromium() as launched:
        yield launched


@pytest.fixture
def open_page(browser, live):
    """open_page(role) -> a page signed in with the demo link of ``role`` and
    showing ``page`` (default: the role's own page), connected."""
    contexts = []

    def opener(link_role: str, page_role: str | None = None, size=(1440, 900), prepare=None, bypass_csp=False):
        context = browser.new_context(viewport={"width": size[0], "height": size[1]}, accept_downloads=True,
                                      bypass_csp=bypass_csp)  # bypass_csp: to inject axe-core
        contexts.append(context)
        page = context.new_page()
        if prepare:
            prepare(page)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors
        page.goto(live.demo["links"][link_role])
        if page_role:
            page.goto(f"{live.base_url}/d/{live.dialogue_id}/{page_role}")
        page.wait_for_selector('#connection[data-state="connected"]', timeout=15000)
        return page

    yield opener
    for context in contexts:
        context.close()


@pytest.fixture
def sockets(live):
    from server import Client

    opened = []

    def connect(role: str, as_role: str | None = None) -> Client:
        client = Client(live, live.token(role), live.dialogue_id, role=as_role).connect()
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.disconnect()


def running_item(moderator) -> dict:
    """Make sure an agenda item runs (for the queue and for inputs)."""
    snapshot = moderator.fresh_snapshot()
    agenda = snapshot["sections"]["agenda"]
    if agenda["current_item_id"] is None:
        item = next(i for i in agenda["items"] if i["status"] == "pending")
        moderator.command("agenda.start_item", {"item_id": item["id"]})
        snapshot = moderator.fresh_snapshot()
    return snapshot


def waiting_names(page) -> list[str]:
    return page.locator("#queue-list .q-entry .q-name").all_inner_texts()


@pytest.mark.browser
@pytest.mark.server
def test_moderator_gives_the_floor_with_the_keyboard(open_page, sockets):
    from playwright.sync_api import expect

    moderator = sockets("moderator")
    snapshot = running_item(moderator)
    for person in snapshot["sections"]["participants"][:3]:
        moderator.call("queue.add_speaker", {"participant_id": person["id"]})
    page = open_page("moderator")
    expect(page.locator("#queue-list .q-entry")).not_to_have_count(0)
    proposed = page.locator("#next-name").inner_text()
    assert proposed == page.locator("#queue-list .q-entry[data-proposed] .q-name").inner_text()
    page.locator("#main").focus()
    page.keyboard.press("s")
    expect(page.locator("#speaker-name")).to_have_text(proposed)
    expect(page.locator("#queue-list .q-name", has_text=proposed)).to_have_count(0)
    assert moderator.fresh_snapshot()["sections"]["queue"]["current"]["name"] == proposed

    # Enter, with no button focused, gives the floor to the next one
    following = page.locator("#next-name").inner_text()
    assert following != proposed and following != "Nobody is waiting"
    page.locator("#main").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#speaker-name")).to_have_text(following)

    # Pause and +30 s from the keyboard
    page.keyboard.press("t")
    expect(page.locator("#speaker-pause .button-label")).to_have_text("Resume")
    expect(page.locator("#speaker-countdown")).to_have_attribute("data-phase", re.compile("paused|warning|overtime"))
    allotted = moderator.fresh_snapshot()["sections"]["queue"]["current"]["allotted_seconds"]
    page.keyboard.press("a")
    more = allotted + 30
    expect(page.locator("#speaker-of")).to_have_text(f"of {more // 60}:{more % 60:02d}")
    assert moderator.fresh_snapshot()["sections"]["queue"]["current"]["allotted_seconds"] == more
    assert page.errors == []


@pytest.mark.browser
@pytest.mark.server
def test_a_console_whose_proposal_is_stale_calls_nobody_and_says_why(open_page, sockets):
    """Two moderators: the second gives the floor while the first one's
    console has not heard of it yet (its WebSocket held back by the test,
    browser_support.HeldBroadcasts). The first one's "give the floor" names
    the speaker it shows, so the server calls nobody and the console says
    why; once the change arrives it shows the second moderator's call."""
    from browser_support import HeldBroadcasts
    from playwright.sync_api import expect

    moderator, other_moderator = sockets("moderator"), sockets("moderator")
    snapshot = running_item(moderator)
    current = snapshot["sections"]["queue"]["current"]
    if current is not None:
        moderator.command("queue.end_speaker", {})
    for person in snapshot["sections"]["participants"][6:8]:
        moderator.call("queue.add_speaker", {"participant_id": person["id"]})
    gates = []
    page = open_page("moderator", prepare=lambda p: gates.append(HeldBroadcasts(p)))
    gate = gates[0]
    queue = moderator.fresh_snapshot()["sections"]["queue"]
    shown = next(e for e in queue["waiting"] if e["id"] == queue["proposed_id"])["name"]
    expect(page.locator("#next-name")).to_have_text(shown)

    gate.hold()
    called = other_moderator.command("queue.call_next", {"expected_entry_id": queue["proposed_id"]})
    gate.wait(lambda: gate.held, "the second moderator's change, held back")
    expect(page.locator("#next-name")).to_have_text(shown)  # stale, as on a slow network
    page.locator("#main").focus()
    page.keyboard.press("s")
    error = page.locator("#next-up .next-up-error")
    expect(error).to_contain_text("is proposed now. Nothing was done.")
    expect(error).to_have_attribute("role", "alert")
    after = moderator.fresh_snapshot()
    assert after["version"] == called["version"], "the refused call changed nothing"
    assert after["sections"]["queue"]["current"]["name"] == shown

    gate.release()
    expect(page.locator("#speaker-name")).to_have_text(shown)
    expect(page.locator("#next-name")).not_to_have_text(shown)
    assert page.errors == []


@pytest.mark.browser
@pytest.mark.server
def test_presses_queued_behind_a_refused_one_are_not_sent_and_the_console_says_so(open_page, sockets):
    """X then A, pressed before any answer (the page's traffic held back by
    the test): A waits in line, shown as queued. X is refused, since another
    moderator ended that speaker meanwhile; A was meant for the state X
    would have left, so it is not sent, and the console says so."""
    from browser_support import HeldBroadcasts
    from playwright.sync_api import expect

    moderator, other_moderator = sockets("moderator"), sockets("moderator")
    snapshot = running_item(moderator)
    if snapshot["sections"]["queue"]["current"] is None:
        person = snapshot["sections"]["participants"][8]
        entry = moderator.command("queue.add_speaker", {"participant_id": person["id"]})["result"]["entry_id"]
        moderator.command("queue.call_speaker", {"entry_id": entry})
    gates = []
    page = open_page("moderator", prepare=lambda p: gates.append(HeldBroadcasts(p)))
    gate = gates[0]
    speaker = moderator.fresh_snapshot()["sections"]["queue"]["current"]
    expect(page.locator("#speaker-name")).to_have_text(speaker["name"])

    gate.hold(everything=True)
    ended = other_moderator.command("queue.end_speaker", {})
    page.locator("#main").focus()
    page.keyboard.press("x")
    page.keyboard.press("a")
    presses = page.locator("#console-presses li")
    expect(presses).to_have_count(2)
    expect(presses.nth(0)).to_have_attribute("data-state", "sending")
    expect(presses.nth(1)).to_have_attribute("data-state", "queued")
    expect(page.locator("#speaker-plus")).to_have_attribute("data-queued", "1")
    expect(page.locator("#press-announce")).to_have_text("Queued: +30 s (A). 1 waiting.")

    gate.release()
    messages = page.locator("#messages .message")
    expect(messages.filter(has_text="does not have the floor")).to_have_count(1)
    expect(messages.filter(has_text="Not sent: +30 s (A)")).to_have_count(1)
    expect(page.locator("#console-presses")).to_be_hidden()
    expect(page.locator("#speaker-plus")).not_to_have_attribute("data-queued", re.compile(".*"))
    expect(page.locator("#speaker-label")).to_have_text("Nobody has the floor")
    assert moderator.fresh_snapshot()["version"] == ended["version"], "neither press changed anything"
    assert page.errors == []


@pytest.mark.browser
@pytest.mark.server
def test_console_keeps_the_focus_while_the_list_changes(open_page, sockets):
    from playwright.sync_api import expect

    moderator = sockets("moderator")
    snapshot = running_item(moderator)
    people = snapshot["sections"]["participants"]
    for person in people[3:6]:
        moderator.call("queue.add_speaker", {"participant_id": person["id"]})
    page = open_page("moderator")
    expect(page.locator("#queue-list .q-entry")).not_to_have_count(0)
    rows = page.locator("#queue-list .q-entry")
    count = rows.count()
    last = rows.nth(count - 1)
    name = last.locator(".q-name").inner_text()
    # move the last one up with Alt+ArrowUp: the focus follows the row
    last.locator('[data-act="down"]').focus()
    page.keyboard.press("Alt+ArrowUp")
    expect(rows.nth(count - 2).locator(".q-name")).to_have_text(name)
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == f"Move {name} down"
    expect(page.locator("#queue-automatic")).to_be_visible()
    moved = moderator.fresh_snapshot()["sections"]["queue"]["waiting"]
    assert [e["name"] for e in moved][count - 2] == name
    # someone is added from elsewhere: a row appears, the focus stays put
    page.click("#tab-published")
    page.locator(f"#queue-list [aria-label='Move {name} down']").focus()
    moderator.command("queue.add_speaker", {"name": "Late arrival", "channel": "room"})
    expect(page.locator("#queue-list .q-entry")).to_have_count(count + 1)
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == f"Move {name} down"
    # a new input arrives live in the inputs panel: the focus still stays
    sockets("participant").command("inputs.submit", {"text": "Please share the slides", "kind": "comment"})
    card = page.locator("#list-published .input-card .input-text", has_text="Please share the slides")
    expect(card).to_have_count(1)
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == f"Move {name} down"
    assert page.errors == []


@pytest.mark.browser
@pytest.mark.server
def test_rapporteur_tags_an_input_and_downloads_the_docx(open_page, sockets):
    from docx import Document
    from playwright.sync_api import expect

    moderator = sockets("moderator")
    running_item(moderator)
    participant = sockets("participant")
    rapporteur = sockets("rapporteur")
    text = "Survivor-led shelters need multi-year funding."
    participant.command("inputs.submit", {"text": text, "kind": "comment"})
    theme = "Funding <of> shelters"
    rapporteur.command("inputs.create_theme", {"name": theme})
    page = open_page("rapporteur")
    card = page.locator("#ws-list .input-card", has=page.locator(".input-text", has_text=text))
    expect(card).to_have_count(1)
    card.locator('[data-act="themes"]').click()
    card.locator(".theme-checks label", has_text=theme).locator("input").check()
    expect(card.locator(".theme-chip")).to_have_text([theme])
    card.locator("[data-close]").click()
    expect(page.locator("#themes-list .theme-row", has_text=theme).locator(".theme-count")).to_have_text("1 input")
    link = page.locator('#exports a[data-format="docx"]')
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    data = Path(download.value.path()).read_bytes()
    assert data[:2] == b"PK"
    words = "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)
    assert theme in words and text in words
    assert page.errors == []


@pytest.mark.browser
@pytest.mark.server
def test_summary_saves_as_you_type_and_keeps_your_text_on_conflict(open_page, sockets):
    from playwright.sync_api import expect

    mine = open_page("rapporteur")
    theirs = open_page("secretariat", "rapporteur")
    state = mine.locator('.summary-part[data-key="conclusions"] .part-state')
    area = mine.locator("#part-conclusions")
    area.click()
    mine.keyboard.type("States parties should fund shelters.")
    expect(state).to_have_attribute("data-state", "saved", timeout=8000)
    other = theirs.locator("#part-conclusions")
    expect(other).to_have_value("States parties should fund shelters.")
    rapporteur = sockets("rapporteur")
    revision = rapporteur.fresh_snapshot()["sections"]["summary"]["narratives"]["conclusions"]["revision"]
    # I type on; before my next save (a second later) another rapporteur saves the part
    area.press("End")
    mine.keyboard.type(" MINE")
    rapporteur.command("summary.save_section", {"key": "conclusions", "base_revision": revision,
                                                "text": "States parties should fund shelters. THEIRS"})
    box = mine.locator('.summary-part[data-key="conclusions"] .part-conflict')
    expect(box).to_be_visible(timeout=8000)
    expect(box.locator(".part-conflict-text")).to_have_text("States parties should fund shelters. THEIRS")
    expect(area).to_have_value("States parties should fund shelters. MINE")
    expect(state).to_have_attribute("data-state", "conflict")
    # No save goes out while the conflict waits for a decision, even if I
    # type on. The proof: a save of another part, typed after, is stored;
    # any save of this part would have been due first on the same connection.
    mine.keyboard.type(" MORE")
    for _ in " MORE":
        mine.keyboard.press("Backspace")
    mine.locator("#part-introduction").fill("Opened by the chairs.")
    expect(mine.locator('.summary-part[data-key="introduction"] .part-state')).to_have_attribute(
        "data-state", "saved", timeout=8000)
    narratives = rapporteur.fresh_snapshot()["sections"]["summary"]["narratives"]
    assert narratives["introduction"]["text"] == "Opened by the chairs."
    narrative = narratives["conclusions"]
    assert narrative["text"].endswith("THEIRS") and narrative["revision"] == revision + 1
    expect(other).to_have_value("States parties should fund shelters. THEIRS")
    box.locator('[data-conflict="mine"]').click()
    expect(state).to_have_attribute("data-state", "saved", timeout=8000)
    expect(other).to_have_value("States parties should fund shelters. MINE")
    narrative = rapporteur.fresh_snapshot()["sections"]["summary"]["narratives"]["conclusions"]
    assert narrative["text"] == "States parties should fund shelters. MINE"
    assert narrative["revision"] == revision + 2
    assert mine.errors == [] and theirs.errors == []
