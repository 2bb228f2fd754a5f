"""The moderator's console with a long waiting list and with inputs arriving,
in headless Chromium against a real server of its own (a module-scoped
``LiveServer``: these tests fill the list with twenty people and change the
dialogue's moderation mode, which the other console tests must not see).

- The compact waiting list (static/js/queue_compact.js): one line per
  speaker, one tab stop for the whole list, the agenda controls a few Tab
  presses after the floor's, the choice remembered by the browser.
- What arrives (static/js/attention.js): the inputs panel opens on what
  needs attention in the dialogue's mode, arrivals since the moderator last
  looked are marked, and their count is in sight from anywhere in the
  console and in the tab's title.
"""
from __future__ import annotations

import re

import pytest
import test_console_pages as console_pages
from test_console_pages import running_item

# The console tests' fixtures; ``live`` is module-scoped, so this module gets a server of its own.
live, browser, open_page, sockets = (console_pages.live, console_pages.browser, console_pages.open_page,
                                     console_pages.sockets)

def test_the_new_modules_never_parse_html():
    for name in ("queue_compact", "attention"):
        source = (console_pages.ROOT / "static" / "js" / f"{name}.js").read_text(encoding="utf-8")
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
            assert forbidden not in source, (name, forbidden)


def fill_queue(moderator, count: int) -> None:
    from server import polite

    running_item(moderator)
    waiting = len(moderator.fresh_snapshot()["sections"]["queue"]["waiting"])
    for number in range(waiting, count):
        ack = polite(lambda n=number: moderator.call("queue.add_speaker", {
            "name": f"Walk-in speaker {n + 1}", "organization": f"Civil society organization {n + 1}",
            "channel": "online" if n % 2 else "room", "intervention_type": "question" if n % 5 == 0 else "statement"}))
        assert ack["ok"], ack


