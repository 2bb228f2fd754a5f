"""Every page in a real browser: accessibility, the look, and what the pages
say when the server refuses something.

Headless Chromium (Debian's, driven by Playwright) against the real server
(``tests/server.py``). axe-core, pinned in ``tests/package.json`` and
installed with ``npm ci --prefix tests``, is injected into each page, public
and signed in, at phone and desktop size, and must report no serious or
critical violation of WCAG 2.1 A/AA or of its best practices. The same visits
write full-page screenshots to ``tests/output/screenshots/<page>-<size>.png``
for anyone to look at after a run.

Then what axe cannot see: every console action is reachable with the Tab key
and the focus ring shows; the countdown and "you have the floor" sit in live
regions that speak at the start, the warning and zero rather than every
second; the display fits one projector screen (720 to 1080 lines) with type
in proportion to it. Last, the four refusals a person meets — an expired
link, a closed list of speakers, an input outside the window, sending too
fast — are shown as sentences on the page, never as a raw code or not at all.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_support import DESKTOP, PHONE, launch, require_browser
from conftest import require, run
from test_participant_page import SOCKET_TRAFFIC, announced, clients, listen, scene  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "tests" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "tests" / "output" / "screenshots"
SIZES = {"phone": PHONE, "desktop": DESKTOP}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
SERIOUS = ("serious", "critical")
RATE_BURST = 3  # inputs a participant may send at once; then one a minute (the server's settings here)

# name -> (who signs in: a demo link role or None, the path; {did} is the demo dialogue)
PAGES = {
    "home": (None, "/"),
    "login": (None, "/login"),
    "apply-index": (None, "/apply"),
    "apply": (None, "/d/{did}/apply"),
    "apply-done": (None, "/apply/done"),
    "apply-edit": (None, "/apply/edit/<token>"),           # the private edit link of the application just sent
    "join": (None, "/d/{did}/join"),
    "link-expired": (None, "/l/this-link-was-revoked-or-never-existed"),
    "participant": ("participant", "/d/{did}/participant"),
    "participant-online": ("participant_online", "/d/{did}/participant"),
    "registration": ("participant", "/d/{did}/registration"),
    "moderator": ("moderator", "/d/{did}/moderator"),
    "rapporteur": ("rapporteur", "/d/{did}/rapporteur"),
    "display": ("display", "/d/{did}/display"),
    "admin": ("secretariat", "/admin"),
    "admin-dialogue": ("secretariat", "/admin/d/{did}"),
    "applications": ("secretariat", "/admin/d/{did}/applications"),
    "participants": ("secretariat", "/admin/d/{did}/participants"),
    "checkin": ("secretariat", "/admin/d/{did}/checkin"),
}
LIVE_PAGES = ("participant", "participant-online", "moderator", "rapporteur", "display", "admin-dialogue")


def require_axe() -> None:
    require("axe-core", AXE.exists(), f"{AXE.relative_to(ROOT)} is missing (npm ci --prefix tests)")


@pytest.fixture(scope="module")
def axe_source() -> str:
    require_browser()
    require_axe()
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    require_browser()
    from server import LiveServer

    with LiveServer(tmp_path_factory.mktemp("accessibility"),
                    env={"MODERATION_INPUT_RATE_BURST": str(RATE_BURST),
                         "MODERATION_INPUT_RATE_PER_MINUTE": "1"}) as server:
        yield server


@pytest.fixture(scope="module")
def browser(live):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def connect(live, role: str):
    from server import Client

    return Client(live, live.token(role), live.dialogue_id).connect()


@pytest.fixture(scope="module")
def busy_demo(live):
    """The demo dialogue in full swing, so that each page shows what it shows
    in a session: applications open, an item running, the in-room
    participant speaking, two people waiting, inputs published, one pinned."""
    moderator, secretariat = connect(live, "moderator"), connect(live, "secretariat")
    participant, online = connect(live, "participant"), connect(live, "participant_online")
    try:
        secretariat.command("applications.configure", {"open": True, "deadline": "2099-12-31T23:59"})
        agenda = moderator.fresh_snapshot()["sections"]["agenda"]
        if agenda["current_item_id"] is None:
            moderator.command("agenda.start_item", {"item_id": agenda["items"][0]["id"]})
        participant.command("queue.request_floor", {"intervention_type": "question", "note": "Shelters"})
        moderator.command("queue.call_next")
        online.command("queue.request_floor", {})
        people = moderator.fresh_snapshot()["sections"]["participants"]
        moderator.command("queue.add_speaker", {"participant_id": people[-1]["id"]})
        first = online.command("inputs.submit", {"text": "Survivor-led shelters need multi-year funding.",
                                                 "kind": "comment"})
        online.command("inputs.submit", {"text": "How are victims identified at borders?", "kind": "question"})
        moderator.command("inputs.pin", {"input_id": first["result"]["input_id"]})
    finally:
        for client in (moderator, secretariat, participant, online):
            client.disconnect()
    return live


def open_path(browser, live, name: str, size: str, *, bypass_csp: bool = True):
    """A fresh context at ``size`` signed in as the page's role, showing the
    page, ready (live pages connected)."""
    who, path = PAGES[name]
    context = browser.new_context(viewport=SIZES[size], bypass_csp=bypass_csp)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    if who:
        page.goto(live.demo["links"][who])
    if name in ("apply-done", "apply-edit"):
        submit_application(page, live)
        if name == "apply-edit":
            page.goto(page.get_attribute("#edit-link", "href"))
    else:
        page.goto(live.base_url + path.format(did=live.dialogue_id))
    if name in LIVE_PAGES:
        page.wait_for_selector('#connection[data-state="connected"]')
    page.wait_for_load_state("networkidle")
    return context, page


def submit_application(page, live) -> None:
    """Fill in the public form as an organization would, to reach /apply/done."""
    page.goto(f"{live.base_url}/d/{live.dialogue_id}/apply")
    page.fill("#organization-name", "Survivors' Voice Network")
    page.select_option("#organization-category", index=1)
    page.check("input[name='organization.ecosoc_status'][value='no']")
    page.fill("#organization-country", "Kenya")
    page.fill("#organization-expertise", "We support survivors of trafficking.")
    page.fill("#contact-name", "Dana Weiss")
    page.fill("#contact-email", "dana@example.org")
    page.fill("#participants-0-name", "Amara Diallo")
    page.fill("#participants-0-email", "amara@example.org")
    page.check("#confirmed input")
    page.click("button[value='submit']")
    page.wait_for_url(re.compile(r"/apply/done$"))


def axe_violations(page, source: str) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(content=source)
    result = page.evaluate("""(tags) => window.axe.run(document, {
        runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})""", AXE_TAGS)
    return [v for v in result["violations"] if v["impact"] in SERIOUS]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['impact']}: {v['id']} – {v['help']}")
        for node in v["nodes"][:6]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node.get('failureSummary', '').splitlines()[-1:]}")
    return "\n".join(lines)


# -- axe-core on every page, with screenshots --------------------------------------------------------
@pytest.mark.browser
@pytest.mark.server
@pytest.mark.parametrize("name", list(PAGES))
def test_page_has_no_serious_accessibility_violation(name, busy_demo, browser, axe_source):
    SHOTS.mkdir(parents=True, exist_ok=True)
    found = {}
    for size in SIZES:
        context, page = open_path(browser, busy_demo, name, size)
        try:
            page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)
            violations = axe_violations(page, axe_source)
            if violations:
                found[size] = describe(violations)
            assert page.errors == [], page.errors
        finally:
            context.close()
    assert not found, "\n".join(f"[{size}]\n{text}" for size, text in found.items())


# -- the keyboard and the focus ring -------------------------------------------------------------------
# Every control a visitor can see and use, marked with data-tab-probe, with
# the folded parts (<details>) opened; radio buttons count once per group
# (Tab enters a group at its checked button).
MARK_CONTROLS = """() => {
    for (const details of document.querySelectorAll("details")) details.open = true;
    const selector = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]";
    let n = 0;
    const groups = new Set();
    for (const node of document.querySelectorAll(selector)) {
        if (node.tabIndex < 0 || node.disabled || node.closest("[inert]")) continue;
        if (!node.checkVisibility({checkVisibilityCSS: true})) continue;
        if (node.type === "radio") {
            const group = `${node.form ? node.form.id : ""}/${node.name}`;
            node.dataset.tabProbe = `radio:${group}`;
            groups.add(group);
            continue;
        }
        node.dataset.tabProbe = String(n++);
    }
    return [...Array(n).keys()].map(String).concat([...groups].map((g) => `radio:${g}`));
}"""
FOCUSED = """() => {
    const node = document.activeElement;
    if (!node || node === document.body) return null;
    // The picker button inside a date field: the browser's own part, with its own ring.
    if (!node.matches(":focus")) return {probe: node.dataset.tabProbe || null, ring: true, what: "(inner part)"};
    const style = getComputedStyle(node);
    const ring = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== "none";
    return {probe: node.dataset.tabProbe || null, ring,
            what: `${node.tagName.toLowerCase()}#${node.id} `
                  + (node.getAttribute("aria-label") || node.textContent || "").trim().slice(0, 40)};
}"""


def tab_through(page) -> tuple[set, list[dict]]:
    """Press Tab from the top of the page until the focus leaves it or comes
    round again; return the probes reached and what was focused."""
    controls = page.evaluate(MARK_CONTROLS)
    reached, visits = set(), []
    for _ in range(len(controls) * 2 + 20):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None or (visits and focused["probe"] == visits[0]["probe"] and focused["probe"]):
            break
        visits.append(focused)
        if focused["probe"]:
            reached.add(focused["probe"])
    return set(controls), visits


@pytest.mark.browser
@pytest.mark.server
@pytest.mark.parametrize("name", ["moderator", "rapporteur", "participant", "admin-dialogue"])
def test_every_control_is_reached_with_tab_and_shows_a_focus_ring(name, busy_demo, browser):
    context, page = open_path(browser, busy_demo, name, "desktop", bypass_csp=False)
    try:
        controls, visits = tab_through(page)
        reached = {visit["probe"] for visit in visits if visit["probe"]}
        missed = page.evaluate("(probes) => probes.map((p) => document.querySelector(`[data-tab-probe='${p}']`))"
                               ".map((n) => `${n.tagName.toLowerCase()}#${n.id} ${(n.getAttribute('aria-label') || "
                               "n.textContent || '').trim().slice(0, 40)}`)", sorted(controls - reached))
        assert not missed, f"not reachable with Tab on {name}: {missed}"
        without_ring = [visit["what"] for visit in visits if not visit["ring"]]
        assert not without_ring, f"focused without a visible ring on {name}: {without_ring}"
        assert page.errors == []
    finally:
        context.close()


def test_focus_visible_rule_is_in_the_stylesheet():
    css = (ROOT / "static" / "css" / "app.css").read_text(encoding="utf-8")
    rule = re.search(r":focus-visible\s*\{([^}]*)\}", css)
    assert rule and re.search(r"outline:\s*[2-9]px solid", rule.group(1))


# -- screen readers: the floor and the countdown ------------------------------------------------------
# ``scene`` (from test_participant_page): a fresh dialogue on this module's
# live server with moderator and secretariat clients, and pages for its links.
OVER_THREE_SECONDS = re.compile(r"^\+(0:0[3-9]|0:[1-5]\d|[1-9]\d*:\d\d)$")


def said(page) -> list[str]:
    return page.evaluate("() => window.__said")


@pytest.mark.browser
@pytest.mark.server
def test_floor_and_countdown_are_announced_at_start_warning_and_zero_only(scene):
    seeded, moderator = scene["seeded"], scene["moderator"]
    moderator.command("agenda.start_item", {"item_id": seeded["item_ids"][0]})
    console = scene["open"](seeded["tokens"]["moderator"], "moderator", **DESKTOP)
    display = scene["open"](seeded["tokens"]["display"], "display", **DESKTOP)
    phone = scene["open"](seeded["tokens"]["participant0"], "participant")
    # The countdowns are timers (read on demand, not every second); the news goes to live regions.
    for page, region, politeness in ((console, "speaker-announce", "polite"), (display, "speaker-announce", "polite"),
                                     (phone, "floor-announce", "assertive")):
        assert page.get_attribute(f"#{region}", "aria-live") == politeness
        assert page.get_attribute(f"#{region}", "aria-atomic") == "true"
        timers = page.locator("[role=timer]")
        assert timers.count() >= 1
        for index in range(timers.count()):
            assert timers.nth(index).get_attribute("aria-live") in (None, "off")
        listen(page, region)
    phone.click("#floor-submit")
    phone.wait_for_selector("#floor[data-state=waiting]")
    moderator.command("queue.call_next")
    announced(console, "Amina Okafor has the floor: 3 min.")
    announced(display, "Amina Okafor has the floor: 3 min.")
    announced(phone, "You have the floor. You have 3 min.")
    # Ten seconds left (the least allotted): the warning at once, then zero.
    moderator.command("queue.adjust_speaker_time", {"seconds": -175})
    for page in (console, display):
        announced(page, "seconds left for Amina Okafor")
    announced(phone, "seconds left")
    for page in (console, display):
        announced(page, "Amina Okafor's time is up.")
    announced(phone, "Your time is up")
    from playwright.sync_api import expect

    # Over time, counting up: each page's clock has ticked on for three
    # seconds past zero (every tick asks the announcer), and nothing more is said.
    for page, clock in ((console, "#speaker-countdown"), (display, "#speaker-countdown"),
                        (phone, ".floor-countdown")):
        expect(page.locator(clock)).to_have_text(OVER_THREE_SECONDS)
    for page in (console, display, phone):
        texts = said(page)
        assert len(texts) == 3, texts
        assert not any(re.search(r"\d:\d\d", text) for text in texts), texts
    moderator.command("queue.end_speaker")
    announced(console, "Nobody has the floor.")
    announced(phone, "Your time at the floor has ended")


# -- bad input: what the pages say when the server refuses ---------------------------------------------
def go_offline(page) -> None:
    """Cut the page's connection (the socket closes and cannot come back)."""
    page.route(SOCKET_TRAFFIC, lambda route: route.abort())
    page.evaluate("import('/static/js/live.js').then((live) => live.rawSocket().io.engine.close())")
    page.wait_for_selector('#connection:not([data-state="connected"])')


