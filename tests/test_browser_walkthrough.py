"""A dialogue walked end to end in Chromium, and what people try on the way.

Everything runs against the real server (tests/server.py: ``run.py --demo``
on eventlet) in Debian's Chromium driven by Playwright
(tests/browser_support.py). The first test follows the demo dialogue through
the pages: the secretariat opens it, a participant in the room (a phone) and
one at home (a laptop) ask for the floor, the chair calls them from the
console, the display shows each speaker with the countdown, the one at home
loses the connection while sending an input that is then stored once, and
the rapporteur files it under a theme and downloads the DOCX.

The others each get a dialogue of their own, seeded through the command
layer on the server's database, and do what a person would try: reload in
the middle of speaking, two tabs of the same participant, every keyboard
shortcut of the console, a very long input, an input full of HTML and emoji.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from browser_support import DESKTOP, PHONE, chromium, require_browser
from conftest import seed_dialogue

WAIT_MS = 20_000  # a slow shared machine: generous, and only spent when something is wrong
CLOCK = re.compile(r"^\+?\d+:[0-5]\d$")
HOSTILE = "<b>bold</b> <script>alert(1)</script> 🙂👍🏽 العربية"
PEOPLE = (("Amina Okafor", "room", "ngo"), ("Jonas Lindqvist", "online", "academia"),
          ("Chen Wei", "room", "academia"), ("Priya Raman", "online", "ngo"), ("Tomás Silva", "online", "ngo"))

# Whether live.js has the first snapshot, waited for up to WAIT_MS in the page
# (Playwright's wait_for_function takes a returned promise for a true value).
SNAPSHOT_IN = f"""async () => {{
  const live = await import("/static/js/live.js");
  const until = Date.now() + {WAIT_MS};
  while (!live.state.sections && Date.now() < until) await new Promise((done) => setTimeout(done, 50));
  return live.state.sections !== null;
}}"""

pytestmark = [pytest.mark.browser, pytest.mark.server]


# -- fixtures ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    """The server's answers to chosen commands, slowed down by a test (a
    real wait in the server: tests/slow_acks.py)."""
    from slow_acks import SlowAcks

    return SlowAcks(tmp_path_factory.mktemp("walkthrough-slow"))


@pytest.fixture(scope="module")
def live(tmp_path_factory, slow):
    require_browser()
    from server import LiveServer

    with LiveServer(tmp_path_factory.mktemp("walkthrough"), env=slow.env) as server:
        slow.prove(server)
        yield server


@pytest.fixture(scope="module")
def browser(live):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    try:
        with chromium() as launched:
            yield launched
    finally:
        expect.set_options(timeout=5_000)  # Playwright's default, for the other modules


class Browsing:
    """Browser contexts (one per person, or per device) and their pages; what
    went wrong in any page (a script error, an alert) is collected and must
    stay empty."""

    def __init__(self, browser):
        self.browser = browser
        self.contexts = []
        self.problems: list[str] = []

    def context(self, size=DESKTOP):
        context = self.browser.new_context(viewport=size, accept_downloads=True)
        self.contexts.append(context)
        return context

    def open(self, url: str, size=DESKTOP, *, context=None, connected: bool = True):
        from playwright.sync_api import expect

        page = (context or self.context(size)).new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))

        def on_dialog(dialog):
            self.problems.append(f"a {dialog.type} opened: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(url)
        if connected:
            expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
            # "Live" shows on connect; the controls act once the snapshot is in.
            assert page.evaluate(SNAPSHOT_IN), f"no snapshot reached {page.url}"
        return page

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def browse(browser):
    browsing = Browsing(browser)
    yield browsing
    browsing.close()
    assert browsing.problems == []


@pytest.fixture
def sockets(live):
    """connect(token, dialogue_id) -> a python-socketio client (tests/server.py)."""
    from server import Client

    opened = []

    def connect(token: str, dialogue_id: int):
        client = Client(live, token, dialogue_id).connect()
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.disconnect()


@pytest.fixture
def fresh(live, sockets):
    """A dialogue of its own on the live server (four items, five people),
    seeded through the command layer; its moderator connected by socket."""
    service = live.app().extensions["moderation"]
    seeded = seed_dialogue(service, participants=PEOPLE)
    seeded["link"] = lambda who: f"{live.base_url}/l/{seeded['tokens'][who]}"
    seeded["moderator"] = sockets(seeded["tokens"]["moderator"], seeded["dialogue_id"])
    seeded["as"] = lambda who: sockets(seeded["tokens"][who], seeded["dialogue_id"])
    return seeded


# -- helpers ---------------------------------------------------------------------------------------------
def stored(live, dialogue_id: int, text: str) -> int:
    """How many inputs with exactly this text the database holds."""
    from sqlalchemy import func, select

    from moderation.models import Input

    with live.app().extensions["moderation"].db.session() as session:
        return session.scalar(select(func.count()).select_from(Input).where(
            Input.dialogue_id == dialogue_id, Input.text == text))


def seconds(clock: str) -> int:
    """'2:58' -> 178; '+0:04' -> -4."""
    over = clock.startswith("+")
    minutes, secs = clock.lstrip("+").split(":")
    value = int(minutes) * 60 + int(secs)
    return -value if over else value


def counts_down(countdown) -> None:
    """The clock shows a time and, a second later, less of it."""
    from playwright.sync_api import expect

    expect(countdown).to_have_text(CLOCK)
    shown = countdown.text_content().strip()
    expect(countdown).not_to_have_text(shown)
    assert seconds(countdown.text_content().strip()) < seconds(shown)


def eventually(check, what: str, timeout: float = WAIT_MS / 1000):
    """Poll the server's state (through a socket) until ``check()`` is true."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def paragraphs_under(document, heading: str) -> list[str]:
    """The paragraphs of a DOCX from the heading ``heading`` to the next
    heading of the same or a higher level."""
    found, level, texts = False, None, []
    for paragraph in document.paragraphs:
        style = paragraph.style.name
        this_level = int(style.rsplit(" ", 1)[1]) if re.fullmatch(r"Heading \d", style) else (
            0 if style == "Title" else None)
        if found and this_level is not None and this_level <= level:
            break
        if found:
            texts.append(paragraph.text)
        elif this_level is not None and paragraph.text == heading:
            found, level = True, this_level
    assert found, f"no heading {heading!r} in the document"
    return texts


