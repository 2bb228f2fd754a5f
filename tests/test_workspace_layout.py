"""The layout of the staff pages in headless Chromium against a real server of
its own (the tf-idf assistant): the rapporteur's workspace and the
moderator's console keep the window still when a section link is followed,
wrap long theme names, keep the keyboard focus after each assistant action,
list each theme once in the filter, put the categories in one order, break
the statistics between words, draw the "Likely duplicate" bar inside its
card, and lay out user text in its own direction.
"""
from __future__ import annotations

import time

import pytest
import test_console_pages as console_pages
from test_console_pages import running_item

# The console tests' fixtures; ``live`` is module-scoped, so this module gets a server of its own.
live, browser, open_page, sockets = (console_pages.live, console_pages.browser, console_pages.open_page,
                                     console_pages.sockets)

pytestmark = [pytest.mark.browser, pytest.mark.server]

LONG_THEME = "Shelters and long-term funding for survivors of trafficking in persons worldwide"  # 80 characters
ARABIC_TEXT = "يجب على الدول الأطراف ضمان حصول الضحايا على المساعدة القانونية المجانية أثناء المحاكمة."
ARABIC_NAME = "محمد عبد الرحمن الهاشمي"
ARABIC_THEME = "حماية الضحايا"
ORDER = ["ngo_ecosoc", "ngo", "academia", "private_sector", "state_party", "igo", "other"]
TOPICS = {
    "shelters": ["Shelters need multi-year funding, not project grants renewed every six months.",
                 "Long-term funding of shelters is essential; short grants force shelters to close.",
                 "Shelters for survivors need stable funding over many years.",
                 "Multi-year shelter funding for survivors, please, not six-month grants.",
                 "Survivors' shelters close when funding is short: give shelters long-term funding."],
    "legal": ["Victims need free legal aid and interpretation in their own language in court.",
              "Free legal aid and interpreters should be guaranteed to victims during trials.",
              "Victims in court need legal aid and an interpreter in their language.",
              "Interpretation and free legal aid for victims at trial, in their own language."],
    "data": ["Publish yearly data on prosecutions, disaggregated by sex, age and form of exploitation.",
             "Yearly data on prosecutions should be published, disaggregated by age and sex.",
             "Disaggregated yearly data on prosecutions by form of exploitation, please."],
}


@pytest.fixture(scope="module")
def world(live):
    """Inputs on three topics, two themes (one with a long name) each given to
    the first inputs of its topic, an Arabic input and theme, and one
    intervention in each category."""
    from server import Client

    roles = ("moderator", "participant", "participant_online", "rapporteur")
    clients = [Client(live, live.token(role), live.dialogue_id).connect() for role in roles]
    moderator, first, second, rapporteur = clients
    running_item(moderator)
    ids: dict[str, list[int]] = {}
    n = 0
    for topic, texts in TOPICS.items():
        for text in texts:
            sender = first if n % 2 == 0 else second
            n += 1
            ids.setdefault(topic, []).append(
                sender.command("inputs.submit", {"text": text, "attach_to": "dialogue"})["result"]["input_id"])
    # near duplicates, for "Likely duplicate"
    dup_text = "Online platforms must quickly remove fake job advertisements used to recruit victims."
    dups = [first.command("inputs.submit", {"text": dup_text, "attach_to": "dialogue"})["result"]["input_id"],
            second.command("inputs.submit", {"text": dup_text + " Thank you.",
                                             "attach_to": "dialogue"})["result"]["input_id"]]
    arabic = first.command("inputs.submit", {"text": ARABIC_TEXT, "attach_to": "dialogue"})["result"]["input_id"]
    long_theme = rapporteur.command("inputs.create_theme", {"name": LONG_THEME})["result"]["theme_id"]
    legal_theme = rapporteur.command("inputs.create_theme", {"name": "Access to justice"})["result"]["theme_id"]
    arabic_theme = rapporteur.command("inputs.create_theme", {"name": ARABIC_THEME})["result"]["theme_id"]
    for input_id in ids["shelters"][:3]:
        rapporteur.command("inputs.tag", {"input_id": input_id, "theme_ids": [long_theme]})
    for input_id in ids["legal"][:2]:
        rapporteur.command("inputs.tag", {"input_id": input_id, "theme_ids": [legal_theme]})
    rapporteur.command("inputs.tag", {"input_id": arabic, "theme_ids": [arabic_theme]})
    for k, category in enumerate(reversed(ORDER)):  # added in the reverse of the intended order
        name = ARABIC_NAME if k == 0 else f"Speaker {category}"
        moderator.command("queue.add_speaker", {"name": name, "organization": f"Org {k}", "category": category,
                                                "channel": "room" if k % 2 else "online"})
        moderator.command("queue.call_next", {})
        time.sleep(1.1)  # some speaking time in every category
        moderator.command("queue.end_speaker", {})
    # one more waiting, with an Arabic name (the console's list)
    moderator.command("queue.add_speaker", {"name": ARABIC_NAME, "organization": "جمعية حماية ضحايا الاتجار",
                                            "category": "ngo_ecosoc", "channel": "online"})
    yield {"ids": ids, "dups": dups, "arabic": arabic, "rapporteur": rapporteur, "moderator": moderator,
           "first": first, "second": second}
    for client in clients:
        client.disconnect()