def come_back(page) -> None:
    page.unroute(SOCKET_TRAFFIC)
    page.wait_for_selector('#connection[data-state="connected"]', timeout=20_000)


def no_raw_codes(page) -> None:
    body = page.text_content("body")
    for raw in ("conflict", "rate_limited", "link_revoked", "invalid_payload", "Traceback", "undefined", "[object"):
        assert raw not in body, raw


@pytest.mark.browser
@pytest.mark.server
def test_an_expired_or_unknown_link_gets_a_page_that_says_what_to_do(scene, live, browser):
    seeded = scene["seeded"]
    run(scene["service"], "access.revoke", {"dialogue_id": seeded["dialogue_id"],
                                            "credential_id": seeded["principals"]["participant1"].credential_id})
    for token in (seeded["tokens"]["participant1"], "no-such-link-was-ever-issued"):
        context = browser.new_context(viewport=PHONE)
        try:
            page = context.new_page()
            response = page.goto(f"{live.base_url}/l/{token}")
            assert response.status == 401
            assert page.text_content("h1") == "This link does not work"
            assert "It may have been revoked or mistyped; ask the secretariat for a new one." in page.text_content("main")
            assert page.get_attribute("main a.button", "href") == "/"
            assert page.title().startswith("This link does not work")
        finally:
            context.close()


