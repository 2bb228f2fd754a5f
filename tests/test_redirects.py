"""Redirects to a target the client chose stay on this site, whatever the
target: ``/login?next=`` after signing in, and the list filters that the
secretariat's forms send back. The oracle reads each ``Location`` the way a
browser does (WHATWG URL parsing: tabs and line breaks dropped, ``\\`` read
as ``/``), independently of the code under test."""
from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from conftest import run, seed_dialogue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pages import PASSWORD, admin_client, csrf_of

from moderation.web.redirects import same_site_path

SITE = "http://localhost"
# Pieces that have fooled redirect checks: schemes, slashes and backslashes,
# what browsers drop or strip, encoded forms of them, hosts.
TRICKS = ["/", "//", "\\", "/\\", "\t", "\n", "\r", " ", "\x00", "\x0b", "\x7f", "%09", "%0A", "%0D", "%2F", "%5C",
          "%00", "evil.example", "@evil.example", "javascript:", "http:", "https://evil.example", ":", "?", "#",
          ".", "..", "\u3002", "\uff0f", "\u2028", "\u00a0", "é", "admin", "d/1/moderator"]
targets = st.one_of(st.text(max_size=40), st.lists(st.sampled_from(TRICKS), max_size=8).map("".join),
                    st.lists(st.sampled_from(TRICKS), max_size=6).map(lambda parts: "/" + "".join(parts)),
                    st.lists(st.one_of(st.sampled_from(TRICKS), st.text(max_size=3)), max_size=8).map("".join))


def browser_reads(location: str, base: str = SITE + "/login") -> str:
    """Where a browser goes for this Location (the parts of the WHATWG URL
    parser that matter for the host): C0 controls and spaces trimmed at both
    ends, tabs and line breaks removed everywhere, backslash read as slash
    (http and https are special schemes)."""
    trimmed = location.strip("".join(chr(c) for c in range(0x21)))
    cleaned = trimmed.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    return urljoin(base, cleaned)


def stays_here(location: str) -> bool:
    target = urlsplit(browser_reads(location))
    return target.scheme == "http" and target.netloc == "localhost" and target.path.startswith("/")


def is_header_text(value: str) -> bool:
    return all(0x21 <= ord(char) <= 0x7e for char in value)


@settings(max_examples=2000, deadline=None, database=None)
@given(target=targets)
def test_same_site_path_never_leaves_the_site(target):
    location = same_site_path(target)
    if location is not None:
        assert is_header_text(location), location
        assert stays_here(location), (target, location)


@pytest.mark.parametrize("target", ["/%09/evil.example/", "/\t/evil.example/", "/\\evil.example", "//evil.example",
                                    "/%0A/x", "/\n/x", "https://evil.example/", "/\u3000/x", "javascript:alert(1)"])
def test_sign_in_never_sends_the_browser_elsewhere(sqlite_app, target):
    run(sqlite_app.extensions["moderation"], "user.create",
        {"username": "staff", "password": PASSWORD, "is_admin": True})
    client = sqlite_app.test_client()
    form = {"username": "staff", "password": PASSWORD, "csrf_token": csrf_of(client.get("/login").get_data(as_text=True))}
    response = client.post("/login", query_string={"next": target}, data=form)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert is_header_text(location) and stays_here(location), location


def test_sign_in_returns_to_the_page_asked_for(sqlite_app):
    service = sqlite_app.extensions["moderation"]
    did = seed_dialogue(service)["dialogue_id"]
    run(service, "user.create", {"username": "staff", "password": PASSWORD, "is_admin": True})
    client = sqlite_app.test_client()
    page = client.get(f"/admin/d/{did}/applications?status=pending&q=%C3%9Cnion")
    assert page.status_code == 302
    assert page.headers["Location"] == f"/login?next=/admin/d/{did}/applications?status%3Dpending%26q%3D%25C3%259Cnion"
    form = {"username": "staff", "password": PASSWORD, "csrf_token": csrf_of(client.get("/login").get_data(as_text=True))}
    response = client.post(page.headers["Location"], data=form)
    assert response.headers["Location"] == f"/admin/d/{did}/applications?status=pending&q=%C3%9Cnion"
    assert client.get(response.headers["Location"]).status_code == 200


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(target=targets)
def test_sign_in_with_any_next_stays_on_the_site(staff, target):
    client = staff.test_client()
    form = {"username": "staff", "password": PASSWORD, "csrf_token": csrf_of(client.get("/login").get_data(as_text=True))}
    response = client.post("/login", query_string={"next": target}, data=form)
    assert_stays(response, target)


def assert_stays(response, sent: str) -> None:
    """A redirect that stays here, or a refusal (text no database stores,
    such as control characters, is refused before anything is looked at)."""
    if response.status_code != 302:
        assert response.status_code == 422, (sent, response.status_code)
        return
    location = response.headers["Location"]
    assert is_header_text(location) and stays_here(location), (sent, location)


@pytest.fixture
def staff(sqlite_app):
    run(sqlite_app.extensions["moderation"], "user.create",
        {"username": "staff", "password": PASSWORD, "is_admin": True})
    return sqlite_app


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(query=st.one_of(st.text(max_size=40), st.lists(st.sampled_from(TRICKS + ["&", "=", "status=pending"]),
                                                      max_size=8).map("".join)))
def test_a_forms_return_query_cannot_leave_the_list(secretariat, query):
    client, did, token = secretariat
    response = client.post(f"/admin/d/{did}/applications/decide",
                           data={"csrf_token": token, "return_query": query, "decision": "approve"})
    assert_stays(response, query)
    if response.status_code == 302:
        assert urlsplit(browser_reads(response.headers["Location"])).path == f"/admin/d/{did}/applications"


def test_a_forms_return_query_keeps_the_filters(secretariat):
    client, did, token = secretariat
    response = client.post(f"/admin/d/{did}/applications/decide", data={
        "csrf_token": token, "return_query": "status=pending&q=%C3%9Cnion+X", "decision": "approve"})
    assert response.headers["Location"] == f"/admin/d/{did}/applications?status=pending&q=%C3%9Cnion+X"


@pytest.fixture
def secretariat(sqlite_app):
    service = sqlite_app.extensions["moderation"]
    did = seed_dialogue(service)["dialogue_id"]
    client = admin_client(sqlite_app, service)
    return client, did, csrf_of(client.get(f"/admin/d/{did}/applications").get_data(as_text=True))
