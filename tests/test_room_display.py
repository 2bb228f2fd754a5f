"""The room's display in a real browser (Debian's Chromium, Playwright,
the real server): a phone scanning its QR code joins in the room without
typing the code, and the screen reads from the back of the room at 720p
and 1080p. Command-level tests of the same rules: tests/test_room_join.py.
"""
from __future__ import annotations

import re

import pytest
import test_participant_page
from sqlalchemy import select

from moderation.models import Participant

# The live server, Chromium and a seeded scene of the participant page's browser tests.
browser, clients, live, scene = (test_participant_page.browser, test_participant_page.clients,
                                 test_participant_page.live, test_participant_page.scene)

pytestmark = pytest.mark.browser


def pin_call_and_open_display(scene, kind: str, width: int, height: int):
    """A participant's input pinned, the next speaker called, the display open
    with its pinned input and QR code drawn."""
    seeded, moderator = scene["seeded"], scene["moderator"]
    made = scene["connect"](seeded["tokens"]["participant1"]).command(
        "inputs.submit", {"text": "How will victims who cannot travel be heard?", "kind": kind})
    moderator.command("inputs.pin", {"input_id": made["result"]["input_id"]})
    moderator.command("queue.call_next")
    tab = scene["open"](seeded["tokens"]["display"], "display", width, height)
    tab.wait_for_selector("#display-pinned", state="visible")
    tab.locator("#display-qr-code svg").wait_for()
    return tab


def people(scene, organization: str) -> dict[str, tuple[str, bool]]:
    """(channel, alternate) of each participant of ``organization``, from the server's database."""
    with scene["service"].db.session() as s:
        rows = s.scalars(select(Participant).where(Participant.dialogue_id == scene["seeded"]["dialogue_id"]))
        return {p.name: (p.channel, p.alternate) for p in rows if p.organization and p.organization.name == organization}


def test_browser_scanning_the_display_joins_in_the_room_and_a_new_code_revokes_the_qr(scene, browser):
    seeded = scene["seeded"]
    did = seeded["dialogue_id"]
    scene["secretariat"].command("dialogue.configure_join", {"enabled": True})
    display = scene["open"](seeded["tokens"]["display"], "display", 1280, 720)
    holder = display.locator("#display-qr-code")
    holder.locator("svg").wait_for()
    url = holder.get_attribute("data-url")
    assert re.fullmatch(rf"http://[^/]+/d/{did}/join\?t=[A-Za-z0-9_.-]+", url), url
    assert not any(token in url for token in seeded["tokens"].values())  # never a staff token
    code = display.text_content("#display-join-code")
    assert re.fullmatch(r"[A-Z2-9]{8}", code)  # in large type under the QR code, for those who type it
    errors = []

    def scan(name: str):
        """A phone in a fresh browser, no one signed in, opening the QR code's link."""
        context = browser.new_context(viewport={"width": 390, "height": 844})
        phone = context.new_page()
        phone.set_default_timeout(10_000)
        phone.on("pageerror", lambda error: errors.append(str(error)))
        phone.goto(url)
        assert phone.locator("#code").count() == 0  # no code to type
        assert phone.is_checked("input[name=channel][value=room]")
        phone.fill("#name", name)
        phone.fill("#organization", "Victims' Voice")
        phone.select_option("#category", "ngo")
        phone.click("button[type=submit]")
        return context, phone

    contexts = []
    for name in ("Ana Room", "Bo Room"):
        context, phone = scan(name)
        contexts.append(context)
        phone.wait_for_url(f"**/d/{did}/participant")
        phone.wait_for_selector("#connection[data-state=connected]")
    assert people(scene, "Victims' Voice") == {"Ana Room": ("room", False), "Bo Room": ("room", True)}
    context, phone = scan("Cy Room")  # the organization's places are taken
    contexts.append(context)
    phone.wait_for_selector("#join-error")
    assert "one in-person participant plus one alternate" in phone.text_content("#join-error")
    assert f"/d/{did}/join" in phone.url and "Cy Room" not in people(scene, "Victims' Voice")
    assert phone.locator("#code").count() == 0  # still no code to type: online is open to them

    # The secretariat issues a new code: the display follows, the old QR link is refused.
    scene["secretariat"].command("dialogue.configure_join", {"enabled": True})
    display.wait_for_function("(old) => document.getElementById('display-qr-code').dataset.url !== old", arg=url)
    assert display.text_content("#display-join-code") not in ("", code)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    contexts.append(context)
    phone = context.new_page()
    phone.goto(url)
    assert "This QR code is no longer valid" in phone.text_content("#join-error")
    assert phone.locator("#code").count() == 1  # the code on the screen still works

    # Typed from the screen ("or open …/join", the code): nothing chosen for them, and the choice is asked.
    phone.goto(url.split("?")[0])
    assert not phone.is_checked("input[name=channel][value=room]")
    assert not phone.is_checked("input[name=channel][value=online]")
    phone.fill("#code", display.text_content("#display-join-code"))
    phone.fill("#name", "Di Room")
    phone.fill("#organization", "Another Voice")
    phone.click("button[type=submit]")  # the browser asks first: the choice is required
    assert phone.evaluate("() => document.querySelector('input[name=channel]').validity.valueMissing")
    assert f"/d/{did}/join" in phone.url
    phone.check("input[name=channel][value=room]")
    phone.click("button[type=submit]")
    phone.wait_for_url(f"**/d/{did}/participant")
    assert people(scene, "Another Voice") == {"Di Room": ("room", False)}
    for context in contexts:
        context.close()
    assert errors == []