@pytest.mark.browser
@pytest.mark.server
def test_a_request_for_the_floor_sent_into_a_closed_list_is_explained(scene):
    seeded, moderator = scene["seeded"], scene["moderator"]
    moderator.command("agenda.start_item", {"item_id": seeded["item_ids"][0]})
    moderator.command("queue.configure", {"points_of_order_when_closed": False})
    page = scene["open"](seeded["tokens"]["participant1"], "participant")
    page.wait_for_selector("#floor[data-state=open]")
    # On a train: the page still shows the list open when the chair closes it.
    go_offline(page)
    moderator.command("queue.close")
    page.click("#floor-submit")
    come_back(page)
    feedback = page.locator("#floor-feedback")
    feedback.wait_for(state="visible")
    page.wait_for_function("() => document.getElementById('floor-feedback').dataset.kind === 'error'")
    assert feedback.text_content() == "The list of speakers is closed for this item."
    assert feedback.get_attribute("role") == "alert"
    page.wait_for_selector("#floor[data-state=closed]")
    assert "The list of speakers is closed for this item." in page.text_content("#floor-closed")
    no_raw_codes(page)
    assert moderator.fresh_snapshot()["sections"]["queue"]["waiting"] == []


@pytest.mark.browser
@pytest.mark.server
def test_inputs_outside_the_window_are_explained_and_the_text_is_kept(scene):
    import datetime as dt

    seeded, secretariat = scene["seeded"], scene["secretariat"]
    now = dt.datetime.now(dt.UTC)
    secretariat.command("inputs.configure", {"window_opens_local": (now - dt.timedelta(hours=1)).isoformat(),
                                             "window_closes_local": (now + dt.timedelta(hours=2)).isoformat()})
    page = scene["open"](seeded["tokens"]["participant0"], "participant", part="inputs")
    page.wait_for_selector("#kind-statement-choice", state="visible")
    # Writing a statement when the secretariat closes the window: said, and the text stays.
    page.check("#kind-statement-choice input")
    statement = "Our written statement on victim identification."
    page.fill("#input-text", statement)
    secretariat.command("inputs.configure", {"close_window": True})
    page.wait_for_selector("#kind-statement-choice", state="hidden")
    page.wait_for_selector("#input-feedback[data-kind=error]")
    assert "The written-input window has closed, so written statements are no longer accepted." \
        in page.text_content("#input-feedback")
    assert page.input_value("#input-text") == statement
    # Sent from a page that did not know the window had closed: the server's reason is shown.
    secretariat.command("inputs.configure", {"window_opens_local": (now - dt.timedelta(hours=1)).isoformat(),
                                             "window_closes_local": (now + dt.timedelta(hours=2)).isoformat()})
    page.wait_for_selector("#input-accepting", state="hidden")
    go_offline(page)
    secretariat.command("inputs.configure", {"close_window": True})
    page.fill("#input-text", "A comment typed offline")
    page.click("#input-submit")
    come_back(page)
    failed = page.locator("#my-inputs-list li[data-status=failed]")
    failed.wait_for()
    assert "Inputs are not being accepted now: they are open during the live session and while the " \
           "written-input window is open." in failed.text_content()
    page.wait_for_selector("#input-accepting", state="visible")
    assert "Inputs are not being accepted right now" in page.text_content("#input-accepting")
    assert page.input_value("#input-text") == "A comment typed offline"
    no_raw_codes(page)
    listing = secretariat.sio.call("inputs.list", {"per_page": 10})
    assert listing["items"] == []


