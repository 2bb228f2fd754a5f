"""The participant's page (asking for the floor, inputs) and the display
(speaker, next speakers, pinned input, QR code).

First through Flask's test client: what the server's first paint shows for
each state and role, with user text escaped. Then, marked ``browser``, in
Debian's Chromium driven by Playwright against the real server
(``tests/server.py``): what static/js makes of the live messages — the floor
with its countdown, an input typed offline that survives a reload and is
stored once, the published list, the display.
"""
from __future__ import annotations

import importlib.util
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import REQUIRE_SERVICES, run, seed_dialogue

ROOT = Path(__file__).resolve().parent.parent
EVIL = "<script>alert(1)</script>"
EVIL_ORG = '"><img src=x onerror=alert(2)>'


@pytest.fixture
def service(sqlite_app):
    return sqlite_app.extensions["moderation"]


@pytest.fixture
def seeded(service):
    return seed_dialogue(service)


def page(app, token: str, path: str) -> str:
    client = app.test_client()
    assert client.get(f"/l/{token}").status_code == 302
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def participant_page(app, seeded, who: str = "participant0") -> str:
    return page(app, seeded["tokens"][who], f"/d/{seeded['dialogue_id']}/participant")


def display_page(app, seeded) -> str:
    return page(app, seeded["tokens"]["display"], f"/d/{seeded['dialogue_id']}/display")


def start(service, seeded, index: int = 0) -> None:
    run(service, "agenda.start_item", {"dialogue_id": seeded["dialogue_id"], "item_id": seeded["item_ids"][index]},
        seeded["principals"]["moderator"])


def as_(seeded, who: str):
    return seeded["principals"][who]


