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

import pytest

import test_console_pages as console_pages
from test_console_pages import running_item

# The console tests' fixtures; ``live`` is module-scoped, so this module gets a server of its own.
live, browser, open_page, sockets = (console_pages.live, console_pages.browser, console_pages.open_page,
                                     console_pages.sockets)

pytestmark = [pytest.mark.browser, pytest.mark.server]


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