# -- 1. a section link scrolls its column, never the window -------------------------------------------
@pytest.mark.parametrize("size", [(1280, 720), (1440, 900)])
def test_section_links_scroll_their_column_and_never_the_window(open_page, world, size):
    for role, links in (("rapporteur", ("Agenda", "Draft summary")), ("moderator", ("Statistics", "Agenda"))):
        page = open_page(role, size=size)
        if role == "rapporteur":
            page.wait_for_selector("#ws-list .input-card")
            page.click("#participation-toggle > summary")
        for link in links:
            target = page.evaluate("(t) => [...document.querySelectorAll('.ws-nav a')]"
                                   ".find((a) => a.textContent.trim().startsWith(t)).getAttribute('href')", link)
            page.click(f'.ws-nav a[href="{target}"]')
            page.wait_for_timeout(400)
            state = page.evaluate("""(target) => {
              const section = document.querySelector(target);
              const column = section.closest('.ws-col, .console-col');
              const header = document.querySelector('.site-header').getBoundingClientRect();
              const top = section.getBoundingClientRect().top - column.getBoundingClientRect().top;
              return {scrollY: window.scrollY, bodyTop: document.body.scrollTop,
                      docHeight: document.documentElement.scrollHeight, innerHeight,
                      headerTop: header.top, columnScrolled: column.scrollTop, sectionTop: Math.round(top),
                      columnHeight: column.clientHeight};
            }""", target)
            assert state["scrollY"] == 0 and state["bodyTop"] == 0, (role, size, link, state)
            assert state["docHeight"] <= state["innerHeight"], (role, size, link, state)
            assert state["headerTop"] == 0, (role, size, link, state)
            # the column went to the section
            assert state["columnScrolled"] > 0 and 0 <= state["sectionTop"] < state["columnHeight"] - 40, \
                (role, size, link, state)
            # nothing can bring the window out of place either
            page.keyboard.press("End")
            page.mouse.wheel(0, 2000)
            page.wait_for_timeout(200)
            assert page.evaluate("window.scrollY + document.body.scrollTop") == 0, (role, size, link)
        if role == "moderator":
            assert page.locator("#connection").is_visible()


# -- 2. long theme names wrap in the suggestion buttons ------------------------------------------------
@pytest.mark.parametrize("size", [(390, 844), (1280, 720)])
def test_long_theme_names_in_suggestions_wrap_inside_the_panel(open_page, world, size):
    page = open_page("rapporteur", size=size)
    page.wait_for_selector("#ws-list .input-card")
    page.click("#suggest-find")
    button = page.locator("#suggest-list button", has_text=LONG_THEME).first
    button.wait_for(timeout=60000)
    button.scroll_into_view_if_needed()
    found = page.evaluate("""(name) => {
      const list = document.getElementById('suggest-list');
      const panel = document.getElementById('assist-panel').getBoundingClientRect();
      const buttons = [...list.querySelectorAll('button')].filter((b) => b.textContent === name);
      return {n: buttons.length, listScroll: list.scrollWidth - list.clientWidth,
              over: buttons.map((b) => Math.round(b.getBoundingClientRect().right - panel.right)).filter((d) => d > 0),
              cut: buttons.filter((b) => b.scrollWidth > b.clientWidth + 1).length,
              lines: buttons.map((b) => b.getBoundingClientRect().height)};
    }""", LONG_THEME)
    assert found["n"] >= 1, found
    assert found["over"] == [] and found["cut"] == 0 and found["listScroll"] <= 0, (size, found)


# -- 3. the focus stays in the assistant after each action ---------------------------------------------
FOCUS = """() => { const e = document.activeElement;
  if (!e || e === document.body) return null;
  const part = e.closest('.assist-part');
  return {part: part ? part.querySelector('h3').id : null, tag: e.tagName,
          act: e.dataset.dup || e.dataset.cluster || (e.dataset.themeId ? 'theme' : ''),
          inList: !!e.closest('.assist-list'), text: e.textContent.slice(0, 40)}; }"""


