"""A moderator's slip must not cost a speaker; the console knows when it is
cut off. In headless Chromium against a real server (``tests/server.py``),
one of its own, since one test stops and restarts it:

- a stray N while someone speaks asks first (a real modal <dialog>: Escape
  keeps the item running), and once confirmed the console offers Undo for
  ten seconds; U puts back the item, the speaker with exactly the time they
  had left and the waiting list in its order;
- an undo after a second console acted is refused and the console says so;
- keys pressed while a command waits for its answer are listed and carried
  out, not dropped;
- with the server stopped a full-width banner says so and lists the presses
  made meanwhile, each cancellable; once the server is back the remaining
  ones are sent (each once), and a press made against a state that changed
  meanwhile is not replayed without asking.
"""
from __future__ import annotations

import pytest

# The console tests' fixtures: a server of this module's own (module scope),
# the browser, signed-in pages and Socket.IO clients.
import test_console_pages as console
from browser_support import HeldBroadcasts
from conftest import run

live, browser, open_page, sockets = console.live, console.browser, console.open_page, console.sockets

pytestmark = [pytest.mark.browser, pytest.mark.server]


def fresh_floor(moderator, waiting: int = 3) -> dict:
    """An item runs, one participant has the floor and ``waiting`` others
    wait; returns the queue section."""
    snapshot = console.running_item(moderator)
    queue = snapshot["sections"]["queue"]
    if queue["closed"]:
        moderator.command("queue.reopen")
    for entry in queue["waiting"]:
        moderator.command("queue.remove", {"entry_id": entry["id"]})
    if queue["current"]:
        moderator.command("queue.end_speaker")
    people = snapshot["sections"]["participants"][:waiting + 1]
    for person in people:
        moderator.command("queue.add_speaker", {"participant_id": person["id"]})
    moderator.command("queue.call_next")
    return moderator.fresh_snapshot()["sections"]["queue"]


def queue_of(moderator) -> dict:
    return moderator.fresh_snapshot()["sections"]["queue"]


def names(queue: dict) -> list[str]:
    return [entry["name"] for entry in queue["waiting"]]


