"""The participation balance on the staff pages (static/js/participation_charts.js),
in headless Chromium against a real server of its own: four bar charts under
the moderator's speaking statistics and on the rapporteur's workspace, drawn
from the "statistics" and "participation" sections and redrawn live.
"""
from __future__ import annotations

import pytest
import test_console_pages as console_pages
from test_console_pages import running_item

# The console tests' fixtures; ``live`` is module-scoped, so this module gets a server of its own.
live, browser, open_page, sockets = (console_pages.live, console_pages.browser, console_pages.open_page,
                                     console_pages.sockets)


def test_the_charts_module_never_parses_html():
    source = (console_pages.ROOT / "static" / "js" / "participation_charts.js").read_text(encoding="utf-8")
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert forbidden not in source, forbidden


def bars(page, chart: str) -> dict[str, int]:
    """The bars of one chart: {key: value}."""
    return page.evaluate("""(chart) => Object.fromEntries(Array.from(
        document.querySelectorAll(`#participation figure[data-chart="${chart}"] rect.bar`),
        (bar) => [bar.dataset.key, Number(bar.dataset.value)]))""", chart)


def numbers(page, chart: str) -> dict[str, str]:
    """The chart's table: {label: shown value}."""
    return page.evaluate("""(chart) => Object.fromEntries(Array.from(
        document.querySelectorAll(`#participation figure[data-chart="${chart}"] tbody tr`),
        (tr) => [tr.cells[0].textContent, tr.cells[1].textContent]))""", chart)


@pytest.mark.browser
@pytest.mark.server
def test_console_charts_follow_a_speaker_who_finishes(open_page, sockets):
    from playwright.sync_api import expect

    moderator = sockets("moderator")
    running_item(moderator)
    page = open_page("moderator")
    panel = page.locator("#stats-panel #participation")
    expect(panel.locator("figure[data-chart]")).to_have_count(4)
    page.wait_for_function("() => !!document.querySelector('#participation svg').getAttribute('viewBox')")
    before = bars(page, "interventions")
    time_before = bars(page, "speaking_time")
    ack = moderator.call("queue.add_speaker", {"name": "Walk-in <b>speaker</b>", "organization": "Org",
                                                "channel": "online", "intervention_type": "statement"})
    assert ack["ok"], ack
    moderator.command("queue.call_next", {})
    page.wait_for_timeout(1100)  # a second of speaking time
    moderator.command("queue.end_speaker", {})
    page.wait_for_function("(n) => Number(document.querySelector("
                           "'#participation figure[data-chart=\"interventions\"] rect.bar[data-key=\"online\"]')"
                           "?.dataset.value) === n", arg=before.get("online", 0) + 1, timeout=10000)
    after = bars(page, "interventions")
    assert after["online"] == before.get("online", 0) + 1
    assert after.get("room", 0) == before.get("room", 0)
    assert bars(page, "speaking_time")["online"] >= time_before.get("online", 0) + 1
    figure = panel.locator('figure[data-chart="interventions"]')
    expect(figure.locator("svg")).to_be_visible()
    label = figure.locator("svg").get_attribute("aria-label")
    assert label.startswith(f"Interventions by channel and by category: In the room {after.get('room', 0)}; "
                            f"Online {after['online']}; "), label
    assert numbers(page, "interventions")["Online"] == str(after["online"])
    # The numbers, as a table, open under the chart.
    figure.locator("summary").click()
    expect(figure.locator("table tbody tr").first).to_be_visible()
    assert page.errors == []


@pytest.mark.browser
@pytest.mark.server
def test_rapporteur_sees_the_charts_and_inputs_counted_live(open_page, sockets):
    from playwright.sync_api import expect

    moderator = sockets("moderator")
    running_item(moderator)
    rapporteur = sockets("rapporteur")
    theme = "Shelters <i>&amp; funding</i>"
    theme_id = rapporteur.command("inputs.create_theme", {"name": theme})["result"]["theme_id"]
    page = open_page("rapporteur")
    toggle = page.locator("#participation-toggle")
    expect(toggle).to_be_visible()
    expect(page.locator("#participation-totals")).to_contain_text("input")
    toggle.locator("> summary").click()
    by_category = page.locator('#participation figure[data-chart="inputs_by_category"]')
    before = bars(page, "inputs_by_category")
    participant = sockets("participant")
    input_id = participant.command("inputs.submit", {"text": "Shelters need multi-year funding.",
                                                     "kind": "comment"})["result"]["input_id"]
    page.wait_for_function("(n) => Array.from(document.querySelectorAll("
                           "'#participation figure[data-chart=\"inputs_by_category\"] rect.bar'))"
                           ".reduce((sum, bar) => sum + Number(bar.dataset.value), 0) === n",
                           arg=sum(before.values()) + 1, timeout=10000)
    expect(by_category.locator("svg")).to_be_visible()
    rapporteur.command("inputs.tag", {"input_id": input_id, "theme_ids": [theme_id]})
    by_theme = page.locator('#participation figure[data-chart="inputs_by_theme"]')
    expect(by_theme.locator(f'rect.bar[data-key="{theme_id}"]')).to_have_attribute("data-value", "1")
    # The theme's name is text: in the picture, in its table, nowhere as markup.
    expect(by_theme.locator("text.chart-label", has_text="Shelters <i>")).to_have_count(1)
    assert numbers(page, "inputs_by_theme")[theme] == "1"
    assert by_theme.locator("i").count() == 0
    assert page.errors == []


@pytest.mark.browser
@pytest.mark.server
def test_drawn_charts_and_their_tables_pass_axe(browser, live, sockets):
    """With bars drawn and every table opened, on both pages (the pages'
    own axe tests see the charts as the demo has them)."""
    from test_accessibility import AXE, axe_violations, describe, require_axe

    require_axe()
    moderator = sockets("moderator")
    running_item(moderator)
    sockets("participant").command("inputs.submit", {"text": "Counted in the charts.", "kind": "comment"})
    for role in ("moderator", "rapporteur"):
        context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
        try:
            page = context.new_page()
            page.goto(live.demo["links"][role])
            page.wait_for_selector('#connection[data-state="connected"]', timeout=15000)
            page.wait_for_selector('#participation figure[data-chart="inputs_by_category"] rect.bar',
                                   state="attached")
            page.evaluate("document.querySelectorAll('#participation details').forEach((d) => { d.open = true; })")
            violations = axe_violations(page, AXE.read_text(encoding="utf-8"))
            assert violations == [], describe(violations)
        finally:
            context.close()