class Elements(HTMLParser):
    """Attributes of every element by id, and the problems the CSP would
    block (inline script or style, event handlers)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.by_id: dict[str, dict] = {}
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            assert attributes["id"] not in self.by_id, f"duplicate id {attributes['id']}"
            self.by_id[attributes["id"]] = {"tag": tag, **attributes}
        if tag == "style" or "style" in attributes:
            self.problems.append(f"inline style on <{tag}>")
        if any(name.startswith("on") for name in attributes):
            self.problems.append(f"event handler on <{tag}>")
        if tag == "script" and not attributes.get("src"):
            self.problems.append("inline script")


def elements(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no element #{element_id}"
    return match.group(1).strip()


# -- the participant's page: the floor ------------------------------------------------------
def test_floor_before_any_item_says_the_list_opens_later(sqlite_app, seeded):
    html = participant_page(sqlite_app, seeded)
    found = elements(html)
    assert found.problems == []
    assert found.by_id["floor"]["data-state"] == "none"
    assert "The list of speakers opens when an agenda item starts." in html
    assert "hidden" in found.by_id["floor-form"]
    # The page links its own stylesheet and loads its modules, nothing inline.
    assert re.search(r'<link rel="stylesheet" href="/static/css/participant\.css\?v=', html)
    assert 'src="/static/js/participant.js' in html


def test_floor_form_offers_the_four_intervention_types_with_a_note_limit(sqlite_app, service, seeded):
    start(service, seeded)
    html = participant_page(sqlite_app, seeded)
    found = elements(html)
    assert found.by_id["floor"]["data-state"] == "open"
    assert "hidden" not in found.by_id["floor-form"]
    values = re.findall(r'name="intervention_type" value="([a-z_]+)"', html)
    assert values == ["statement", "question", "point_of_order", "reply"]
    for label in ("Statement", "Question to the panel", "Point of order", "Reply"):
        assert f'<span class="choice-label">{label}</span>' in html
    assert found.by_id["floor-note"]["maxlength"] == "200"
    assert text_of(html, "floor-note-count") == "0 / 200 characters"
    assert found.by_id["floor-announce"]["aria-live"] == "assertive"
    assert text_of(html, "floor-submit") == "Request the floor"


def test_waiting_participant_sees_position_and_a_withdraw_button(sqlite_app, service, seeded):
    start(service, seeded)
    did = seeded["dialogue_id"]
    run(service, "queue.request_floor", {"dialogue_id": did, "intervention_type": "statement"}, as_(seeded, "participant1"))
    run(service, "queue.request_floor", {"dialogue_id": did, "intervention_type": "question", "note": EVIL},
        as_(seeded, "participant0"))
    html = participant_page(sqlite_app, seeded)
    found = elements(html)
    assert found.by_id["floor"]["data-state"] == "waiting"
    position = int(text_of(html, "floor-position"))
    assert position in (1, 2)
    assert text_of(html, "floor-position-words") in ("You are next.", f"You are number {position} on the list.")
    assert "Question to the panel" in text_of(html, "floor-request-type")
    wait = text_of(html, "floor-wait")
    assert wait == "The chair may call you at any moment." if position == 1 else wait == "Estimated wait: about 3 min."

    assert "hidden" not in found.by_id["floor-withdraw"]
    # Beside "You are next" the count is of those ahead, not of everyone waiting.
    assert text_of(html, "floor-count") == ("No one ahead of you." if position == 1 else "1 person ahead of you.")
    assert "people are waiting" not in html
    # The note is for the chair: it is not on the participant's page at all.
    assert "alert(1)" not in html


def test_called_participant_gets_the_floor_with_a_countdown(sqlite_app, service, seeded):
    start(service, seeded)
    did = seeded["dialogue_id"]
    entry = run(service, "queue.request_floor", {"dialogue_id": did, "intervention_type": "reply"},
                as_(seeded, "participant0"))["entry_id"]
    run(service, "queue.call_speaker", {"dialogue_id": did, "entry_id": entry}, as_(seeded, "moderator"))
    html = participant_page(sqlite_app, seeded)
    found = elements(html)
    assert found.by_id["floor"]["data-state"] == "speaking"
    assert "hidden" not in found.by_id["floor-banner"]
    assert "You have the floor" in html
    timer = re.search(r'<span class="speaker-countdown floor-countdown"[^>]*data-running="true"[^>]*'
                      r'data-ends-at="(\d+)"[^>]*data-allotted="180"[^>]*data-warning="30"[^>]*>([^<]+)</span>', html, re.S)
    assert timer, "the speaker's countdown carries its absolute end, allotted time and warning"
    assert timer.group(2) in ("3:00", "2:59")
    assert "Reply · 3 min allotted" in html
    # The other participant sees who speaks, not "You have the floor".
    other = participant_page(sqlite_app, seeded, "participant1")
    assert elements(other).by_id["floor"]["data-state"] == "open"
    assert "Amina Okafor" in text_of(other, "floor-now-name")


def test_closed_list_leaves_points_of_order_when_configured(sqlite_app, service, seeded):
    start(service, seeded)
    did = seeded["dialogue_id"]
    run(service, "queue.close", {"dialogue_id": did}, as_(seeded, "moderator"))
    html = participant_page(sqlite_app, seeded)
    assert elements(html).by_id["floor"]["data-state"] == "closed-po"
    assert "The list of speakers is closed for this item." in html
    assert "You can still raise a point of order." in html
    assert re.search(r'value="point_of_order" checked>', html)
    assert len(re.findall(r'name="intervention_type" value="[a-z_]+"\s*disabled', html)) == 3
    assert text_of(html, "floor-submit") == "Raise a point of order"
    run(service, "queue.configure", {"dialogue_id": did, "points_of_order_when_closed": False}, as_(seeded, "moderator"))
    html = participant_page(sqlite_app, seeded)
    found = elements(html)
    assert found.by_id["floor"]["data-state"] == "closed"
    assert "hidden" in found.by_id["floor-form"]


# -- the participant's page: inputs -------------------------------------------------------------
def test_input_form_follows_the_settings(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    html = participant_page(sqlite_app, seeded)
    found = elements(html)
    form = found.by_id["input-form"]
    assert (form["data-max-chars"], form["data-max-words"], form["data-accepting"]) == ("2000", "1500", "false")
    assert form["data-participant-id"] == str(seeded["participant_ids"][0])
    assert "Inputs are not being accepted right now" in html
    assert "hidden" in found.by_id["kind-statement-choice"], "written statements only while the window is open"
    assert re.findall(r'name="kind" value="([a-z]+)"', html) == ["comment", "suggestion", "question", "statement"]
    assert "hidden" in found.by_id["attach-item-choice"]  # no item runs: the dialogue as a whole
    assert text_of(html, "input-count") == "0 / 2,000 characters"
    # The written-input window is open and an item runs: statements and the current item are offered.
    run(service, "inputs.configure", {"dialogue_id": did, "window_opens_local": "2020-01-01T09:00:00",
                                      "window_closes_local": "2099-01-01T18:00:00", "max_chars": 500})
    start(service, seeded, 2)
    html = participant_page(sqlite_app, seeded)
    found = elements(html)
    assert "hidden" not in found.by_id["kind-statement-choice"]
    assert found.by_id["input-form"]["data-window-open"] == "true"
    assert "hidden" not in found.by_id["attach-item-choice"]
    assert text_of(html, "attach-item-title") == "Panel discussion"
    assert text_of(html, "input-count") == "0 / 500 characters"
    assert "hidden" in found.by_id["input-accepting"]


def test_my_inputs_show_status_reason_and_escaped_text(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    start(service, seeded)
    me = as_(seeded, "participant0")
    shown = run(service, "inputs.submit", {"dialogue_id": did, "text": f"Shown {EVIL}", "kind": "question"}, me)
    hidden = run(service, "inputs.submit", {"dialogue_id": did, "text": "To be hidden", "named": False}, me)
    run(service, "inputs.moderate", {"dialogue_id": did, "input_id": hidden["input_id"], "action": "hide",
                                     "reason": f"Off topic {EVIL_ORG}"}, as_(seeded, "moderator"))
    html = participant_page(sqlite_app, seeded)
    assert elements(html).problems == []
    assert EVIL not in html and "<img src=x" not in html
    assert "Shown &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Reason: Off topic &#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    rows = re.findall(r'<li class="my-input" data-first-paint data-key="i:(\d+)"[^>]*data-status="([a-z]+)"', html)
    assert rows == [(str(hidden["input_id"]), "hidden"), (str(shown["input_id"]), "published")]
    assert "Hidden by the moderator" in html and "shown as “A participant”" in html
    assert "hidden" in elements(html).by_id["my-inputs-empty"]
    # The published list is fetched by the page (inputs.list); the count is there at once.
    assert text_of(html, "inputs-published-count") == "(1)"
    for control in ("inputs-filter", "inputs-sort", "inputs-more", "inputs-new", "inputs-list"):
        assert control in elements(html).by_id


def test_participant_page_shows_the_pinned_input_escaped(sqlite_app, service, seeded):
    start(service, seeded, 1)
    html = participant_page(sqlite_app, seeded)
    assert "hidden" in elements(html).by_id["on-screen"]
    made = run(service, "inputs.submit", {"dialogue_id": seeded["dialogue_id"], "text": EVIL, "kind": "question"},
               as_(seeded, "participant1"))
    run(service, "inputs.pin", {"dialogue_id": seeded["dialogue_id"], "input_id": made["input_id"]},
        as_(seeded, "moderator"))
    html = participant_page(sqlite_app, seeded)
    found = elements(html)
    assert "hidden" not in found.by_id["on-screen"]
    assert text_of(html, "on-screen-heading") == "On screen now"
    assert text_of(html, "on-screen-text") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert text_of(html, "on-screen-kind") == "Question to the panel"


def test_participant_page_labels_the_countdowns_and_has_a_tab_bar(sqlite_app, service, seeded):
    start(service, seeded)
    run(service, "queue.request_floor", {"dialogue_id": seeded["dialogue_id"], "intervention_type": "statement"},
        as_(seeded, "participant1"))
    run(service, "queue.call_next", {"dialogue_id": seeded["dialogue_id"]}, as_(seeded, "moderator"))
    html = participant_page(sqlite_app, seeded)
    found = elements(html)
    assert text_of(html, "current-timer-label") == "Time left for this item"
    now = re.sub(r"<[^>]+>", "", re.search(r'id="floor-now".*?</p>', html, re.S).group(0))
    assert re.search(r"Speaking now: Jonas Lindqvist, .*· [23]:\d\d left", " ".join(now.split())), now
    tabs = re.findall(r'<a class="tab" id="tab-link-(\w+)" href="#tab-(\w+)"', html)
    assert [a for a, _ in tabs] == ["floor", "inputs", "agenda", "me"] and all(a == b for a, b in tabs)
    assert found.by_id["tab-link-floor"].get("aria-current") == "page"
    for part in ("floor", "inputs", "agenda", "me"):
        assert found.by_id[f"tab-{part}"]["class"] == "tab-panel"  # shown without scripts


def test_participant_name_and_organization_are_escaped_on_the_participant_page(sqlite_app, service):
    seeded = seed_dialogue(service, participants=((EVIL, "room", "ngo"),))
    html = participant_page(sqlite_app, seeded)
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text_of(html, "named-as")
    assert elements(html).problems == []


# -- the display ---------------------------------------------------------------------------------
def test_display_shows_speaker_next_three_and_escapes_names(sqlite_app, service):
    seeded = seed_dialogue(service, items=(("panel_discussion", 60), ("input_collection", 45)), participants=(
        (EVIL, "room", "ngo"), ("Jonas Lindqvist", "online", "academia"), ("Chen Wei", "room", "academia"),
        ("Priya Raman", "online", "ngo"), ("Tomás Silva", "online", "ngo")))
    did = seeded["dialogue_id"]
    start(service, seeded)
    moderator = as_(seeded, "moderator")
    for index in range(5):
        run(service, "queue.request_floor", {"dialogue_id": did, "intervention_type": "question" if index else "statement"},
            as_(seeded, f"participant{index}"))
    first = run(service, "queue.call_next", {"dialogue_id": did}, moderator)["speaking_id"]
    html = display_page(sqlite_app, seeded)
    found = elements(html)
    assert found.problems == []
    assert EVIL not in html
    assert found.by_id["display-body"]["data-speaker"] == "yes"
    assert "hidden" not in found.by_id["display-speaker"]
    assert text_of(html, "speaker-name")  # someone speaks
    assert found.by_id["speaker-channel"]["data-channel"] in ("room", "online")
    assert text_of(html, "speaker-channel") in ("In the room", "Online")
    assert found.by_id["speaker-countdown"]["data-running"] == "true"
    assert found.by_id["speaker-countdown"]["data-allotted"] == "180"
    waiting = re.findall(r'<li data-key="(\d+)">', html)
    assert len(waiting) == 3 and str(first) not in waiting
    assert "+ 1 more waiting" in html
    # The evil name (and its organization, "<name> Organization") speaks or waits: as text.
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2
    assert "<button" not in html and "<form" not in html


def test_display_shows_the_pinned_input_escaped(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    start(service, seeded)
    html = display_page(sqlite_app, seeded)
    assert "hidden" in elements(html).by_id["display-pinned"]
    made = run(service, "inputs.submit", {"dialogue_id": did, "kind": "suggestion", "text": f"Fund shelters {EVIL}"},
               as_(seeded, "participant0"))
    run(service, "inputs.pin", {"dialogue_id": did, "input_id": made["input_id"]}, as_(seeded, "moderator"))
    html = display_page(sqlite_app, seeded)
    found = elements(html)
    assert "hidden" not in found.by_id["display-pinned"]
    assert text_of(html, "pinned-label") == "Suggestion to States parties"
    assert text_of(html, "pinned-text") == "Fund shelters &lt;script&gt;alert(1)&lt;/script&gt;"
    assert text_of(html, "pinned-by") == "Amina Okafor, Amina Okafor Organization"
    assert EVIL not in html


def test_display_qr_only_when_joining_by_code_is_open(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    html = display_page(sqlite_app, seeded)
    found = elements(html)
    assert "hidden" in found.by_id["display-qr"]
    assert "hidden" in found.by_id["display-side"]  # nothing to show beside the item before it starts
    run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": "JOIN-2026"})
    html = display_page(sqlite_app, seeded)
    found = elements(html)
    assert "hidden" not in found.by_id["display-qr"]
    path = found.by_id["display-qr"]["data-join-path"]
    assert path.startswith(f"/d/{did}/join?t=")  # the QR value stands for the code; no staff token
    assert found.by_id["display-qr"]["data-typed-path"] == f"/d/{did}/join"
    assert found.by_id["display-side"]["data-queue"] == "no"
    # A code the secretariat chose is kept as a hash: it cannot be projected.
    assert "JOIN-2026" not in html and "hidden" in found.by_id["display-join-code-line"]
    code = run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True})["code"]
    found = elements(display_page(sqlite_app, seeded))
    assert "hidden" not in found.by_id["display-join-code-line"]
    assert f'id="display-join-code"><span>{code[:4]}</span><span>{code[4:]}</span>' in display_page(sqlite_app, seeded)
    assert found.by_id["display-qr"]["data-join-path"] != path  # a new code: a new QR value


def test_display_hides_an_empty_list_for_items_without_speakers(sqlite_app, service, seeded):
    start(service, seeded)  # a briefing: its type does not show speakers
    found = elements(display_page(sqlite_app, seeded))
    assert "hidden" in found.by_id["display-queue"]
    start(service, seeded, 2)  # the panel discussion shows them
    html = display_page(sqlite_app, seeded)
    found = elements(html)
    assert "hidden" not in found.by_id["display-queue"]
    assert "No one is waiting to speak." in html


# -- static files ------------------------------------------------------------------------------------------
def test_qr_generator_is_vendored_with_its_licence_and_refresh_script(sqlite_app):
    vendor = ROOT / "static" / "vendor" / "qrcode-generator"
    licence = (vendor / "LICENSE").read_text()
    assert "Copyright (c) 2009 Kazuhiko Arase" in licence and "The MIT License" in licence
    version = (vendor / "VERSION").read_text()
    pinned = re.search(r'VERSION="\$\{1:-(\d+\.\d+\.\d+)\}"', (ROOT / "static/vendor/refresh-qrcode.sh").read_text())
    assert pinned and version.startswith(f"qrcode-generator {pinned.group(1)}\n")
    assert re.search(r"sha256\(qrcode\.mjs\) [0-9a-f]{64}", version)
    source = (vendor / "qrcode.mjs").read_text()
    assert source.startswith("//---") and "export default qrcode;" in source
    assert 'from "../vendor/qrcode-generator/qrcode.mjs"' in (ROOT / "static/js/qr.js").read_text()
    client = sqlite_app.test_client()
    for path in ("/static/vendor/qrcode-generator/qrcode.mjs", "/static/js/qr.js", "/static/js/floor.js",
                 "/static/js/inputs.js", "/static/js/speaker.js", "/static/js/messages.js", "/static/css/participant.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        if path.endswith((".js", ".mjs")):
            assert "javascript" in response.mimetype, path  # module scripts need a JS MIME type
        response.close()


# ================================================================================================
# In a real browser
# ================================================================================================
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SOCKET_TRAFFIC = re.compile(r"/socket\.io/\?")  # the Engine.IO endpoint, not the vendored client script


def _browser_available() -> tuple[bool, str]:
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return False, f"{CHROMIUM} is missing (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return False, "Playwright for Python is not installed"
    return True, ""


@pytest.fixture(scope="module")
def browser():
    available, why = _browser_available()
    if not available:
        if REQUIRE_SERVICES:
            pytest.fail(f"browser tests need Chromium: {why} (MODERATION_REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(f"browser tests need Chromium: {why}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory, browser):
    from server import LiveServer

    with LiveServer(tmp_path_factory.mktemp("participant-page")) as server:
        yield server


@pytest.fixture
def clients():
    from server import Client

    opened = []

    def open_client(server, token, dialogue_id):
        client = Client(server, token, dialogue_id)
        opened.append(client)
        return client.connect()

    yield open_client
    for client in opened:
        client.disconnect()


@pytest.fixture
def scene(live, browser, clients):
    """A fresh dialogue on the live server (seeded through the server's
    database; see LiveServer.app), a moderator and a secretariat client, and
    a function that opens a page for a token in a fresh browser context."""
    service = live.app().extensions["moderation"]
    seeded = seed_dialogue(service, items=(("panel_discussion", 60), ("input_collection", 45)), participants=(
        ("Amina Okafor", "room", "ngo"), ("Jonas Lindqvist", "online", "academia"), ("Chen Wei", "room", "academia")))
    did = seeded["dialogue_id"]
    secretariat = run(service, "access.issue_api_token", {"dialogue_id": did, "role": "secretariat"})["token"]
    contexts, errors = [], []

    def open_page(token: str, role: str, width: int = 390, height: int = 844, part: str | None = None,
                  init_script: str | None = None):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        if init_script:
            context.add_init_script(init_script)
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(f"{live.base_url}/l/{token}")
        assert tab.url.endswith(f"/d/{did}/{role}")
        tab.wait_for_selector("#connection[data-state=connected]")
        if part:  # a phone shows one part of the participant's page at a time
            tab.click(f"#tab-link-{part}")
        return tab

    def connect(token: str):
        return clients(live, token, did)

    yield {"seeded": seeded, "service": service, "open": open_page, "connect": connect,
           "moderator": connect(seeded["tokens"]["moderator"]), "secretariat": connect(secretariat)}
    for context in contexts:
        context.close()
    assert errors == [], f"script errors in the page: {errors}"


# Predicates for wait_for_function are written as functions: a bare expression
# is re-evaluated with eval() inside the page while polling, which the pages'
# CSP (script-src 'self') rightly refuses.
def listen(tab, *regions: str) -> None:
    """Record everything the aria-live regions say (a screen reader hears
    each text; the next one may replace it a moment later)."""
    tab.evaluate("""(ids) => {
        window.__said = [];
        for (const id of ids) {
            new MutationObserver(() => {
                const text = document.getElementById(id).textContent;
                if (text) window.__said.push(text);
            }).observe(document.getElementById(id), {childList: true, characterData: true, subtree: true});
        }
    }""", list(regions))


def announced(tab, words: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        tab.wait_for_function("(words) => window.__said.some((text) => text.includes(words))", arg=words)
    except PlaywrightTimeout:
        raise AssertionError(f"never announced {words!r}; said: {tab.evaluate('() => window.__said')}") from None


@pytest.mark.browser
def test_browser_request_floor_wait_then_get_the_floor(scene):
    seeded, moderator = scene["seeded"], scene["moderator"]
    moderator.command("agenda.start_item", {"item_id": seeded["item_ids"][0]})
    # Real time throughout: Playwright's fake clock also stops Engine.IO's
    # timers (no message leaves the page), so over time is waited for.
    tab = scene["open"](seeded["tokens"]["participant0"], "participant")
    tab.wait_for_selector("#floor[data-state=open]")
    listen(tab, "floor-announce", "floor-live")
    tab.locator("#floor-form label.choice", has_text="Question to the panel").click()
    tab.fill("#floor-note", "Victim identification")
    assert tab.text_content("#floor-note-count") == "21 / 200 characters"
    tab.click("#floor-submit")
    tab.wait_for_selector("#floor[data-state=waiting]")
    assert tab.text_content("#floor-position") == "1"
    assert tab.text_content("#floor-position-words") == "You are next."
    assert "Question to the panel" in tab.text_content("#floor-request-type")
    announced(tab, "Your request is on the list")
    assert tab.input_value("#floor-note") == ""

    moderator.command("queue.call_next")
    tab.wait_for_selector("#floor[data-state=speaking]")
    assert tab.is_visible(".floor-speaking-title")
    announced(tab, "You have the floor. You have 3 min.")
    countdown = tab.locator(".floor-countdown")
    assert re.fullmatch(r"[23]:\d\d", countdown.text_content())
    # Ten seconds allotted (the least): the warning (last 30 s), then over time, counted visibly.
    moderator.command("queue.adjust_speaker_time", {"seconds": -175})
    tab.wait_for_selector(".floor-countdown[data-phase=warning]")
    assert tab.text_content("#floor-speaking-note") == "Time is almost up"
    announced(tab, "seconds left")
    tab.wait_for_selector(".floor-countdown[data-phase=overtime]", timeout=15_000)
    assert countdown.text_content().startswith("+0:0")
    assert tab.text_content("#floor-speaking-note") == "Over time"
    announced(tab, "Your time is up")
    # On another part of the page (a phone shows one at a time), the banner keeps saying it.
    tab.click("#tab-link-inputs")
    tab.wait_for_selector("#floor", state="hidden")
    tab.wait_for_selector("#floor-banner", state="visible")
    assert tab.locator(".floor-banner-countdown").text_content().startswith("+0:")
    moderator.command("queue.end_speaker")
    tab.wait_for_selector("#floor[data-state=open]", state="attached")
    tab.wait_for_selector("#floor-banner", state="hidden")
    announced(tab, "Your time at the floor has ended")


@pytest.mark.browser
def test_browser_withdraw_and_closed_list(scene):
    seeded, moderator = scene["seeded"], scene["moderator"]
    moderator.command("agenda.start_item", {"item_id": seeded["item_ids"][0]})
    tab = scene["open"](seeded["tokens"]["participant1"], "participant")
    tab.click("#floor-submit")
    tab.wait_for_selector("#floor[data-state=waiting]")
    tab.click("#floor-withdraw")
    tab.click("#floor-withdraw-yes")
    tab.wait_for_selector("#floor[data-state=open]")
    tab.wait_for_function("() => document.getElementById('floor-feedback').textContent.includes('withdrawn')")
    moderator.command("queue.close")
    tab.wait_for_selector("#floor[data-state=closed-po]")
    assert tab.is_checked("#floor-form input[value=point_of_order]")
    assert tab.is_disabled("#floor-form input[value=statement]")
    assert tab.text_content("#floor-submit") == "Raise a point of order"
    moderator.command("queue.configure", {"points_of_order_when_closed": False})
    tab.wait_for_selector("#floor[data-state=closed]")
    assert not tab.is_visible("#floor-form")


@pytest.mark.browser
def test_browser_input_typed_offline_survives_a_reload_and_is_stored_once(scene):
    seeded, moderator = scene["seeded"], scene["moderator"]
    moderator.command("agenda.start_item", {"item_id": seeded["item_ids"][1]})
    tab = scene["open"](seeded["tokens"]["participant0"], "participant", part="inputs")
    tab.wait_for_selector("#input-accepting", state="hidden")
    assert tab.is_checked("#attach-item-choice input")  # about the current item by default
    # The connection goes: the socket is closed and cannot come back.
    tab.route(SOCKET_TRAFFIC, lambda route: route.abort())
    tab.evaluate("import('/static/js/live.js').then((live) => live.rawSocket().io.engine.close())")
    tab.wait_for_selector("#connection:not([data-state=connected])")
    text = "Typed offline: survivors must be heard in the review."
    tab.fill("#input-text", text)
    assert tab.text_content("#input-count") == f"{len(text)} / 2,000 characters"
    tab.click("#input-submit")
    tab.wait_for_selector("#my-inputs-list li[data-status=unsent]")
    assert "Not sent yet" in tab.text_content("#my-inputs-list li[data-status=unsent]")
    assert tab.input_value("#input-text") == text, "the box keeps the text until the server has it"
    assert tab.get_attribute("#input-submit", "aria-disabled") == "true"  # no second copy

    tab.reload()
    tab.wait_for_selector("#my-inputs-list li[data-status=unsent]")
    assert tab.input_value("#input-text") == text
    tab.unroute(SOCKET_TRAFFIC)
    tab.wait_for_selector("#connection[data-state=connected]", timeout=20_000)
    tab.wait_for_selector("#my-inputs-list li[data-status=published]")
    tab.wait_for_function("() => document.getElementById('input-text').value === ''")
    assert tab.locator("#my-inputs-list li[data-status=unsent]").count() == 0
    assert "Stored" in tab.text_content("#input-feedback")
    listing = moderator.sio.call("inputs.list", {"per_page": 50})
    assert [i["text"] for i in listing["items"]].count(text) == 1, "sent once, whatever the retries"
    assert listing["items"][0]["agenda_item_id"] == seeded["item_ids"][1]  # the item the participant saw


@pytest.mark.browser
def test_browser_kept_input_is_never_sent_in_someone_elses_name(scene):
    """Two personal links opened in one browser, one after the other: the
    first person's unsent input must not be sent by the second's page."""
    seeded, moderator = scene["seeded"], scene["moderator"]
    moderator.command("agenda.start_item", {"item_id": seeded["item_ids"][1]})
    tab = scene["open"](seeded["tokens"]["participant0"], "participant", part="inputs")
    tab.route(SOCKET_TRAFFIC, lambda route: route.abort())
    tab.evaluate("import('/static/js/live.js').then((live) => live.rawSocket().io.engine.close())")
    tab.wait_for_selector("#connection:not([data-state=connected])")
    tab.fill("#input-text", "Amina's words, not Chen's")
    tab.click("#input-submit")
    tab.wait_for_selector("#my-inputs-list li[data-status=unsent]")
    # Still cut while the other person's link opens in the same browser.
    tab.goto(f"{scene_base(tab)}/l/{seeded['tokens']['participant2']}")
    tab.unroute(SOCKET_TRAFFIC)
    tab.wait_for_selector("#connection[data-state=connected]", timeout=20_000)
    tab.click("#tab-link-inputs")
    assert tab.locator("#my-inputs-list li[data-status=unsent]").count() == 0
    assert tab.input_value("#input-text") == ""
    # Chen sends one of his own: kept writes go out first on the same
    # connection, so once his is stored, Amina's would have been too.
    tab.fill("#input-text", "Chen's own words")
    tab.click("#input-submit")
    tab.wait_for_selector("#my-inputs-list li[data-status=published]")
    listing = moderator.sio.call("inputs.list", {"per_page": 50})
    assert [item["text"] for item in listing["items"]] == ["Chen's own words"], listing["items"]
    kept = tab.evaluate("localStorage.getItem(Object.keys(localStorage).find((k) => k.startsWith('moderation:outbox:')))")
    assert "Amina's words" in kept, "kept for its author, who may come back to this browser"


def scene_base(tab) -> str:
    return re.match(r"https?://[^/]+", tab.url).group(0)


@pytest.mark.browser
def test_browser_input_errors_are_sentences_and_the_text_stays(scene):
    seeded, moderator, service = scene["seeded"], scene["moderator"], scene["service"]
    tab = scene["open"](seeded["tokens"]["participant0"], "participant", part="inputs")
    # Before the session nothing is accepted; the text stays as a draft.
    tab.fill("#input-text", "Too early")
    tab.click("#input-submit")
    assert "not being accepted" in tab.text_content("#input-feedback")
    assert tab.input_value("#input-text") == "Too early"
    moderator.command("agenda.start_item", {"item_id": seeded["item_ids"][0]})
    tab.wait_for_selector("#input-accepting", state="hidden")
    run(service, "inputs.submit", {"dialogue_id": seeded["dialogue_id"], "text": "Already said"},
        seeded["principals"]["participant0"])
    tab.fill("#input-text", "Already said")
    tab.click("#input-submit")
    tab.wait_for_selector("#input-feedback[data-kind=error]")
    feedback = tab.text_content("#input-feedback")
    assert "You have already submitted this text." in feedback and "conflict" not in feedback
    assert tab.input_value("#input-text") == "Already said"
    assert "Not stored" in tab.text_content("#my-inputs-list li[data-status=failed]")
    # Too long for a comment: said before anything is sent.
    tab.fill("#input-text", "x" * 2001)
    assert tab.get_attribute("#input-count", "data-over") == "true"
    tab.click("#input-submit")
    assert "up to 2,000 characters; yours has 2,001" in tab.text_content("#input-feedback")
    # Too fast (5 in a burst): refused with the time to wait, and the text kept.
    for n in range(6):
        tab.fill("#input-text", f"Quick input {n}")
        tab.click("#input-submit")
    # One or more of the burst is refused, depending on how fast the earlier sends were.
    refused = tab.locator("#my-inputs-list li[data-status=failed]", has_text="sending too quickly").first
    refused.wait_for()
    assert re.search(r"Please wait \d+ seconds and try again; your text is kept\.", refused.text_content())
    # A later success does not hide the refusal.
    tab.wait_for_function("() => /not stored/i.test(document.getElementById('input-feedback').textContent)")
    # Nor does the end of the wait (under load the test may only look after it).
    tab.wait_for_function("() => document.getElementById('input-submit').textContent === 'Send input'", timeout=30_000)
    assert "not stored: see “My inputs”" in tab.text_content("#input-feedback")
    # The link is revoked: the session ends with sentences, not codes.
    scene["secretariat"].command("access.revoke", {"credential_id": seeded["principals"]["participant0"].credential_id})
    tab.wait_for_selector("#connection[data-state=ended]")
    tab.wait_for_selector("#floor[data-state=ended]", state="attached")
    assert "Your personal link no longer works" in tab.text_content("#floor")
    assert "Your access link was revoked." in tab.text_content("#messages")
    assert tab.get_attribute("#input-submit", "aria-disabled") == "true"
    assert "link_revoked" not in tab.text_content("main") and "session_ended" not in tab.text_content("body")


@pytest.mark.browser
def test_browser_published_list_updates_counts_and_holds_new_inputs_while_reading(scene):
    seeded, moderator, service = scene["seeded"], scene["moderator"], scene["service"]
    did = seeded["dialogue_id"]
    moderator.command("agenda.start_item", {"item_id": seeded["item_ids"][1]})
    author = scene["connect"](seeded["tokens"]["participant1"])
    for n in range(10):  # written straight into the database: no broadcast, the page fetches them
        run(service, "inputs.submit", {"dialogue_id": did, "text": f"Earlier input number {n}"},
            seeded["principals"]["participant2" if n % 2 else "participant1"])
    first = author.command("inputs.submit", {"text": "A suggestion to endorse", "kind": "suggestion"})
    tab = scene["open"](seeded["tokens"]["participant0"], "participant", part="inputs")
    card = tab.locator("#inputs-list li", has_text="A suggestion to endorse")
    card.wait_for()
    assert tab.locator("#inputs-list li").count() == 11
    assert card.locator(".input-card-count").text_content() == "0 endorsements"
    card.locator("button.endorse").click()
    tab.wait_for_function("""() => [...document.querySelectorAll('#inputs-list li')].some((li) =>
        li.textContent.includes('A suggestion to endorse') && li.textContent.includes('1 endorsement'))""")
    assert card.locator("button.endorse").get_attribute("aria-pressed") == "true"
    # Someone else endorses: the count follows (inputs_hint, debounced).
    scene["connect"](seeded["tokens"]["participant2"]).command("inputs.endorse", {"input_id": first["result"]["input_id"]})
    card.locator(".input-card-count", has_text="2 endorsements").wait_for()

    # Reading further down: a new input waits behind a button; the place is kept.
    tab.fill("#input-text", "I am typing and must not lose this")
    row = tab.locator("#inputs-list li").nth(8)
    row.scroll_into_view_if_needed()
    tab.evaluate("window.scrollBy(0, 200)")
    before = row.bounding_box()["y"]
    author.command("inputs.submit", {"text": "Brand new while reading", "kind": "question"})
    tab.wait_for_selector("#inputs-new", state="visible")
    assert tab.text_content("#inputs-new") == "1 new input – show"
    assert tab.locator("#inputs-list li", has_text="Brand new while reading").count() == 0
    assert abs(row.bounding_box()["y"] - before) < 2
    assert tab.input_value("#input-text") == "I am typing and must not lose this"
    tab.click("#inputs-new")
    tab.locator("#inputs-list li").first.filter(has_text="Brand new while reading").wait_for()
    assert tab.is_hidden("#inputs-new")
    # Newest first, or most endorsed first; the current item, or the dialogue as a whole.
    tab.select_option("#inputs-sort", "endorsements")
    tab.locator("#inputs-list li").first.filter(has_text="A suggestion to endorse").wait_for()
    tab.select_option("#inputs-filter", "dialogue")
    tab.wait_for_selector("#inputs-empty", state="visible")
    assert tab.locator("#inputs-list li").count() == 0
    tab.select_option("#inputs-filter", "current")
    tab.locator("#inputs-list li", has_text="A suggestion to endorse").wait_for()


@pytest.mark.browser
def test_browser_edit_and_withdraw_own_inputs_until_a_moderator_acts(scene):
    seeded, moderator = scene["seeded"], scene["moderator"]
    moderator.command("agenda.start_item", {"item_id": seeded["item_ids"][1]})
    tab = scene["open"](seeded["tokens"]["participant0"], "participant", part="inputs")
    tab.wait_for_selector("#input-accepting", state="hidden")
    mine = tab.locator("#my-inputs-list li.my-input")
    for text in ("First wording", "Second input"):
        tab.fill("#input-text", text)
        tab.click("#input-submit")
        mine.filter(has_text=text).locator("[data-action=edit]").wait_for()
    first = mine.filter(has_text="First wording")
    first.locator("[data-action=edit]").click()
    editor = first.locator("textarea")
    assert editor.input_value() == "First wording"
    editor.fill("Better wording")
    mine.locator("button", has_text="Save changes").click()
    mine.locator(".my-input-text", has_text="Better wording").wait_for()
    second = mine.filter(has_text="Second input")
    second.locator("[data-action=withdraw]").click()
    second.locator("[data-action=withdraw-yes]").click()
    tab.wait_for_selector("#my-inputs-list li[data-status=withdrawn]")
    assert tab.locator("#my-inputs-list li[data-status=withdrawn] [data-action=edit]").is_hidden()
    # Once a moderator has acted, the author can no longer change it.
    listing = moderator.sio.call("inputs.list", {"per_page": 10})
    edited = next(i for i in listing["items"] if i["text"] == "Better wording")
    moderator.command("inputs.moderate", {"input_id": edited["id"], "action": "hide", "reason": "Duplicate of another"})
    hidden = tab.locator("#my-inputs-list li[data-status=hidden]")
    hidden.wait_for()
    assert hidden.locator(".my-input-reason").text_content() == "Reason: Duplicate of another"
    assert hidden.locator("[data-action=edit]").is_hidden()


@pytest.mark.browser
def test_browser_display_speaker_queue_pinned_input_and_qr(scene):
    seeded, moderator = scene["seeded"], scene["moderator"]
    did = seeded["dialogue_id"]
    scene["secretariat"].command("dialogue.configure_join", {"enabled": True, "code": "JOIN-2026"})
    tab = scene["open"](seeded["tokens"]["display"], "display", 1440, 900)
    svg = tab.locator("#display-qr-code svg")
    svg.wait_for()
    assert int(svg.get_attribute("data-modules")) >= 21
    assert tab.text_content("#display-qr-url").endswith(f"/d/{did}/join")
    assert tab.get_attribute("#display-side", "data-queue") == "no"
    moderator.command("agenda.start_item", {"item_id": seeded["item_ids"][0]})
    tab.wait_for_selector("#display-queue", state="visible")
    for index in range(3):
        scene["connect"](seeded["tokens"][f"participant{index}"]).command(
            "queue.request_floor", {"intervention_type": "reply" if index == 2 else "statement"})
    moderator.command("queue.add_speaker", {"name": "Delegate with a placard", "organization": "Mission of Austria",
                                            "category": "state_party", "channel": "room"})
    # The four requests reach the display in one or several updates: wait for the last one.
    tab.wait_for_function("() => document.querySelector('#display-queue-more').textContent === '+ 1 more waiting'")
    assert tab.eval_on_selector_all("#display-queue-list li", "items => items.length") == 3
    moderator.command("queue.call_next")
    tab.wait_for_selector("#display-speaker", state="visible")
    assert tab.get_attribute("#display-body", "data-speaker") == "yes"
    assert tab.text_content("#speaker-channel") in ("In the room", "Online")
    assert re.fullmatch(r"[23]:\d\d", tab.text_content("#speaker-countdown"))
    moderator.command("queue.adjust_speaker_time", {"seconds": -160})
    tab.wait_for_selector("#speaker-countdown[data-phase=warning]")
    assert tab.text_content("#speaker-note") == "Time is almost up"
    # The pinned input appears; nothing falls off the screen.
    made = scene["connect"](seeded["tokens"]["participant1"]).command(
        "inputs.submit", {"text": "How will victims who cannot travel be heard?", "kind": "question"})
    moderator.command("inputs.pin", {"input_id": made["result"]["input_id"]})
    tab.wait_for_selector("#display-pinned", state="visible")
    assert tab.text_content("#pinned-label") == "Question to the panel"
    for selector in ("#display-speaker", "#display-pinned", "#display-qr", "#display-next"):
        box = tab.locator(selector).bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= 900, (selector, box)
    scene["secretariat"].command("dialogue.configure_join", {"enabled": False})
    tab.wait_for_selector("#display-qr", state="hidden")


# -- the phone: one part at a time, the turn noticed -----------------------------------------------
def in_view(tab, selector: str) -> bool:
    """Whether the element is wholly on the screen and not under the tab bar."""
    return tab.evaluate("""(selector) => {
        const box = document.querySelector(selector).getBoundingClientRect();
        const bar = document.getElementById('tabbar');
        const element = document.querySelector(selector);
        const bottom = getComputedStyle(bar).display === 'none' || bar.contains(element) ? innerHeight
          : bar.getBoundingClientRect().top;
        return box.height > 0 && box.top >= 0 && box.bottom <= bottom && box.left >= 0 && box.right <= innerWidth;
    }""", selector)


def spoken(tab, selector: str) -> str:
    return " ".join(tab.text_content(selector).split())


@pytest.mark.browser
def test_browser_phone_first_screen_asks_for_the_floor_and_sends_an_input_in_one_tap(scene):
    seeded, moderator = scene["seeded"], scene["moderator"]
    moderator.command("agenda.start_item", {"item_id": seeded["item_ids"][0]})
    scene["connect"](seeded["tokens"]["participant1"]).command("queue.request_floor", {"intervention_type": "statement"})
    moderator.command("queue.call_next")
    scene["connect"](seeded["tokens"]["participant2"]).command("queue.request_floor", {"intervention_type": "statement"})
    tab = scene["open"](seeded["tokens"]["participant0"], "participant")  # 390 x 844
    tab.wait_for_selector("#floor[data-state=open]")
    # The first screen explains itself.
    assert tab.is_visible("#current-timer-label") and spoken(tab, "#current-timer-label") == "Time left for this item"
    assert re.fullmatch(r"Speaking now: Jonas Lindqvist, Jonas Lindqvist Organization · [23]:\d\d left",
                        spoken(tab, "#floor-now")), spoken(tab, "#floor-now")
    assert spoken(tab, "#floor-count") == "1 person is waiting."
    # The request button and the way to send an input are on it, not below the fold.
    for selector in ("#floor-submit", "#tab-link-floor", "#tab-link-inputs", "#tab-link-agenda", "#tab-link-me"):
        assert in_view(tab, selector), selector
    assert tab.evaluate("() => document.documentElement.scrollHeight") < 1300
    assert tab.get_attribute("#tab-link-floor", "aria-current") == "page"
    assert not tab.is_visible("#input-form") and not tab.is_visible("#agenda-heading")

    listen(tab, "floor-announce", "floor-live")
    tab.click("#floor-submit")  # one tap
    tab.wait_for_selector("#floor[data-state=waiting]")
    assert spoken(tab, "#floor-position-words") == "You are number 2 on the list."
    assert spoken(tab, "#floor-count") == "1 person ahead of you."
    for selector in ("#floor-position-words", "#floor-count", "#floor-withdraw"):
        assert in_view(tab, selector), selector
    announced(tab, "Your request is on the list. You are number 2.")
    moderator.command("queue.end_speaker")
    moderator.command("queue.call_next")
    tab.wait_for_function("() => document.getElementById('floor-position-words').textContent === 'You are next.'")
    assert spoken(tab, "#floor-count") == "No one ahead of you."
    assert re.fullmatch(r"Speaking now: Chen Wei, Chen Wei Organization · [23]:\d\d left", spoken(tab, "#floor-now"))

    tab.click("#tab-link-inputs")  # one tap to the input form
    assert tab.get_attribute("#tab-link-inputs", "aria-current") == "page"
    assert tab.get_attribute("#tab-link-floor", "aria-current") is None
    assert not tab.is_visible("#floor")
    for selector in ("#input-text", "#input-submit"):
        assert in_view(tab, selector), selector
    tab.click("#input-submit")
    assert spoken(tab, "#input-feedback") == "Write your input first."
    assert in_view(tab, "#input-feedback")
    tab.type("#input-text", "A")  # the error goes as soon as one types
    tab.wait_for_selector("#input-feedback", state="hidden")
    tab.fill("#input-text", "Sent from the first screen of a phone")
    tab.click("#input-submit")
    tab.wait_for_function("() => document.getElementById('input-feedback').textContent.startsWith('Stored')")
    tab.wait_for_function("() => document.activeElement.id !== 'input-text'")
    assert in_view(tab, "#input-feedback")
    # The bar is keyboard operable, and a reload keeps the part.
    tab.focus("#tab-link-agenda")
    tab.keyboard.press("Enter")
    tab.wait_for_selector("#agenda-heading", state="visible")
    assert tab.get_attribute("#tab-link-agenda", "aria-current") == "page"
    tab.reload()
    tab.wait_for_selector("#agenda-heading", state="visible")
    assert not tab.is_visible("#floor")


STUBS = """
window.__calls = {vibrate: [], notify: [], tones: 0, asked: 0};
navigator.vibrate = (pattern) => { window.__calls.vibrate.push(pattern); return true; };
class FakeNotification {
  constructor(title, options) { window.__calls.notify.push([title, options && options.body]); }
  static requestPermission() {
    window.__calls.asked += 1; FakeNotification.permission = 'granted'; return Promise.resolve('granted');
  }
}
FakeNotification.permission = 'default';
window.Notification = FakeNotification;
const node = () => ({connect: (next) => next, start() {}, stop() {}, frequency: {},
                    gain: {setValueAtTime() {}, exponentialRampToValueAtTime() {}}});