def floor_of(page):
    return page.locator("#floor")


# -- one whole dialogue -------------------------------------------------------------------------------
def test_a_whole_dialogue_from_the_floor_to_the_summary(live, browse):
    from docx import Document
    from playwright.sync_api import expect

    from moderation.demo import DEMO_TITLE
    from moderation.demo import PEOPLE as DEMO_PEOPLE

    links, did = live.demo["links"], live.dialogue_id
    # The secretariat opens the demo dialogue from the list of dialogues.
    admin = browse.open(links["secretariat"], connected=False)
    expect(admin).to_have_url(re.compile(r"/admin$"))
    admin.get_by_role("link", name=DEMO_TITLE, exact=True).click()
    expect(admin).to_have_url(re.compile(rf"/admin/d/{did}$"))
    expect(admin.locator("#page-title")).to_have_text(DEMO_TITLE)
    expect(admin.locator("#people-rows tr")).to_have_count(len(DEMO_PEOPLE))

    console = browse.open(links["moderator"])
    display = browse.open(links["display"])
    room = browse.open(links["participant"], PHONE)
    home = browse.open(links["participant_online"], DESKTOP)
    expect(floor_of(room)).to_have_attribute("data-state", "none")
    expect(room.locator("#me-channel")).to_have_text("In the room")
    expect(home.locator("#me-channel")).to_have_text("Online")

    # The chair starts the first item from the console; the list of speakers opens.
    expect(console.locator("#action-next .button-label")).to_have_text("Start first item")
    console.locator("#action-next").click()
    expect(console.locator("#action-next .button-label")).to_have_text("Next item")
    for page in (room, home):
        expect(floor_of(page)).to_have_attribute("data-state", "open")

    # Both ask for the floor from their own page.
    room.locator("#floor-submit").click()
    expect(floor_of(room)).to_have_attribute("data-state", "waiting")
    expect(room.locator("#floor-position-words")).to_have_text("You are next.")
    home.locator("#floor-form label.choice", has_text="Question to the panel").click()
    home.locator("#floor-submit").click()
    expect(floor_of(home)).to_have_attribute("data-state", "waiting")
    expect(console.locator("#queue-list .q-entry")).to_have_count(2)
    expect(display.locator("#display-queue-list li")).to_have_count(2)
    person = {room.locator("#me-name").text_content(): room, home.locator("#me-name").text_content(): home}

    # The console proposes one; S gives them the floor.
    first_name = console.locator("#next-name").text_content()
    assert first_name in person
    first = person.pop(first_name)
    (second_name, second), = person.items()
    console.locator("#main").focus()
    console.keyboard.press("s")
    for page in (console, display):
        expect(page.locator("#speaker-name")).to_have_text(first_name)
    expect(display.locator("#display-speaker")).to_be_visible()
    counts_down(display.locator("#speaker-countdown"))
    expect(floor_of(first)).to_have_attribute("data-state", "speaking")
    expect(first.locator(".floor-speaking-title")).to_be_visible()
    counts_down(first.locator(".floor-countdown"))
    # The three screens agree on the time left (drawn from one absolute end time).
    clocks = [seconds(locator.text_content().strip()) for locator in (
        console.locator("#speaker-countdown"), display.locator("#speaker-countdown"), first.locator(".floor-countdown"))]
    assert max(clocks) - min(clocks) <= 2, clocks
    expect(second.locator("#floor-position-words")).to_have_text("You are next.")
    expect(second.locator("#floor-now-name")).to_have_text(first_name)
    expect(display.locator("#display-queue-list .display-queue-name")).to_have_text([second_name])

    # "End speaker", then "Give the floor" to the one proposed next: the buttons.
    console.locator("#speaker-end").click()
    expect(floor_of(first)).to_have_attribute("data-state", "open")
    expect(console.locator("#next-name")).to_have_text(second_name)
    console.locator("#call-next").click()
    for page in (console, display):
        expect(page.locator("#speaker-name")).to_have_text(second_name)
    counts_down(display.locator("#speaker-countdown"))
    expect(floor_of(second)).to_have_attribute("data-state", "speaking")
    counts_down(second.locator(".floor-countdown"))
    expect(display.locator("#display-queue-empty")).to_be_visible()
    console.locator("#main").focus()
    console.keyboard.press("x")
    expect(display.locator("#display-speaker")).to_be_hidden()
    expect(floor_of(second)).to_have_attribute("data-state", "open")

    # At home the connection drops while an input is sent: it is kept, shown
    # as not sent, and stored once when the connection is back.
    text = "Sent from home while offline: shelters need multi-year funding, not one-off project grants."
    home.context.set_offline(True)
    expect(home.locator("#connection")).not_to_have_attribute("data-state", "connected")
    home.locator("#input-text").fill(text)
    home.locator("#input-submit").click()
    unsent = home.locator("#my-inputs-list li[data-status=unsent]")
    expect(unsent.locator(".my-input-text")).to_have_text([text])
    expect(unsent.locator(".my-input-status")).to_have_text("Not sent yet")
    expect(home.locator("#input-feedback")).to_contain_text("kept on this device")
    expect(home.locator("#input-text")).to_have_value(text)
    expect(home.locator("#connection")).to_contain_text("1 unsent")
    assert stored(live, did, text) == 0
    home.context.set_offline(False)
    expect(home.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(home.locator("#my-inputs-list li[data-status=published] .my-input-text")).to_have_text([text])
    expect(unsent).to_have_count(0)
    expect(home.locator("#input-text")).to_have_value("")
    assert stored(live, did, text) == 1
    console.locator("#tab-published").click()
    expect(console.locator("#list-published .input-card .input-text", has_text=text)).to_have_count(1)

    # The rapporteur makes a theme, files the input under it and downloads the DOCX.
    rapporteur = browse.open(links["rapporteur"])
    theme = "Funding of shelters"
    rapporteur.locator("#theme-name").fill(theme)
    rapporteur.locator("#theme-create button[type=submit]").click()
    expect(rapporteur.locator("#themes-list .theme-row .theme-name")).to_have_text([theme])
    card = rapporteur.locator("#ws-list .input-card", has=rapporteur.locator(".input-text", has_text=text))
    expect(card).to_have_count(1)
    card.locator('[data-act="themes"]').click()
    card.locator(".theme-checks label", has_text=theme).locator("input").check()
    expect(card.locator(".theme-chip")).to_have_text([theme])
    card.locator("[data-close]").click()
    expect(rapporteur.locator("#themes-list .theme-row", has_text=theme).locator(".theme-count")).to_have_text("1 input")
    with rapporteur.expect_download() as download:
        rapporteur.locator('#exports a[data-format="docx"]').click()
    assert download.value.suggested_filename.endswith(".docx")
    under_theme = paragraphs_under(Document(download.value.path()), theme)
    assert any(paragraph.startswith(text) for paragraph in under_theme), under_theme
    # Still once, whatever the retries after the connection came back.
    assert stored(live, did, text) == 1


# -- what a person would try ----------------------------------------------------------------------------
def test_reload_in_the_middle_of_speaking_keeps_the_floor_and_the_countdown(live, fresh, browse):
    from playwright.sync_api import expect

    did, moderator = fresh["dialogue_id"], fresh["moderator"]
    moderator.command("agenda.start_item", {"item_id": fresh["item_ids"][0]})
    page = browse.open(fresh["link"]("participant0"), PHONE)
    page.locator("#floor-submit").click()
    expect(floor_of(page)).to_have_attribute("data-state", "waiting")
    moderator.command("queue.call_next")
    expect(floor_of(page)).to_have_attribute("data-state", "speaking")
    countdown = page.locator("#floor .floor-countdown")
    counts_down(countdown)
    before = seconds(countdown.text_content().strip())

    page.reload()
    # The server's first paint already says it (before any script has run) ...
    html = page.context.request.get(f"{live.base_url}/d/{did}/participant").text()
    assert 'id="floor" data-state="speaking"' in html
    # ... and the page, live again, keeps saying it with the clock running on.
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(floor_of(page)).to_have_attribute("data-state", "speaking")
    expect(page.locator(".floor-speaking-title")).to_have_text("You have the floor")
    expect(page.locator(".floor-speaking-title")).to_be_visible()
    counts_down(countdown)
    assert seconds(countdown.text_content().strip()) <= before
    # The reload asked for nothing again.
    queue = moderator.fresh_snapshot()["sections"]["queue"]
    assert queue["waiting"] == []
    assert queue["current"]["participant_id"] == fresh["participant_ids"][0]

    # Paused by the chair, reloaded again: the same frozen time as the server's.
    moderator.command("queue.pause_speaker")
    expect(countdown).to_have_attribute("data-phase", "paused")
    page.reload()
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(floor_of(page)).to_have_attribute("data-state", "speaking")
    current = moderator.fresh_snapshot()["sections"]["queue"]["current"]
    left = current["allotted_seconds"] - current["elapsed_seconds"]
    expect(countdown).to_have_attribute("data-phase", "paused")
    assert abs(seconds(countdown.text_content().strip()) - left) <= 1


def test_two_tabs_of_one_participant_agree_and_make_no_duplicate(live, fresh, browse):
    from playwright.sync_api import expect

    did, moderator = fresh["dialogue_id"], fresh["moderator"]
    moderator.command("agenda.start_item", {"item_id": fresh["item_ids"][0]})
    laptop = browse.context(DESKTOP)
    one = browse.open(fresh["link"]("participant1"), context=laptop)
    two = browse.open(f"{live.base_url}/d/{did}/participant", context=laptop)
    me = fresh["participant_ids"][1]

    def mine_waiting() -> list:
        waiting = moderator.fresh_snapshot()["sections"]["queue"]["waiting"]
        return [entry for entry in waiting if entry["participant_id"] == me]

    # A request from one tab shows in the other.
    one.locator("#floor-submit").click()
    for tab in (one, two):
        expect(floor_of(tab)).to_have_attribute("data-state", "waiting")
        expect(tab.locator("#floor-position")).to_have_text("1")
    assert len(mine_waiting()) == 1
    # Withdrawn from the other: both tabs offer the form again.
    two.locator("#floor-withdraw").click()
    two.locator("#floor-withdraw-yes").click()
    for tab in (one, two):
        expect(floor_of(tab)).to_have_attribute("data-state", "open")
    assert mine_waiting() == []

    # Both tabs press "Request the floor" at the same moment: one request.
    for tab in (one, two):
        tab.evaluate("document.getElementById('floor-submit').click()")
    for tab in (one, two):
        expect(floor_of(tab)).to_have_attribute("data-state", "waiting")
    assert len(mine_waiting()) == 1
    for tab in (one, two):
        feedback = tab.locator("#floor-feedback")
        if feedback.is_visible():  # the slower tab is told, in words
            assert "already on the list" in feedback.text_content()
            assert "conflict" not in feedback.text_content()
    assert len(mine_waiting()) == 1

    # An input sent from one tab is listed once in both.
    text = "Two tabs, one input: the review should hear survivors directly."
    one.locator("#input-text").fill(text)
    one.locator("#input-submit").click()
    for tab in (one, two):
        expect(tab.locator("#my-inputs-list li .my-input-text", has_text=text)).to_have_count(1)
        expect(tab.locator("#my-inputs-list li[data-status=published] .my-input-text")).to_have_text([text])
        expect(tab.locator("#inputs-list li .input-card-text", has_text=text)).to_have_count(1)
    assert stored(live, did, text) == 1


def audit_trail(live, dialogue_id: int, after: int = 0) -> list[tuple[int, str]]:
    """(id, command) of the dialogue's audit entries after entry ``after``, in order."""
    from sqlalchemy import select

    from moderation.models import AuditEntry

    with live.app().extensions["moderation"].db.session() as session:
        return list(session.execute(select(AuditEntry.id, AuditEntry.command).where(
            AuditEntry.dialogue_id == dialogue_id, AuditEntry.id > after).order_by(AuditEntry.id)).all())


SCREENSHOTS = Path(__file__).resolve().parent / "output" / "screenshots"
SLOW_ANSWER = 1.0  # seconds the server takes to answer the console in the bursts below


def test_every_shortcut_of_the_console_works(live, slow, fresh, browse):
    """Every key of the console, and keys pressed faster than the server
    answers (each answer held back SLOW_ANSWER seconds in the server): every
    press is taken, shown as queued, and carried out in order."""
    from playwright.sync_api import expect

    moderator, did = fresh["moderator"], fresh["dialogue_id"]
    items = fresh["item_ids"]
    page = browse.open(fresh["link"]("moderator"))
    main = page.locator("#main")
    presses = page.locator("#console-presses")

    def press(key: str) -> None:
        main.focus()  # no button, no text field: the console's own keys
        page.keyboard.press(key)

    def burst(keys: str, commands: list[str]) -> None:
        """Press ``keys`` at once while the server is slow to answer: they
        are listed as waiting, then run as ``commands``, in that order."""
        mark = (audit_trail(live, did) or [(0, "")])[-1][0]
        slow.set({name: SLOW_ANSWER for name in commands})
        try:
            for key in keys:
                press(key)
            # The first is on its way, the others queued (the answer takes a second).
            expect(presses).to_be_visible()
            expect(presses.locator("li[data-state=queued]")).not_to_have_count(0)
            expect(page.locator("#press-announce")).to_have_text(re.compile(r"^Queued: .+ waiting\.$"))
            page.screenshot(path=str(SCREENSHOTS / f"console-queued-{len(keys)}-presses-1440x900.png"))
            expect(presses).to_be_hidden(timeout=WAIT_MS + int(len(keys) * SLOW_ANSWER * 1000))
        finally:
            slow.set({})
        # (the server's own record of who connected may come in between)
        assert [command for _, command in audit_trail(live, did, mark)
                if command != "attendance.record_connections"] == commands
        assert page.locator("#messages .message-error").count() == 0

    def agenda() -> dict:
        return moderator.fresh_snapshot()["sections"]["agenda"]

    def item(item_id: int) -> dict:
        return next(i for i in agenda()["items"] if i["id"] == item_id)

    def queue() -> dict:
        return moderator.fresh_snapshot()["sections"]["queue"]

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # N starts the first item.
    press("n")
    expect(page.locator("#action-next .button-label")).to_have_text("Next item")
    assert agenda()["current_item_id"] == items[0]
    for who in ("participant0", "participant1", "participant2", "participant3"):
        fresh["as"](who).command("queue.request_floor", {})
    expect(page.locator("#queue-list .q-entry")).to_have_count(4)

    # L opens "Add a speaker" with the cursor in the search; letters typed
    # there are text, not shortcuts; Escape closes it.
    press("l")
    expect(page.locator("#add-speaker")).to_be_visible()
    expect(page.locator("#speaker-search")).to_be_focused()
    page.keyboard.type("sxtan")
    expect(page.locator("#speaker-search")).to_have_value("sxtan")
    page.keyboard.press("Escape")
    expect(page.locator("#add-speaker")).to_be_hidden()
    expect(page.locator("#add-speaker-toggle")).to_be_focused()
    assert queue()["current"] is None and len(queue()["waiting"]) == 4

    # S gives the floor to the proposed speaker.
    proposed = page.locator("#next-name").text_content()
    press("s")
    expect(page.locator("#speaker-name")).to_have_text(proposed)
    # T pauses and resumes the speaker's time.
    press("t")
    expect(page.locator("#speaker-pause .button-label")).to_have_text("Resume")
    assert queue()["current"]["ends_at"] is None
    press("t")
    expect(page.locator("#speaker-pause .button-label")).to_have_text("Pause")
    assert queue()["current"]["ends_at"] is not None
    # A gives 30 seconds more.
    allotted = queue()["current"]["allotted_seconds"]
    press("a")
    more = allotted + 30
    expect(page.locator("#speaker-of")).to_have_text(f"of {more // 60}:{more % 60:02d}")
    # T, T, A pressed at once: pause, resume, 30 s more, in that order.
    burst("tta", ["queue.pause_speaker", "queue.resume_speaker", "queue.adjust_speaker_time"])
    more += 30
    expect(page.locator("#speaker-of")).to_have_text(f"of {more // 60}:{more % 60:02d}")
    expect(page.locator("#speaker-pause .button-label")).to_have_text("Pause")
    assert queue()["current"]["ends_at"] is not None and queue()["current"]["allotted_seconds"] == more
    # Enter on a focused button presses that button (here +30 s), not "give the floor".
    page.locator("#speaker-plus").focus()
    page.keyboard.press("Enter")
    more += 30
    expect(page.locator("#speaker-of")).to_have_text(f"of {more // 60}:{more % 60:02d}")
    assert queue()["current"]["name"] == proposed and queue()["current"]["allotted_seconds"] == more
    # X ends the speaker.
    press("x")
    expect(page.locator("#speaker-label")).to_have_text("Nobody has the floor")
    # Enter, with no button focused, gives the floor to the next one.
    following = page.locator("#next-name").text_content()
    assert following not in (proposed, "Nobody is waiting")
    press("Enter")
    expect(page.locator("#speaker-name")).to_have_text(following)

    # Alt+↓ and Alt+↑ on a waiting row's buttons move it; the focus follows.
    rows = page.locator("#queue-list .q-entry")
    expect(rows).to_have_count(2)
    top = rows.nth(0).locator(".q-name").text_content()
    rows.nth(0).locator('[data-act="up"]').focus()
    page.keyboard.press("Alt+ArrowDown")
    expect(rows.nth(1).locator(".q-name")).to_have_text(top)
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == f"Move {top} up"
    eventually(lambda: queue()["waiting"][1]["name"] == top, "the new order on the server")
    page.keyboard.press("Alt+ArrowUp")
    expect(rows.nth(0).locator(".q-name")).to_have_text(top)
    eventually(lambda: queue()["waiting"][0]["name"] == top, "the order back on the server")

    # S, S pressed at once: the two waiting speakers get the floor one after the other.
    waiting = [e["name"] for e in queue()["waiting"]]
    burst("ss", ["queue.call_next", "queue.call_next"])
    expect(page.locator("#speaker-name")).to_have_text(waiting[1])
    assert queue()["current"]["name"] == waiting[1] and queue()["waiting"] == []

    # P pauses and resumes the item's timer.
    press("p")
    expect(page.locator("#action-pause .button-label")).to_have_text("Resume")
    assert item(items[0])["status"] == "paused"
    press("p")
    expect(page.locator("#action-pause .button-label")).to_have_text("Pause")
    assert item(items[0])["status"] != "paused"
    # + and - add and take off a minute.
    planned = item(items[0])["planned_seconds"]
    press("+")
    expect(page.locator("#current-when")).to_contain_text(f"{planned // 60 + 1} min planned")
    assert item(items[0])["planned_seconds"] == planned + 60
    press("-")
    expect(page.locator("#current-when")).to_contain_text(f"{planned // 60} min planned")
    assert item(items[0])["planned_seconds"] == planned
    # P, P, +, + pressed at once: paused, running again, two minutes more.
    burst("pp++", ["agenda.pause_item", "agenda.resume_item", "agenda.adjust_time", "agenda.adjust_time"])
    expect(page.locator("#current-when")).to_contain_text(f"{planned // 60 + 2} min planned")
    assert item(items[0])["planned_seconds"] == planned + 120 and item(items[0])["status"] == "running"
    # N moves to the next item (ending this one): someone has the floor, so
    # the console asks first and Enter confirms; E ends the item (no one
    # speaks or waits on the new one: nothing to ask).
    press("n")
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#current-title")).to_have_text(item(items[1])["title"])
    assert item(items[0])["status"] == "done" and agenda()["current_item_id"] == items[1]
    press("e")
    expect(page.locator("#action-next .button-label")).to_have_text("Start next item")
    assert item(items[1])["status"] == "done" and agenda()["current_item_id"] is None


def test_input_buttons_pressed_twice_while_the_server_is_slow(live, slow, fresh, browse):
    """The console's "Show on display", pressed twice before the first
    answer: queued, then shown and taken off again, in order. On the
    rapporteur's page a second press of a waiting button is not taken, and
    the page says so."""
    from playwright.sync_api import expect

    moderator, did = fresh["moderator"], fresh["dialogue_id"]
    moderator.command("agenda.start_item", {"item_id": fresh["item_ids"][3]})
    input_id = fresh["as"]("participant0").command("inputs.submit", {"text": "Fund shelters."})["result"]["input_id"]
    console = browse.open(fresh["link"]("moderator"))
    console.click("#tab-published")
    pin = console.locator(f'#list-published .input-card[data-key="{input_id}"] [data-act="pin"]')
    mark = (audit_trail(live, did) or [(0, "")])[-1][0]
    slow.set({"inputs.pin": SLOW_ANSWER})
    try:
        pin.click()
        pin.click()
        expect(console.locator("#console-presses li[data-state=queued]")).to_have_count(1)
        expect(console.locator("#console-presses")).to_be_hidden(timeout=WAIT_MS + 2 * int(SLOW_ANSWER * 1000))
    finally:
        slow.set({})
    # Only the inputs' commands: the presence loop records connections whenever it runs.
    assert [c for _, c in audit_trail(live, did, mark) if c.startswith("inputs.")] == ["inputs.pin", "inputs.pin"]
    assert moderator.fresh_snapshot()["sections"]["pinned"] is None  # shown, then taken off

    workspace = browse.open(fresh["link"]("rapporteur"))
    addressed = workspace.locator(f'#ws-list .input-card[data-key="{input_id}"] [data-act="addressed"]')
    slow.set({"inputs.mark_addressed": SLOW_ANSWER})
    try:
        addressed.click()
        expect(addressed).to_have_attribute("aria-busy", "true")
        addressed.click()
        expect(workspace.locator("#messages .message", has_text="Not taken: the previous press is still waiting "
                                 "for the server.")).to_have_count(1)
        expect(addressed).not_to_have_attribute("aria-busy", "true", timeout=WAIT_MS)
    finally:
        slow.set({})
    eventually(lambda: any(c == "inputs.mark_addressed" for _, c in audit_trail(live, did, mark)), "the one press")
    assert [c for _, c in audit_trail(live, did, mark) if c == "inputs.mark_addressed"] == ["inputs.mark_addressed"]


def test_a_very_long_input_at_the_limit_is_kept_whole_and_one_over_is_refused(live, fresh, browse):
    from playwright.sync_api import expect

    did, moderator = fresh["dialogue_id"], fresh["moderator"]
    moderator.command("agenda.start_item", {"item_id": fresh["item_ids"][3]})
    limit = moderator.fresh_snapshot()["sections"]["input_settings"]["max_chars"]
    page = browse.open(fresh["link"]("participant0"), PHONE)
    page.locator("#tab-link-inputs").click()  # a phone shows one part of the page at a time
    # Paragraphs, accents and an address pasted whole (a long unbroken word).
    address = "https://www.unodc.org/documents/treaties/" + "survivor-led-shelters-" * 6 + "report.pdf"
    paragraph = "Survivors in the Sahel réseau need shelters funded for years, not months. "
    text = f"{address}\n\n" + paragraph * 40
    text = text[:limit - 3].rstrip() + " ok"
    text = text + "." * (limit - len(text))
    assert len(text) == limit

    page.locator("#input-text").fill(text)
    expect(page.locator("#input-count")).to_have_text(f"{limit:,} / {limit:,} characters")
    expect(page.locator("#input-count")).to_have_attribute("data-over", "false")
    page.locator("#input-submit").click()
    mine = page.locator("#my-inputs-list li[data-status=published] .my-input-text")
    expect(mine).to_have_text([text])
    card = page.locator("#inputs-list li .input-card-text")
    expect(card).to_have_text([text])
    assert stored(live, did, text) == 1
    # Shown in full to the chair and the rapporteur too.
    console = browse.open(fresh["link"]("moderator"))
    console.locator("#tab-published").click()
    rapporteur = browse.open(fresh["link"]("rapporteur"))
    staff = (console.locator("#list-published .input-card .input-text"),
             rapporteur.locator("#ws-list .input-card .input-text"))
    for shown in staff:
        expect(shown).to_have_text([text])
    # Nothing cut off, nothing wider than its box or than the phone.
    for shown in (mine, card, *staff):
        assert shown.evaluate("(node) => node.scrollHeight <= node.clientHeight + 1"
                              " && node.scrollWidth <= node.clientWidth + 1"), shown
    for screen in (page, console, rapporteur):
        assert screen.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), screen.url

    # One character more: said before anything is sent; the text stays.
    over = text[:-1] + "!!"
    page.locator("#input-text").fill(over)
    expect(page.locator("#input-count")).to_have_text(f"{limit + 1:,} / {limit:,} characters")
    expect(page.locator("#input-count")).to_have_attribute("data-over", "true")
    page.locator("#input-submit").click()
    expect(page.locator("#input-feedback")).to_have_text(
        f"An input may have up to {limit:,} characters; yours has {limit + 1:,}.")
    expect(page.locator("#input-feedback")).to_have_attribute("data-kind", "error")
    expect(page.locator("#input-text")).to_have_value(over)
    expect(page.locator("#my-inputs-list li")).to_have_count(1)
    assert stored(live, did, over) == 0
    assert page.evaluate("() => Object.keys(localStorage).filter((k) => k.startsWith('moderation:outbox:'))"
                         ".map((k) => localStorage.getItem(k)).join('')").count("!!") == 0


