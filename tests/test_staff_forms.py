"""Messages that go stale, on the application form and the secretariat's pages.

- A deadline for applications after the dialogue's start is warned about by
  the command itself (``warnings`` with the code ``deadline_after_start``)
  and beside the deadline field of the applications page.
- The secretariat's pages show topics, categories, channels, roles and
  statuses by their names, never the stored keys (``trafficking_in_persons``).
- In a real browser, the application form's errors clear as the person
  fixes them: the message beside the field, its red outline and its line in
  the list at the top ("Nominate at least one participant." too).
"""
from __future__ import annotations

import datetime as dt
import enum
import re
from html.parser import HTMLParser

import pytest
import test_console_pages as console_pages
from conftest import run
from test_accreditation import application, local, open_applications
from test_accreditation_web import admin_client, csrf_of, seeded, service  # noqa: F401 (fixtures)

from moderation import models
from moderation.features.accreditation.applications import ORGANIZATION_CATEGORIES
from moderation.features.accreditation.delegates import DELEGATE_CATEGORIES

# A server of this module's own, for the browser test.
live, browser = console_pages.live, console_pages.browser


# -- the deadline -------------------------------------------------------------------------------------
def test_a_deadline_after_the_start_is_warned_about_beside_the_field(sqlite_app, service, seeded):  # noqa: F811
    did = seeded["dialogue_id"]   # starts on 3 June 2026, 10:00 Europe/Vienna
    before = open_applications(service, did, deadline="2026-06-01T00:00", timezone="Europe/Vienna")
    assert before["warnings"] == []
    after = open_applications(service, did, deadline="2026-06-03T10:30", timezone="Europe/Vienna")
    [warning] = after["warnings"]
    assert warning["field"] == "deadline" and warning["code"] == "deadline_after_start"
    assert "after" in warning["message"] and "(3 June 2026, 10:00 Europe/Vienna time)" in warning["message"]
    # Stored all the same: the secretariat may mean it (a late registration desk).
    assert after["deadline"] == "2026-06-03T08:30:00+00:00"

    admin = admin_client(sqlite_app, service)
    html = admin.get(f"/admin/d/{did}/applications").get_data(as_text=True)
    field = re.search(r'<input id="deadline"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in field and 'aria-describedby="deadline-error deadline-hint"' in field
    message = re.search(r'<p class="field-error[^"]*" id="deadline-error" data-code="deadline_after_start">([^<]*)</p>',
                        html)
    assert message and "applications would still come in while it runs" in message.group(1)

    # Saved from the form: said at the top too; a deadline before the start clears both.
    token = csrf_of(html)
    page = admin.post(f"/admin/d/{did}/applications/settings", data={
        "csrf_token": token, "open": "yes", "deadline": "2026-06-04T00:00", "timezone": "Europe/Vienna"},
        follow_redirects=True).get_data(as_text=True)
    assert page.count("applications would still come in while it runs") == 2
    page = admin.post(f"/admin/d/{did}/applications/settings", data={
        "csrf_token": token, "open": "yes", "deadline": "2026-06-02T00:00", "timezone": "Europe/Vienna"},
        follow_redirects=True).get_data(as_text=True)
    assert "deadline-error" not in page and 'aria-invalid="true"' not in re.search(
        r'<input id="deadline"[^>]*>', page).group(0)


def test_moving_the_start_before_the_deadline_is_warned_about(service, seeded):  # noqa: F811
    did = seeded["dialogue_id"]
    open_applications(service, did, deadline="2026-06-01T00:00", timezone="Europe/Vienna")
    assert run(service, "dialogue.update", {"dialogue_id": did, "venue": "VIC"})["warnings"] == []
    result = run(service, "dialogue.update", {"dialogue_id": did, "local_start": "2026-05-20T10:00"})
    [warning] = result["warnings"]
    assert warning["field"] == "local_start" and warning["code"] == "deadline_after_start"
    assert "(1 June 2026, 00:00 Europe/Vienna time) is after this start" in warning["message"]


# -- names, not keys ----------------------------------------------------------------------------------
class ShownText(HTMLParser):
    """What a person sees or hears of a page: its text, the values of its
    visible fields and its accessible names (not option values, ids, data-*).
    Text in <code> is left out: it names the codes a file or an API must use
    (the delegates' CSV import), on purpose."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style", "template", "code"):
            self.skip += 1
        for name in ("aria-label", "title", "placeholder", "alt"):
            if attrs.get(name):
                self.parts.append(attrs[name])
        if tag in ("input", "textarea") and attrs.get("type") not in ("hidden", "checkbox", "radio") \
                and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template", "code") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def stored_keys() -> set[str]:
    keys = set(models.TOPICS) | set(ORGANIZATION_CATEGORIES) | set(DELEGATE_CATEGORIES)
    for value in vars(models).values():
        if isinstance(value, type) and issubclass(value, enum.Enum):
            keys |= {member.value for member in value if isinstance(member.value, str)}
    return {key for key in keys if "_" in key}   # "online" or "pending" may be words of a sentence


def test_the_secretariat_sees_names_not_stored_keys(sqlite_app, service, seeded):  # noqa: F811
    did = seeded["dialogue_id"]
    run(service, "applications.submit", application([did], category="private_sector"))
    admin = admin_client(sqlite_app, service)
    keys = stored_keys()
    assert "trafficking_in_persons" in keys and "point_of_order" in keys
    for path in ("/admin", f"/admin/d/{did}", f"/admin/d/{did}/applications", f"/admin/d/{did}/participants",
                 f"/admin/d/{did}/checkin"):
        parser = ShownText()
        parser.feed(admin.get(path).get_data(as_text=True))
        shown = " ".join(parser.parts)
        found = sorted({word for word in re.findall(r"[a-z]+(?:_[a-z]+)+", shown) if word in keys})
        assert found == [], (path, found)
    html = admin.get(f"/admin/d/{did}").get_data(as_text=True)
    chosen = re.search(r'<select id="s-topic-select"[^>]*>.*?</select>', html, re.S).group(0)
    assert re.search(r'<option value="trafficking_in_persons" selected>Trafficking in Persons</option>', chosen)


# -- the application form in a browser -------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.server
def test_application_form_errors_clear_as_they_are_fixed(browser, live):
    from playwright.sync_api import expect
    from server import Client

    secretariat = Client(live, live.token("secretariat"), live.dialogue_id).connect()
    try:
        deadline = local(dt.datetime.now(dt.UTC) + dt.timedelta(hours=6), "Europe/Vienna")
        secretariat.command("applications.configure", {"open": True, "deadline": deadline})
    finally:
        secretariat.disconnect()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{live.base_url}/d/{live.dialogue_id}/apply")
        page.locator('button[value="submit"]').click()
        summary = page.locator("#form-error")
        expect(summary).to_be_visible()
        expect(summary).to_be_focused()
        nominate = summary.locator("li", has_text="Nominate at least one participant")
        expect(nominate).to_have_count(1)
        participants = page.locator("fieldset#participants")
        expect(participants).to_have_attribute("aria-invalid", "true")
        name = page.locator("#organization-name")
        expect(name).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#organization-name-error")).to_be_visible()

        # Typing the organization's name clears its message, its outline and its line in the list.
        lines = summary.locator("li").count()
        name.fill("Survivors' Network")
        expect(name).not_to_have_attribute("aria-invalid", "true")
        expect(page.locator("#organization-name-error")).to_have_count(0)
        expect(summary.locator("li")).to_have_count(lines - 1)

        # A participant's name clears "Nominate at least one participant" and the red rows.
        page.locator("#participants-0-name").fill("Amara Diallo")
        expect(participants).not_to_have_attribute("aria-invalid", "true")
        expect(nominate).to_have_count(0)
        expect(page.locator("#participants-error")).to_have_count(0)
        outline = page.locator("#participants-0-mode .radios").evaluate("(n) => getComputedStyle(n).outlineStyle")
        assert outline == "none", outline

        # An e-mail address stays marked until it looks like one.
        email = page.locator("#contact-email")
        email.fill("dana@")
        expect(email).to_have_attribute("aria-invalid", "true")
        email.fill("dana@example.org")
        expect(email).not_to_have_attribute("aria-invalid", "true")

        # The confirmation checkbox, linked from the list through its label.
        page.locator("#confirmed input").check()
        expect(summary.locator('a[href="#confirmed"]')).to_have_count(0)
        assert errors == []
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.server
def test_the_dialogue_settings_warn_beside_the_start(browser, live):
    from playwright.sync_api import expect
    from server import Client

    secretariat = Client(live, live.token("secretariat"), live.dialogue_id).connect()
    try:
        secretariat.command("applications.configure", {"open": True, "deadline": "2030-01-01T00:00"})
    finally:
        secretariat.disconnect()
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        page.goto(live.demo["links"]["secretariat"])
        page.goto(f"{live.base_url}/admin/d/{live.dialogue_id}")
        expect(page.locator("#s-topic-select")).to_have_value("trafficking_in_persons")
        expect(page.locator("#s-topic-select option:checked")).to_have_text("Trafficking in Persons")
        expect(page.locator("#s-topic-other-field")).to_be_hidden()
        warning = page.locator("#s-start-warning")
        expect(warning).to_be_hidden()
        page.locator("#s-start").fill("2029-06-03T10:00")
        page.locator("#settings-form button[type=submit]").click()
        expect(warning).to_be_visible()
        expect(warning).to_contain_text("is after this start")
        expect(page.locator("#s-start")).to_have_attribute("aria-describedby", "s-start-warning")
        page.locator("#s-start").fill("2030-06-03T10:00")
        page.locator("#settings-form button[type=submit]").click()
        expect(warning).to_be_hidden()
        expect(page.locator("#s-topic-select")).to_have_value("trafficking_in_persons")
    finally:
        context.close()