# -- read from the back of the room ----------------------------------------------------------------------
TEXTS = """() => {
    const found = [];
    for (const node of document.querySelectorAll("body *")) {
        const own = [...node.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim());
        if (!own) continue;
        const box = node.getBoundingClientRect();
        const style = getComputedStyle(node);
        if (box.width <= 1 || box.height <= 1 || style.visibility === "hidden") continue;  // screen-reader text
        if (box.bottom <= 0 || box.top >= innerHeight || box.right <= 0 || box.left >= innerWidth) continue;
        found.push({id: node.id || node.className, text: node.textContent.trim().slice(0, 40),
                    size: parseFloat(style.fontSize)});
    }
    return found;
}"""


def font(tab, selector: str) -> float:
    return tab.eval_on_selector(selector, "(node) => parseFloat(getComputedStyle(node).fontSize)")


def inside(tab, selector: str, width: int, height: int) -> dict:
    box = tab.locator(selector).bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= width + 0.5 and box["y"] + box["height"] <= height + 0.5, (selector, box)
    return box


@pytest.mark.parametrize("width,height", [(1280, 720), (1920, 1080)])
def test_browser_display_reads_from_the_back_of_the_room(scene, width, height):
    seeded, moderator = scene["seeded"], scene["moderator"]
    scene["secretariat"].command("dialogue.configure_join", {"enabled": True})
    moderator.command("agenda.start_item", {"item_id": seeded["item_ids"][0]})  # "Panel discussion"
    for index in range(3):
        scene["connect"](seeded["tokens"][f"participant{index}"]).command("queue.request_floor",
                                                                         {"intervention_type": "statement"})
    moderator.command("queue.add_speaker", {"name": "Delegate of Austria", "organization": "Mission of Austria",
                                            "category": "state_party", "channel": "room"})
    tab = pin_call_and_open_display(scene, "question", width, height)
    tab.wait_for_selector("#display-speaker", state="visible")

    # Nothing under 24px.
    small = [t for t in tab.evaluate(TEXTS) if t["size"] < 24]
    assert small == [], small
    # The speaker and their countdown dominate; the item's title above them; "Next" smaller still.
    name, countdown = font(tab, "#speaker-name"), font(tab, "#speaker-countdown")
    title, upcoming = font(tab, "#current-title"), font(tab, "#next-title")
    assert countdown > name > title > upcoming, (countdown, name, title, upcoming)
    assert title >= 1.3 * upcoming
    # One countdown at a time, labelled: the item's steps aside while someone speaks.
    assert tab.is_hidden("#current-timer")
    assert tab.text_content("#speaker-timer-label") == "Speaking time" and tab.is_visible("#speaker-timer-label")
    # The type label does not repeat the title ("Panel discussion" twice says nothing).
    assert tab.text_content("#current-title").strip() == "Panel discussion" and tab.is_hidden("#current-type")
    # A QR code that a phone reads from the back: 200px or more.
    qr = inside(tab, "#display-qr-code", width, height)
    assert qr["width"] >= 200 and qr["height"] >= 200, qr
    assert font(tab, "#display-join-code") >= 32
    # Everything on one screen, the speaker's countdown whole inside its box.
    for selector in ("#display-speaker", "#display-pinned", "#display-qr", "#display-next", "#speaker-name",
                     "#speaker-timer-label", "#display-join-code"):
        inside(tab, selector, width, height)
    speaker, clock = tab.locator("#display-speaker").bounding_box(), tab.locator("#speaker-countdown").bounding_box()
    assert clock["y"] >= speaker["y"] and clock["y"] + clock["height"] <= speaker["y"] + speaker["height"] + 0.5

    # No one speaking: the item's countdown, labelled, is the stage.
    moderator.command("queue.end_speaker")
    tab.wait_for_selector("#current-timer", state="visible")
    assert tab.text_content("#current-timer-label") == "Time left for this item"
    assert font(tab, "#current-timer [data-countdown]") > font(tab, "#current-title") > font(tab, "#next-title")
    assert [t for t in tab.evaluate(TEXTS) if t["size"] < 24] == []

    # The next item: the pinned input leaves the screen.
    moderator.command("agenda.advance")
    tab.wait_for_selector("#display-pinned", state="hidden")


