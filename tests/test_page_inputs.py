"""Every page answers any form and any query string without a server error:
each route of the URL map outside the API (the API has its schema tests),
each of its methods, as a signed-in secretariat with a valid CSRF token,
with fields named as the templates and the views name them and values of
any kind (other scripts' digits, numbers no database stores, control
characters, dates at year 9999). A client's mistake logs no error."""
from __future__ import annotations

import inspect
import logging
import re
from pathlib import Path

import pytest
from conftest import run, seed_dialogue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pages import PASSWORD, csrf_of

ROOT = Path(__file__).resolve().parent.parent
TRICKY = ["", "0", "-1", "1", "²", "٣", "1٣", "9" * 30, str(2 ** 63), "1e3", " 1", "yes", "no", "true", "approve",
          "reject", "approve:²", "approve:" + "9" * 30, "room", "online", "in_person", "alternate", "download",
          "email", "auto", "new", "9999-12-31T23:59", "0001-01-01T00:00", "2026-03-29T02:30", "Europe/Vienna",
          "Mars/Olympus", "\x00", "\x1f", "\r\n", "\ufffe", "%", "&", "=", "<script>", "a" * 5000]


def field_names() -> list[str]:
    """The form and query fields that pages send and views read."""
    names = set()
    for template in (ROOT / "templates").glob("*.html"):
        names |= set(re.findall(r'\bname="([^"{}]+)"', template.read_text()))
    for module in (ROOT / "moderation").glob("*.py"):
        names |= set(re.findall(r'request\.(?:form|args|files)\.(?:get|getlist)\("([^"]+)"', module.read_text()))
    names |= {f"participants.{i}.{key}" for i in (0, 1) for key in ("name", "email", "mode")}
    return sorted(names)


FIELDS = field_names()
values = st.one_of(st.sampled_from(TRICKY), st.text(max_size=20))
forms = st.dictionaries(st.sampled_from(FIELDS), st.one_of(values, st.lists(values, min_size=2, max_size=3)),
                        max_size=8)


def concrete(rule, dialogue_id: int, participant_id: int) -> str:
    path = rule.rule
    for name in rule.arguments:
        value = {"dialogue_id": dialogue_id, "participant_id": participant_id, "role": "moderator",
                 "token": "no-such-link", "filename": "js/live.js"}[name]
        path = re.sub(rf"<(\w+:)?{name}>", str(value), path)
    return path


class Secretariat:
    """A signed-in secretariat browser; signs in again when a request (a
    sign-out, a new password) ended its session."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.token = ""
        self.sign_in()

    def sign_in(self) -> None:
        page = self.client.get("/login").get_data(as_text=True)
        response = self.client.post("/login", data={"username": "staff", "password": PASSWORD,
                                                    "csrf_token": csrf_of(page)})
        assert response.status_code == 302
        self.token = csrf_of(self.client.get("/admin").get_data(as_text=True))

    def ensure(self) -> None:
        if self.client.get("/admin").status_code != 200:
            self.sign_in()


@pytest.fixture
def page_routes(sqlite_app):
    service = sqlite_app.extensions["moderation"]
    seeded = seed_dialogue(service)
    run(service, "user.create", {"username": "staff", "password": PASSWORD, "is_admin": True})
    routes = [(rule, method) for rule in sqlite_app.url_map.iter_rules()
              if not rule.rule.startswith(("/api/", "/static/")) for method in sorted(rule.methods - {"OPTIONS"})]
    return Secretariat(sqlite_app), seeded, routes


KILLERS = ["²", "٣", "9" * 30, str(2 ** 63), "-1", "\x00", "9999-12-31T23:59", "a" * 5000, ""]


def read_fields(view) -> list[str]:
    """The fields a view names in its own source."""
    source = inspect.getsource(inspect.unwrap(view))
    return sorted(set(re.findall(r'"([A-Za-z_][\w.]*)"', source)) & set(FIELDS))


def test_every_field_a_page_reads_takes_any_value(page_routes, caplog):
    """Each field that a view reads, alone, with each value that has broken
    a conversion somewhere (other scripts' digits, too many digits, NUL)."""
    browser, seeded, routes = page_routes
    problems, sent = [], 0
    with caplog.at_level(logging.WARNING):
        for rule, method in routes:
            path = concrete(rule, seeded["dialogue_id"], seeded["participant_ids"][0])
            for field in read_fields(browser.app.view_functions[rule.endpoint]):
                for value in KILLERS:
                    browser.ensure()
                    form = {field: value, "csrf_token": browser.token} if method == "POST" else None
                    query = {field: value} if method != "POST" else None
                    response = browser.client.open(path, method=method, data=form, query_string=query)
                    sent += 1
                    if response.status_code >= 500:
                        problems.append(f"{method} {path} {field}={value[:20]!r}: {response.status_code}")
    assert sent > 300
    assert not problems, problems[:10]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors[:5]


def test_every_page_answers_any_form_without_a_server_error(page_routes, caplog):
    browser, seeded, routes = page_routes
    assert len(routes) > 30
    problems: list[str] = []

    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(route=st.sampled_from(routes), query=forms, form=forms, multipart=st.booleans())
    def call(route, query, form, multipart):
        rule, method = route
        browser.ensure()
        path = concrete(rule, seeded["dialogue_id"], seeded["participant_ids"][0])
        data = {**form, "csrf_token": browser.token} if method == "POST" else None
        response = browser.client.open(path, method=method, query_string=query, data=data,
                                       content_type="multipart/form-data" if multipart and data else None)
        if response.status_code >= 500:
            problems.append(f"{method} {path} {query} {form}: {response.status_code}")

    with caplog.at_level(logging.WARNING):
        call()
    assert not problems, problems[:10]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors[:5]