def test_a_stray_n_asks_and_undo_restores_the_speaker_time_left_and_the_list(open_page, sockets):
    from playwright.sync_api import expect

    moderator = sockets("moderator")
    fresh_floor(moderator)
    moderator.command("queue.pause_speaker")  # the time left is then exact
    before = queue_of(moderator)
    item_before = moderator.fresh_snapshot()["sections"]["agenda"]["current_item_id"]
    page = open_page("moderator")
    expect(page.locator("#speaker-name")).to_have_text(before["current"]["name"])
    assert "primary" not in page.locator("#action-next").get_attribute("class"), "Next item is a secondary button"

    # A stray N: a modal question; Escape keeps the item running.
    page.locator("#main").focus()
    page.keyboard.press("n")
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"{before['current']['name']} has the floor")
    expect(page.locator("#confirm-yes")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert queue_of(moderator)["current"]["id"] == before["current"]["id"]
    assert moderator.fresh_snapshot()["sections"]["agenda"]["current_item_id"] == item_before

    # Confirmed (Enter): the item ends, and the console offers Undo.
    page.keyboard.press("n")
    expect(dialog).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#undo-bar")).to_be_visible()
    expect(page.locator("#undo-bar")).to_contain_text("The item ended")
    expect(page.locator("#speaker-label")).to_have_text("Nobody has the floor")
    assert moderator.fresh_snapshot()["sections"]["agenda"]["current_item_id"] != item_before

    page.keyboard.press("u")
    expect(page.locator("#speaker-name")).to_have_text(before["current"]["name"])
    expect(page.locator("#undo-bar")).to_be_hidden()
    after = queue_of(moderator)
    assert moderator.fresh_snapshot()["sections"]["agenda"]["current_item_id"] == item_before
    assert after["current"]["id"] == before["current"]["id"]
    assert after["current"]["elapsed_seconds"] == before["current"]["elapsed_seconds"]
    assert after["current"]["allotted_seconds"] == before["current"]["allotted_seconds"]
    assert [e["id"] for e in after["waiting"]] == [e["id"] for e in before["waiting"]]
    expect(page.locator("#queue-list .q-entry .q-name")).to_have_text(names(before))
    assert page.errors == []


def test_undo_after_a_second_console_acted_is_refused(open_page, sockets):
    from playwright.sync_api import expect

    moderator, second = sockets("moderator"), sockets("moderator")
    before = fresh_floor(moderator)
    page = open_page("moderator")
    expect(page.locator("#speaker-name")).to_have_text(before["current"]["name"])
    page.locator("#main").focus()
    page.keyboard.press("x")  # end speaker: no question, an undo
    expect(page.locator("#undo-bar")).to_be_visible()
    expect(page.locator("#speaker-label")).to_have_text("Nobody has the floor")

    second.command("queue.call_next")  # the second console gives the floor meanwhile
    called = queue_of(moderator)["current"]
    expect(page.locator("#speaker-name")).to_have_text(called["name"])
    page.locator("#undo-button").click()
    expect(page.locator("#messages")).to_contain_text("changed after that action")
    assert queue_of(moderator)["current"]["id"] == called["id"]
    assert page.errors == []


def test_keys_pressed_while_an_answer_is_pending_are_listed_and_carried_out(open_page, sockets):
    from playwright.sync_api import expect

    moderator = sockets("moderator")
    before = fresh_floor(moderator)
    gates = []
    page = open_page("moderator", prepare=lambda p: gates.append(HeldBroadcasts(p)))
    expect(page.locator("#speaker-name")).to_have_text(before["current"]["name"])
    gate = gates[0]
    gate.hold(everything=True)  # no answer reaches the page for now
    page.locator("#main").focus()
    for _ in range(3):
        page.keyboard.press("a")
    presses = page.locator("#console-presses .press-list li")
    expect(presses).to_have_count(3)
    expect(page.locator("#console-presses")).to_contain_text("+30 s (A)")
    gate.release()
    expect(page.locator("#console-presses")).to_be_hidden()
    assert queue_of(moderator)["current"]["allotted_seconds"] == before["current"]["allotted_seconds"] + 90
    assert page.errors == []


def test_with_the_server_down_presses_are_listed_cancellable_and_sent_once_back(open_page, sockets, live):
    from playwright.sync_api import expect

    moderator = sockets("moderator")
    before = fresh_floor(moderator)
    moderator.disconnect()
    page = open_page("moderator")
    expect(page.locator("#speaker-name")).to_have_text(before["current"]["name"])
    banner = page.locator("#offline-banner")
    expect(banner).to_be_hidden()

    live.stop()
    expect(banner).to_be_visible(timeout=15000)
    expect(banner).to_contain_text("Server unreachable — actions are queued")
    page.locator("#main").focus()
    for _ in range(3):
        page.keyboard.press("a")
    held = page.locator("#offline-list li")
    expect(held).to_have_count(3)
    expect(held.first).to_contain_text("+30 s")
    held.nth(1).get_by_role("button", name="Cancel").click()
    expect(held).to_have_count(2)

    live.start(demo=False)
    expect(banner).to_be_hidden(timeout=30000)
    moderator = sockets("moderator")
    expected = before["current"]["allotted_seconds"] + 60
    expect(page.locator("#speaker-of")).to_have_text(f"of {expected // 60}:{expected % 60:02d}")
    assert queue_of(moderator)["current"]["allotted_seconds"] == expected, "two of the three +30 s, each once"

    # Down again: X is pressed for the speaker shown, but meanwhile (the
    # operator's CLI on the same database) someone else got the floor.
    live.stop()
    expect(banner).to_be_visible(timeout=15000)
    page.locator("#main").focus()
    page.keyboard.press("x")
    expect(held).to_have_count(1)
    service = live.app().extensions["moderation"]
    run(service, "queue.call_next", {"dialogue_id": live.dialogue_id})
    live.start(demo=False)
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible(timeout=30000)
    expect(dialog).to_contain_text("End speaker (X)")
    page.keyboard.press("Escape")  # drop it
    expect(banner).to_be_hidden()
    moderator = sockets("moderator")
    now = queue_of(moderator)
    assert now["current"] is not None and now["current"]["id"] != before["current"]["id"], \
        "the dropped X did not end the new speaker"
    assert page.errors == []


def test_the_question_the_undo_bar_and_the_banner_pass_axe(browser, live, sockets):
    """axe-core finds no serious or critical violation with the modal
    question open, with the Undo bar shown and with the offline banner
    listing a held press."""
    from playwright.sync_api import expect
    from test_accessibility import AXE, SOCKET_TRAFFIC, axe_violations, describe, go_offline, require_axe

    require_axe()
    source = AXE.read_text(encoding="utf-8")
    moderator = sockets("moderator")
    before = fresh_floor(moderator)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(live.demo["links"]["moderator"])
        page.wait_for_selector('#connection[data-state="connected"]', timeout=15000)
        expect(page.locator("#speaker-name")).to_have_text(before["current"]["name"])
        page.locator("#main").focus()
        page.keyboard.press("e")
        expect(page.locator("#confirm-dialog")).to_be_visible()
        found = axe_violations(page, source)
        assert not found, describe(found)
        page.keyboard.press("Escape")
        page.keyboard.press("x")
        expect(page.locator("#undo-bar")).to_be_visible()
        found = axe_violations(page, source)
        assert not found, describe(found)
        go_offline(page)
        expect(page.locator("#offline-banner")).to_be_visible()
        page.keyboard.press("u")
        expect(page.locator("#offline-list li")).to_have_count(1)
        found = axe_violations(page, source)
        assert not found, describe(found)
        page.unroute(SOCKET_TRAFFIC)
    finally:
        context.close()