# Text cut by the edge of a box that hides its overflow: half a line of an organization's name.
CUT = """() => {
    const found = [];
    for (const node of document.querySelectorAll("body *")) {
        const own = [...node.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim());
        if (!own || !node.checkVisibility()) continue;
        const box = node.getBoundingClientRect();
        if (box.width <= 1 || box.height <= 1) continue;  // screen-reader text
        for (let clip = node.parentElement; clip; clip = clip.parentElement) {
            const style = getComputedStyle(clip);
            if (style.overflowX === "visible" && style.overflowY === "visible") continue;
            const edge = clip.getBoundingClientRect();
            const inner = {top: edge.top + parseFloat(style.borderTopWidth),
                           bottom: edge.bottom - parseFloat(style.borderBottomWidth)};
            if (box.top < inner.top - 1 || box.bottom > inner.bottom + 1) {
                found.push({id: node.id || node.className, text: node.textContent.trim().slice(0, 40),
                            top: box.top, bottom: box.bottom, cut_by: clip.id || clip.className});
            }
            break;
        }
    }
    return found;
}"""


@pytest.mark.parametrize("width,height", [(1280, 720), (1366, 768), (1440, 900), (1920, 1080)])
def test_browser_the_speakers_box_cuts_no_line_and_the_countdown_covers_no_tag(scene, width, height):
    """A short box (720 lines, a two-line title with its type above it, a pinned input): the
    organization shows as whole lines, never half a line cut by the box, and the countdown stays
    clear of the tags above it ("Question to the panel"), still the largest thing on the screen."""
    seeded, moderator = scene["seeded"], scene["moderator"]
    item = seeded["item_ids"][0]
    scene["secretariat"].command("dialogue.configure_join", {"enabled": True})
    scene["secretariat"].command("agenda.update_item", {
        "item_id": item, "title": "Identifying and protecting victims of trafficking: what survivors ask of States"})
    moderator.command("agenda.start_item", {"item_id": item})
    moderator.command("queue.add_speaker", {
        "name": "Amina Okafor", "organization": "Network of Survivors for Change and Victim-led Shelters",
        "category": "ngo", "channel": "room", "intervention_type": "question"})
    scene["connect"](seeded["tokens"]["participant1"]).command("queue.request_floor",
                                                              {"intervention_type": "statement"})
    tab = pin_call_and_open_display(scene, "comment", width, height)
    assert tab.is_visible("#current-type")  # "Panel discussion", not in the title: it takes a line

    def check():
        assert tab.evaluate(CUT) == [], tab.evaluate(CUT)
        assert tab.is_visible("#speaker-org"), "the organization keeps at least one whole line"
        clock = tab.locator("#speaker-countdown").bounding_box()
        for tag in ("#speaker-type", "#speaker-channel", "#speaker-label"):
            box = tab.locator(tag).bounding_box()
            apart = (box["x"] + box["width"] <= clock["x"] + 1 or clock["x"] + clock["width"] <= box["x"] + 1
                     or box["y"] + box["height"] <= clock["y"] + 1 or clock["y"] + clock["height"] <= box["y"] + 1)
            assert apart, (tag, box, clock)
        assert font(tab, "#speaker-countdown") >= 0.14 * height
        assert font(tab, "#speaker-name") >= 0.055 * height
        assert font(tab, "#speaker-countdown") > font(tab, "#speaker-name") > font(tab, "#current-title")

    check()
    # Over time the countdown is sized anew ("+0:04" in its red box): still whole and clear.
    moderator.command("queue.adjust_speaker_time", {"seconds": -600})
    tab.wait_for_selector('#speaker-countdown[data-phase="overtime"]', timeout=20_000)
    check()


def test_browser_the_items_type_is_not_repeated_by_a_title_that_begins_with_it(scene):
    seeded, moderator = scene["seeded"], scene["moderator"]
    item = seeded["item_ids"][0]  # a panel discussion
    scene["secretariat"].command("agenda.update_item", {"item_id": item, "title": "Panel discussion: victims first"})
    moderator.command("agenda.start_item", {"item_id": item})
    tab = scene["open"](seeded["tokens"]["display"], "display", 1280, 720)
    phone = scene["open"](seeded["tokens"]["participant0"], "participant", part="agenda")
    assert tab.text_content("#current-title").strip() == "Panel discussion: victims first"
    assert tab.is_hidden("#current-type")  # rendered by the server
    # The participant's page (its current item and its agenda) follows the same rule.
    assert phone.text_content("#current-type").strip() == ""
    assert phone.text_content(f'.agenda-item[data-key="{item}"] .agenda-type').strip() == ""
    scene["secretariat"].command("agenda.update_item", {"item_id": item, "title": "Victims first"})
    tab.wait_for_function("() => document.getElementById('current-title').textContent.trim() === 'Victims first'")
    assert tab.is_visible("#current-type") and tab.text_content("#current-type").strip() == "Panel discussion"
    phone.wait_for_function("() => document.getElementById('current-type').textContent.trim() === 'Panel discussion'")
    assert phone.text_content(f'.agenda-item[data-key="{item}"] .agenda-type').strip() == "Panel discussion"
    scene["secretariat"].command("agenda.update_item", {"item_id": item, "title": "panel discussion on victims"})
    tab.wait_for_function("() => document.getElementById('current-type').hidden")  # followed live, any case
    phone.wait_for_function("() => document.getElementById('current-type').textContent.trim() === ''")