def test_the_focus_stays_in_its_list_after_each_assistant_action(open_page, world):
    page = open_page("rapporteur", size=(1440, 900))
    page.wait_for_selector("#ws-list .input-card")
    # possible duplicates: Not a duplicate, then Merge
    page.click("#dup-find")
    page.wait_for_selector("#dup-list .dup-candidate", timeout=60000)
    for action in ("dismiss", "merge"):
        before = page.locator("#dup-list .dup-candidate").count()
        page.focus(f"#dup-list button[data-dup={action}]")
        page.keyboard.press("Enter")
        page.wait_for_function("(n) => document.querySelectorAll('#dup-list .dup-candidate').length !== n"
                               " || !document.activeElement || document.activeElement === document.body"
                               " || !document.activeElement.closest('#dup-list')", arg=before, timeout=20000)
        page.wait_for_timeout(300)
        focus = page.evaluate(FOCUS)
        assert focus and focus["part"] == "dup-heading", (action, focus)
        if page.locator("#dup-list .dup-candidate").count():
            assert focus["inList"] and focus["tag"] == "BUTTON", (action, focus)
        else:
            assert not focus["inList"], (action, focus)  # the status or the heading
    # a theme suggestion
    page.click("#suggest-find")
    page.wait_for_selector("#suggest-list button[data-theme-id]", timeout=60000)
    rows = page.locator("#suggest-list .suggest-row").count()
    page.focus("#suggest-list button[data-theme-id]")
    page.keyboard.press("Enter")
    page.wait_for_function("(n) => document.querySelectorAll('#suggest-list .suggest-row').length !== n",
                           arg=rows, timeout=20000)
    page.wait_for_timeout(300)
    focus = page.evaluate(FOCUS)
    assert focus and focus["part"] == "suggest-heading", focus
    if rows > 1:
        assert focus["inList"] and focus["act"] == "theme", focus
    # themes from scratch: Split, Merge, Reject
    page.click("#cluster-find")
    page.wait_for_selector("#cluster-list .cluster-row", timeout=60000)
    if page.locator("#cluster-list button[data-cluster=split]:not([disabled])").count():
        page.focus("#cluster-list button[data-cluster=split]:not([disabled])")
        page.keyboard.press("Enter")
        page.wait_for_function("() => !document.querySelector('#cluster-list [aria-busy]')", timeout=20000)
        page.wait_for_timeout(300)
        focus = page.evaluate(FOCUS)
        assert focus and focus["part"] == "cluster-heading" and focus["inList"], focus
    if page.locator("#cluster-list .cluster-row").count() > 1:
        page.locator("#cluster-list .cluster-merge-with").first.select_option(index=1)
        page.focus("#cluster-list button[data-cluster=merge]")
        page.keyboard.press("Enter")
        page.wait_for_timeout(300)
        focus = page.evaluate(FOCUS)
        assert focus and focus["part"] == "cluster-heading" and focus["inList"], focus
    while page.locator("#cluster-list .cluster-row").count():
        left = page.locator("#cluster-list .cluster-row").count()
        page.focus("#cluster-list button[data-cluster=reject]")
        page.keyboard.press("Enter")
        page.wait_for_timeout(200)
        focus = page.evaluate(FOCUS)
        assert focus and focus["part"] == "cluster-heading", (left, focus)
        assert focus["act"] == "reject" if left > 1 else not focus["inList"], (left, focus)


# -- 4. the Theme filter: one "All", each theme once, live ----------------------------------------------
def test_the_theme_filter_lists_each_theme_once_and_follows_new_themes(open_page, world):
    page = open_page("rapporteur")
    page.wait_for_selector("#ws-list .input-card")
    options = lambda: page.eval_on_selector_all("#f-theme option", "(os) => os.map((o) => o.textContent)")  # noqa: E731
    names = page.eval_on_selector_all("#themes-list .theme-name", "(ns) => ns.map((n) => n.textContent)")
    assert options() == ["All", *names]
    world["rapporteur"].command("inputs.create_theme", {"name": "Theme made later"})
    page.wait_for_function("() => [...document.querySelectorAll('#themes-list .theme-name')]"
                           ".some((n) => n.textContent === 'Theme made later')", timeout=10000)
    names = page.eval_on_selector_all("#themes-list .theme-name", "(ns) => ns.map((n) => n.textContent)")
    assert options() == ["All", *names]
    assert options().count("Theme made later") == 1