def tabs_until(page, selector: str, limit: int = 200) -> int | None:
    """How many Tab presses take the focus from where it is to ``selector``."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return presses
    return None


@pytest.mark.browser
@pytest.mark.server
def test_compact_list_is_one_line_per_speaker_and_keeps_the_agenda_near(open_page, sockets):
    from playwright.sync_api import expect

    fill_queue(sockets("moderator"), 20)
    page = open_page("moderator")
    rows = page.locator("#queue-list .q-entry")
    expect(rows).to_have_count(20)

    # The full list: five buttons per speaker stand between the floor and the agenda.
    page.locator("#call-next").focus()
    full = tabs_until(page, "#action-next")
    assert full is not None and full > 100, full

    toggle = page.locator("#queue-compact")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#queue-panel")).to_have_attribute("data-compact", "")

    # One line each: name, organization, type and channel side by side, rows of one height.
    boxes = page.eval_on_selector_all("#queue-list .q-entry", """rows => rows.map((row) => {
        const box = (s) => row.querySelector(s).getBoundingClientRect();
        const name = box('.q-name');
        return { height: row.getBoundingClientRect().height, nameHeight: name.height,
                 line: parseFloat(getComputedStyle(row.querySelector('.q-name')).lineHeight) || 24,
                 centres: ['.q-name', '.q-org', '.q-type', '.q-channel'].map((s) => box(s).top + box(s).height / 2) };
    })""")
    assert len(boxes) == 20
    for box in boxes:
        assert box["nameHeight"] <= box["line"] * 1.2, box  # the name is not wrapped
        assert box["height"] <= 2.2 * box["line"], box  # one line (plus padding and the "⋯" button)
        assert max(box["centres"]) - min(box["centres"]) <= 6, box
    heights = [box["height"] for box in boxes]
    assert max(heights) - min(heights) <= 2, heights

    # One tab stop for the whole list; the agenda controls a few presses after the floor's.
    tabbable = page.eval_on_selector_all(
        "#queue-list button", "bs => bs.filter((b) => b.tabIndex >= 0 && b.offsetParent !== null).length")
    assert tabbable == 1
    page.locator("#call-next").focus()
    compact = tabs_until(page, "#action-next", limit=30)
    assert compact is not None and compact <= 10, compact

    # ↑/↓ go from speaker to speaker; Enter opens the actions; Escape closes them.
    menus = page.locator("#queue-list .q-menu")
    menus.nth(0).focus()
    page.keyboard.press("ArrowDown")
    expect(menus.nth(1)).to_be_focused()
    expect(menus.nth(1)).to_have_attribute("tabindex", "0")
    expect(menus.nth(0)).to_have_attribute("tabindex", "-1")
    second = rows.nth(1).locator(".q-name").inner_text()
    page.keyboard.press("Enter")
    expect(menus.nth(1)).to_have_attribute("aria-expanded", "true")
    expect(rows.nth(1).locator(".q-call")).to_be_focused()
    expect(rows.nth(1).locator(".q-call")).to_be_visible()
    page.keyboard.press("Escape")
    expect(menus.nth(1)).to_be_focused()
    expect(rows.nth(1).locator(".q-call")).to_be_hidden()

    # Alt+↓ moves the speaker and the focus stays on their row.
    page.keyboard.press("Alt+ArrowDown")
    expect(rows.nth(2).locator(".q-name")).to_have_text(second)
    expect(rows.nth(2).locator(".q-menu")).to_be_focused()

    # The choice is remembered by the browser.
    page.reload()
    page.wait_for_selector('#connection[data-state="connected"]', timeout=15000)
    expect(page.locator("#queue-panel")).to_have_attribute("data-compact", "")
    expect(page.locator("#queue-compact")).to_have_attribute("aria-pressed", "true")
    assert page.errors == []


@pytest.mark.browser
@pytest.mark.server
def test_the_console_shows_what_arrives_until_the_moderator_has_seen_it(open_page, sockets, live):
    from playwright.sync_api import expect

    running_item(sockets("moderator"))
    secretariat = sockets("secretariat")
    participant = sockets("participant")
    secretariat.command("inputs.configure", {"moderation_mode": "post"})

    # Published at once: the panel opens on the published inputs, not on an empty "To approve".
    page = open_page("moderator", size=(390, 844))
    expect(page.locator("#tab-published")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#inputs-published")).to_be_visible()
    expect(page.locator("#inputs-pending")).to_be_hidden()
    title = page.evaluate("document.title")
    assert title.startswith("Console – ") and not title.startswith("("), title

    # An input arrives while the moderator looks at the floor (the panel far below).
    page.evaluate("window.scrollTo(0, 0)")
    text = "Shelters run by survivors need multi-year funding."
    participant.command("inputs.submit", {"text": text, "kind": "comment"})
    pill = page.locator("#attention-pill")
    expect(pill).to_be_visible()
    expect(pill).to_have_text("1 new input")
    expect(pill).to_be_in_viewport()
    expect(page.locator("#nav-inputs-count")).to_have_text("1")
    expect(page).to_have_title(f"(1) {title}")
    # The dialogue renamed meanwhile: only its part of the tab's title changes.
    dialogue_title = sockets("moderator").fresh_snapshot()["sections"]["dialogue"]["title"]
    secretariat.command("dialogue.update", {"title": "Renamed for the tab title"})
    expect(page).to_have_title(f"(1) {title.replace(dialogue_title, 'Renamed for the tab title')}")
    secretariat.command("dialogue.update", {"title": dialogue_title})
    expect(page).to_have_title(f"(1) {title}")
    card = page.locator("#list-published .input-card", has=page.locator(".input-text", has_text=text))
    expect(card).to_have_attribute("data-unseen", "")
    expect(card.locator(".input-new")).to_have_text("New")
    expect(card).not_to_be_in_viewport()

    # It stays new while out of sight, even with another tab chosen by hand; following the pill
    # shows the tab where it is, and then it is seen.
    page.locator("#tab-flagged").click()
    page.evaluate("window.scrollTo(0, 0)")
    expect(page.locator("#inputs-published")).to_be_hidden()
    expect(pill).to_have_text("1 new input")
    pill.click()
    expect(page.locator("#tab-published")).to_have_attribute("aria-selected", "true")
    expect(card).not_to_have_attribute("data-unseen", "", timeout=8000)
    expect(card.locator(".input-new")).to_have_count(0)
    expect(pill).to_be_hidden()
    expect(page.locator("#nav-inputs-count")).to_be_hidden()
    expect(page).to_have_title(title)

    # What arrives while the console is closed is new when it opens again (same browser).
    context = page.context
    page.close()
    later = "Please publish the list of panellists."
    participant.command("inputs.submit", {"text": later, "kind": "suggestion"})
    again = context.new_page()
    errors: list[str] = []
    again.on("pageerror", lambda exc: errors.append(str(exc)))
    again.goto(f"{live.base_url}/d/{live.dialogue_id}/moderator")
    again.wait_for_selector('#connection[data-state="connected"]', timeout=15000)
    expect(again.locator("#attention-pill")).to_have_text("1 new input")
    new_card = again.locator("#list-published .input-card", has=again.locator(".input-text", has_text=later))
    old_card = again.locator("#list-published .input-card", has=again.locator(".input-text", has_text=text))
    expect(new_card).to_have_attribute("data-unseen", "")
    expect(old_card).to_have_count(1)
    expect(old_card).not_to_have_attribute("data-unseen", "")

    # Approval before publication: the panel switches to "To approve" and counts what waits there.
    secretariat.command("inputs.configure", {"moderation_mode": "pre"})
    expect(again.locator("#tab-pending")).to_have_attribute("aria-selected", "true")
    again.evaluate("window.scrollTo(0, 0)")
    held = "A question held for approval."
    participant.command("inputs.submit", {"text": held, "kind": "question"})
    pending = again.locator("#list-pending .input-card", has=again.locator(".input-text", has_text=held))
    expect(pending).to_have_attribute("data-unseen", "")
    expect(again.locator("#attention-pill")).to_have_text(re.compile(r"^2 inputs need you$"))
    expect(again).to_have_title(re.compile(r"^\(2\) Console – "))
    assert page.errors == [] and errors == []


@pytest.mark.browser
@pytest.mark.server
def test_an_input_arriving_while_a_console_opens_for_the_first_time_is_new(browser, live, sockets):
    """A console opened for the first time in a browser counts what was there
    as seen, but not an input that arrives while it is still reading its lists
    (once it was taken as seen, and the pill never showed: a moderator on a
    slow connection missed it)."""
    from playwright.sync_api import expect

    running_item(sockets("moderator"))
    sockets("secretariat").command("inputs.configure", {"moderation_mode": "post"})
    participant = sockets("participant")
    participant.command("inputs.submit", {"text": "Already there before the console opened.", "kind": "comment"})
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a browser that never opened it
    try:
        page = context.new_page()
        page.goto(live.demo["links"]["moderator"])
        text = "Sent while the console was opening."
        participant.command("inputs.submit", {"text": text, "kind": "comment"})
        page.wait_for_selector('#connection[data-state="connected"]', timeout=15_000)
        card = page.locator("#list-published .input-card", has=page.locator(".input-text", has_text=text))
        expect(card).to_have_attribute("data-unseen", "", timeout=10_000)
        expect(card.locator(".input-new")).to_have_text("New")
        # (the pill also counts what an earlier test of this module left waiting for approval)
        expect(page.locator("#attention-pill")).to_be_visible()
        before = page.locator("#list-published .input-card",
                              has=page.locator(".input-text", has_text="Already there before the console opened."))
        expect(before.first).not_to_have_attribute("data-unseen", "")
    finally:
        context.close()


def test_compact_list_and_attention_pill_pass_axe(browser, live, sockets):
    from playwright.sync_api import expect
    from test_accessibility import AXE, axe_violations, describe, require_axe

    require_axe()
    moderator = sockets("moderator")
    fill_queue(moderator, 20)
    participant = sockets("participant")
    context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(live.demo["links"]["moderator"])
        page.evaluate("localStorage.setItem('moderation.console.compactQueue', '1')")
        page.goto(f"{live.base_url}/d/{live.dialogue_id}/moderator")
        page.wait_for_selector('#connection[data-state="connected"]', timeout=15000)
        expect(page.locator("#queue-panel")).to_have_attribute("data-compact", "")
        page.evaluate("document.querySelector('.console-col-side').scrollTop = 5000")
        participant.command("inputs.submit", {"text": "One more comment for the pill.", "kind": "comment"})
        expect(page.locator("#attention-pill")).to_be_visible()
        page.locator("#queue-list .q-menu").nth(1).click()
        expect(page.locator("#queue-list .q-entry").nth(1).locator(".q-actions")).to_be_visible()
        violations = axe_violations(page, AXE.read_text(encoding="utf-8"))
        assert violations == [], describe(violations)
    finally:
        context.close()