@pytest.mark.browser
@pytest.mark.server
def test_sending_too_fast_says_how_long_to_wait(scene):
    seeded, moderator = scene["seeded"], scene["moderator"]
    moderator.command("agenda.start_item", {"item_id": seeded["item_ids"][1]})
    page = scene["open"](seeded["tokens"]["participant1"], "participant", part="inputs")
    page.wait_for_selector("#input-accepting", state="hidden")
    for n in range(RATE_BURST + 1):
        page.fill("#input-text", f"Quick input number {n}")
        page.click("#input-submit")
    refused = page.locator("#my-inputs-list li[data-status=failed]", has_text="sending too quickly")
    refused.wait_for()
    assert "Quick input number 3" in refused.text_content()
    assert page.input_value("#input-text") == "Quick input number 3"
    assert re.search(r"You are sending too quickly\. Please wait \d+ seconds and try again; your text is kept\.",
                     refused.text_content())
    page.wait_for_function("() => /not stored/i.test(document.getElementById('input-feedback').textContent)")
    assert page.get_attribute("#input-feedback", "role") == "alert"
    assert re.fullmatch(r"Wait \d+ s", page.text_content("#input-submit").strip())
    assert page.get_attribute("#input-submit", "aria-disabled") == "true"
    no_raw_codes(page)
    stored = moderator.sio.call("inputs.list", {"per_page": 20})["items"]
    assert len(stored) == RATE_BURST