# -- 5. the categories in one order everywhere ----------------------------------------------------------
def test_the_categories_come_in_the_intended_order_in_every_chart_and_table(open_page, world):
    for role in ("moderator", "rapporteur"):
        page = open_page(role)
        page.wait_for_function("() => document.querySelectorAll("
                               "'#participation figure[data-chart=\"interventions\"] rect.bar').length >= 9", timeout=15000)
        order = page.evaluate("""() => {
          const labels = {'NGO with ECOSOC consultative status': 'ngo_ecosoc', 'NGO without ECOSOC status': 'ngo',
            'Academia': 'academia', 'Private sector': 'private_sector', 'State party': 'state_party',
            'Intergovernmental organization': 'igo', 'Other': 'other'};
          const keys = (chart) => [...document.querySelectorAll(`#participation figure[data-chart="${chart}"] tbody th`)]
            .map((th) => labels[th.textContent]).filter(Boolean);
          const stats = [...document.querySelectorAll('#stats-body tr')].map((tr) => tr.dataset.key || '')
            .filter((k) => k.startsWith('category:')).map((k) => k.slice(9));
          return {interventions: keys('interventions'), speaking_time: keys('speaking_time'),
                  inputs: keys('inputs_by_category'), stats};
        }""")
        intended = [key for key in ORDER if key in order["interventions"]]
        assert order["interventions"] == intended == ORDER, (role, order)
        assert order["speaking_time"] == intended, (role, order)
        assert order["inputs"] == [key for key in ORDER if key in order["inputs"]], (role, order)
        if role == "moderator":
            assert order["stats"] == intended, order


# -- 6. the statistics break between words on a phone ---------------------------------------------------
WORDS_BROKEN = """(sel) => {
  const broken = [];
  for (const cell of document.querySelectorAll(sel)) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const re = /\\S+/g; let m;
      while ((m = re.exec(node.data))) {
        const range = document.createRange(); range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (tops.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


def test_the_speaking_statistics_break_only_between_words_on_a_phone(open_page, world):
    page = open_page("moderator", size=(390, 844))
    page.wait_for_function("() => document.querySelectorAll('#stats-body tr').length >= 10", timeout=15000)
    page.locator("#stats-panel").scroll_into_view_if_needed()
    assert page.evaluate(WORDS_BROKEN, "#stats-panel table th") == []
    wrap = page.evaluate("() => { const w = document.getElementById('stats'); return w.scrollWidth - w.clientWidth; }")
    assert wrap <= 0


# -- 7. the Likely duplicate bar stays inside the card ---------------------------------------------------
def test_the_likely_duplicate_bar_is_drawn_inside_the_card(open_page, world):
    # a pair of its own: another test may merge the world's
    text = "Port States should board fishing vessels at sea to detect forced labour among the crew."
    pair = [world[who].command("inputs.submit", {"text": text + extra, "attach_to": "dialogue"})["result"]["input_id"]
            for who, extra in (("first", ""), ("second", " Thanks."))]
    page = open_page("rapporteur", size=(1440, 900))
    card = page.locator(f'#ws-list .input-card[data-key="{pair[0]}"]')
    card.wait_for()
    card.locator('[data-act="similar"]').click()
    likely = card.locator('.similar-list .dup-candidate[data-likely="yes"]').first
    likely.wait_for(timeout=30000)
    box = page.evaluate("""([card, row]) => {
      const inner = (node) => node.getBoundingClientRect().left + parseFloat(getComputedStyle(node).borderLeftWidth);
      const panel = row.closest('.input-editor') || row.closest('.similar-panel');
      return {card: inner(card), panel: inner(panel), row: row.getBoundingClientRect().left};
    }""", [card.element_handle(), likely.element_handle()])
    assert box["row"] >= box["panel"] >= box["card"], box


# -- 8. user text in its own direction ------------------------------------------------------------------
RTL = """(selectors) => selectors.map((sel) => {
  const nodes = [...document.querySelectorAll(sel)].filter((n) => /[\\u0590-\\u06FF]/.test(n.textContent || n.value || ''));
  return [sel, nodes.length, nodes.filter((n) => getComputedStyle(n).direction !== 'rtl').length];
})"""


def test_arabic_user_text_is_laid_out_right_to_left_on_every_page(open_page, world):
    page = open_page("rapporteur")
    page.wait_for_selector(f'#ws-list .input-card[data-key="{world["arabic"]}"]')
    page.locator(f'#ws-list .input-card[data-key="{world["arabic"]}"] [data-act="themes"]').click()
    page.click("#oral-all")
    page.wait_for_selector("#oral-list .oral-row")
    checks = {
        "rapporteur": [".input-text", ".theme-chip", ".theme-name", "#f-theme option", ".theme-checks label span",
                       ".oral-name"],
        "moderator": [".q-name", ".q-org", "#stats-panel .chart-table th"],
        "participant": [".input-card-text"],
    }
    results = page.evaluate(RTL, checks["rapporteur"])
    for role in ("moderator", "participant"):
        other = open_page(role)
        if role == "participant":
            other.wait_for_selector(".input-card-text", timeout=15000)
            other.wait_for_function("(t) => [...document.querySelectorAll('.input-card-text')]"
                                    ".some((n) => n.textContent === t)", arg=ARABIC_TEXT, timeout=15000)
        results += other.evaluate(RTL, checks[role])
    for selector, found, wrong in results:
        assert found >= 1 and wrong == 0, (selector, found, wrong)