def test_html_and_emoji_in_an_input_are_shown_verbatim_everywhere(live, fresh, browse):
    from playwright.sync_api import expect

    did, moderator = fresh["dialogue_id"], fresh["moderator"]
    moderator.command("agenda.start_item", {"item_id": fresh["item_ids"][3]})
    participant = browse.open(fresh["link"]("participant2"), PHONE)
    console = browse.open(fresh["link"]("moderator"))
    rapporteur = browse.open(fresh["link"]("rapporteur"))
    display = browse.open(fresh["link"]("display"))

    participant.locator("#tab-link-inputs").click()  # a phone shows one part of the page at a time
    participant.locator("#input-text").fill(HOSTILE)
    participant.locator("#input-submit").click()
    console.locator("#tab-published").click()
    shown = {
        "my inputs": participant.locator("#my-inputs-list li[data-status=published] .my-input-text"),
        "published inputs": participant.locator("#inputs-list li .input-card-text"),
        "moderator console": console.locator("#list-published .input-card .input-text"),
        "rapporteur workspace": rapporteur.locator("#ws-list .input-card .input-text"),
    }
    for where, locator in shown.items():
        expect(locator, where).to_have_text([HOSTILE])
    assert stored(live, did, HOSTILE) == 1

    # The chair shows it on the display.
    card = console.locator("#list-published .input-card", has=console.locator(".input-text", has_text="bold"))
    card.locator('[data-act="pin"]').click()
    expect(display.locator("#display-pinned")).to_be_visible()
    shown["display"] = display.locator("#pinned-text")
    expect(shown["display"]).to_have_text(HOSTILE)

    # Text, never markup: no element was made of it, in any page.
    for where, locator in shown.items():
        assert locator.first.evaluate("(node) => node.children.length") == 0, where
    for page in (participant, console, rapporteur, display):
        assert page.locator("main b, main script:not([src])").count() == 0
    # The server's own first paint escapes it too.
    for page, path in ((participant, "participant"), (console, "moderator"), (rapporteur, "rapporteur"),
                       (display, "display")):
        html = page.context.request.get(f"{live.base_url}/d/{did}/{path}").text()
        assert "<script>alert(1)" not in html and "<b>bold</b>" not in html, path
    html = participant.context.request.get(f"{live.base_url}/d/{did}/participant").text()
    assert "&lt;b&gt;bold&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt; 🙂👍🏽 العربية" in html
    html = display.context.request.get(f"{live.base_url}/d/{did}/display").text()
    assert "&lt;b&gt;bold&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt; 🙂👍🏽 العربية" in html