# -- the display from the back of the room --------------------------------------------------------------
TYPE_SIZES = """() => {
    const px = (selector) => parseFloat(getComputedStyle(document.querySelector(selector)).fontSize);
    return {countdown: px("#speaker-countdown"), speaker: px("#speaker-name"), item: px("#current-title"),
            next: px(".display-queue-name"), pinned: px("#pinned-text"),
            scroll: [document.documentElement.scrollWidth, document.documentElement.scrollHeight],
            screen: [innerWidth, innerHeight]};
}"""


@pytest.mark.browser
@pytest.mark.server
@pytest.mark.parametrize("size", [DESKTOP, {"width": 1920, "height": 1080}, {"width": 1280, "height": 720}])
def test_display_is_large_and_fits_one_projector_screen(size, busy_demo, browser):
    context = browser.new_context(viewport=size)
    try:
        page = context.new_page()
        page.goto(busy_demo.demo["links"]["display"])
        page.wait_for_selector('#connection[data-state="connected"]')
        page.wait_for_selector("#display-speaker", state="visible")
        sizes = page.evaluate(TYPE_SIZES)
        assert sizes["scroll"] == sizes["screen"], "nothing below the fold or off to the side"
        # Type in proportion to the screen's height (a 720-line projector or a 1080 one):
        # the speaker's time a seventh of it (over time too, in its red box), the name
        # over a twentieth, and nothing a person must read under 2.7 % (20 px on 720 lines).
        height = size["height"]
        assert sizes["countdown"] >= 0.14 * height, sizes
        assert sizes["speaker"] >= 0.055 * height, sizes
        for part in ("item", "next", "pinned"):
            assert sizes[part] >= 0.027 * height, (part, sizes)
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.server
def test_a_speaker_over_time_is_as_large_and_overlaps_nothing(busy_demo, browser):
    """The moment a speaker runs over is when the room must see it: "+0:04" in
    its red box keeps the size of the time left, and neither it nor its label
    covers the tags above or falls out of the speaker's box."""
    moderator = connect(busy_demo, "moderator")
    allotted = moderator.fresh_snapshot()["sections"]["queue"]["current"]["allotted_seconds"]
    try:
        for _ in range(3):  # down to the 10 s floor: over time in seconds
            moderator.command("queue.adjust_speaker_time", {"seconds": -600})
        for size in (DESKTOP, {"width": 1920, "height": 1080}, {"width": 1280, "height": 720}):
            context = browser.new_context(viewport=size)
            try:
                page = context.new_page()
                page.goto(busy_demo.demo["links"]["display"])
                page.wait_for_selector('#speaker-countdown[data-phase="overtime"]', timeout=20_000)
                sizes = page.evaluate(TYPE_SIZES)
                assert sizes["scroll"] == sizes["screen"], sizes
                assert sizes["countdown"] >= 0.14 * size["height"], (size, sizes)
                boxes = page.evaluate("""() => Object.fromEntries(
                    ["speaker-countdown", "speaker-timer-label", "speaker-type", "speaker-channel", "display-speaker"]
                    .map((id) => [id, document.getElementById(id).getBoundingClientRect().toJSON()]))""")
                box, countdown = boxes["display-speaker"], boxes["speaker-countdown"]
                for part in ("speaker-countdown", "speaker-timer-label"):
                    assert box["top"] <= boxes[part]["top"] and boxes[part]["bottom"] <= box["bottom"] + 1, (size, part, boxes)
                for tag in ("speaker-type", "speaker-channel"):
                    t = boxes[tag]
                    apart = (t["right"] <= countdown["left"] or countdown["right"] <= t["left"]
                             or t["bottom"] <= countdown["top"] + 2 or countdown["bottom"] <= t["top"])
                    assert apart, (size, tag, boxes)
            finally:
                context.close()
    finally:
        moderator.command("queue.adjust_speaker_time", {"seconds": allotted - 10})
        moderator.disconnect()