window.AudioContext = class { constructor() { this.currentTime = 0; this.state = 'running'; this.destination = node(); }
  createOscillator() { window.__calls.tones += 1; return node(); } createGain() { return node(); } resume() {} };
let hidden = false;
window.__hide = (value) => { hidden = value; document.dispatchEvent(new Event('visibilitychange')); };
Object.defineProperty(document, 'visibilityState', {get: () => (hidden ? 'hidden' : 'visible'), configurable: true});
Object.defineProperty(document, 'hidden', {get: () => hidden, configurable: true});
"""


@pytest.mark.browser
def test_browser_being_next_and_given_the_floor_is_noticed_behind_another_window(scene):
    seeded, moderator = scene["seeded"], scene["moderator"]
    moderator.command("agenda.start_item", {"item_id": seeded["item_ids"][0]})
    for who in ("participant1", "participant2"):
        scene["connect"](seeded["tokens"][who]).command("queue.request_floor", {"intervention_type": "statement"})
    tab = scene["open"](seeded["tokens"]["participant0"], "participant", init_script=STUBS)
    title = tab.title()
    icon = tab.get_attribute("link[rel=icon]", "href")
    calls = lambda: tab.evaluate("() => window.__calls")  # noqa: E731
    assert calls()["asked"] == 0, "permission is never asked on load"
    assert tab.is_visible("#alert-notify") and not tab.is_checked("#alert-chime")
    tab.click("#floor-submit")
    tab.wait_for_selector("#floor[data-state=waiting]")
    moderator.command("queue.call_next")  # Jonas speaks, Chen is next: two before us
    tab.wait_for_function("() => document.getElementById('floor-position').textContent === '2'")
    assert tab.title() == title and calls()["vibrate"] == []

    # One speaker ahead: "You are next" in the tab's title and icon, and the phone vibrates.
    moderator.command("queue.end_speaker")
    moderator.command("queue.call_next")
    tab.wait_for_function("(title) => document.title === 'You are next — ' + title", arg=title)
    assert tab.get_attribute("link[rel=icon]", "href").endswith("favicon-next.svg")
    seen = calls()
    assert len(seen["vibrate"]) == 1 and seen["tones"] == 0 and seen["notify"] == [], seen  # no chime, no notification unasked

    # Opting in: the chime (one tone to try it), remembered; notifications through the button.
    tab.check("#alert-chime")
    assert tab.evaluate("() => localStorage.getItem('moderation:chime')") == "on"
    assert calls()["tones"] == 1
    tab.click("#alert-notify")
    tab.wait_for_selector("#alert-notify", state="hidden")
    assert calls()["asked"] == 1
    assert "You will be notified" in tab.text_content("#alert-notify-status")

    # Given the floor with the page behind the video call (and on another part of the page).
    tab.click("#tab-link-inputs")
    tab.wait_for_selector("#floor", state="hidden")
    tab.evaluate("() => window.__hide(true)")
    moderator.command("queue.end_speaker")
    moderator.command("queue.call_next")
    tab.wait_for_function("(title) => document.title === '● You have the floor — ' + title", arg=title)
    assert tab.get_attribute("link[rel=icon]", "href").endswith("favicon-floor.svg")
    seen = calls()
    assert len(seen["vibrate"]) == 2 and seen["tones"] == 1 + 3, seen
    assert seen["notify"] == [["You have the floor", "You have 3 min."]], seen["notify"]
    # The page went back to the floor; from another part, the banner leads back to it.
    tab.wait_for_selector("#floor[data-state=speaking]", state="visible")
    assert tab.get_attribute("#tab-link-floor", "aria-current") == "page"
    tab.click("#tab-link-me")
    tab.click("#floor-banner a")
    tab.wait_for_selector("#floor", state="visible")
    assert tab.get_attribute("#tab-link-floor", "aria-current") == "page"

    moderator.command("queue.end_speaker")
    tab.wait_for_function("(title) => document.title === title", arg=title)
    assert tab.get_attribute("link[rel=icon]", "href") == icon
    # The choice is kept on this device.
    tab.reload()
    tab.wait_for_selector("#connection[data-state=connected]")
    assert tab.is_checked("#alert-chime")


@pytest.mark.browser
def test_browser_participant_sees_what_is_on_screen_now(scene):
    seeded, moderator = scene["seeded"], scene["moderator"]
    moderator.command("agenda.start_item", {"item_id": seeded["item_ids"][1]})
    tab = scene["open"](seeded["tokens"]["participant0"], "participant", part="inputs")
    assert not tab.is_visible("#on-screen")
    made = scene["connect"](seeded["tokens"]["participant1"]).command(
        "inputs.submit", {"text": f"Who hears the victims? {EVIL}", "kind": "question"})
    moderator.command("inputs.pin", {"input_id": made["result"]["input_id"]})
    tab.wait_for_selector("#on-screen", state="visible")
    assert tab.text_content("#on-screen-text") == f"Who hears the victims? {EVIL}"
    assert tab.locator("#on-screen script").count() == 0
    assert tab.text_content("#on-screen-kind") == "Question to the panel"
    assert tab.text_content("#on-screen-by").startswith("Jonas Lindqvist")
    moderator.command("inputs.pin", {"input_id": None})
    tab.wait_for_selector("#on-screen", state="hidden")
