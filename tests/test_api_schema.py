"""schemathesis against /api/v1/openapi.json, on the WSGI app (no server):
every operation is called with data generated from the document, as the
secretariat (its API bearer token) and as a participant (the session
cookie of their personal link with its CSRF token: participants have no
API tokens). No answer may be a server error, every status code must be
documented, and every answer must match its documented content type and
schema. Data that does not fit the document (schemathesis' negative mode)
must be refused with a documented 4xx, never a 5xx.

Requests go to the seeded dialogue most of the time (so that they reach the
handlers) and to any dialogue id a few times. What the commands change is
kept from one operation to the next (an export sees what earlier commands
stored); when a command took the caller's own access away (revoked its
token, ended its session) the database goes back to the seeded world.

Bounded: a few examples per operation, derandomized, no shrinking.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                                status_code_conformance)

from security_world import World, without_presence_writes, world_template

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
NEGATIVE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                   response_schema_conformance]


def examples(count: int):
    return settings(max_examples=count, derandomize=True, database=None, deadline=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def template(tmp_path_factory, sqlite_template):
    return world_template(tmp_path_factory, sqlite_template)


class Api:
    """The app on a copy of the seeded world, how each caller authenticates,
    and a way back to the seeded state."""

    def __init__(self, template, directory: Path):
        self.template = template
        self.world: World = template.world
        self.app = template.new_app(directory)  # no rate limits
        without_presence_writes(self.app)
        self.schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", self.app)
        browser = self.app.test_client()
        assert browser.get(f"/l/{self.world.links['participant']}").status_code == 302
        csrf = browser.get("/_test/csrf").get_data(as_text=True)
        self.callers = {
            "secretariat": {"headers": {"Authorization": f"Bearer {self.world.api_tokens['secretariat']}"}},
            "participant": {"headers": {"X-CSRFToken": csrf},
                            "cookies": {"moderation_session": browser.get_cookie("moderation_session").value}},
        }

    def alive(self, caller: str) -> bool:
        """Whether the caller may still read its dialogue."""
        auth = self.callers[caller]
        client = self.app.test_client()
        for name, value in auth.get("cookies", {}).items():
            client.set_cookie(name, value)
        response = client.get(f"/api/v1/dialogues/{self.world.dialogue_id}/snapshot", headers=auth["headers"])
        return response.status_code == 200

    def reset(self) -> None:
        self.template.restore(self.app)


@pytest.fixture(scope="module")
def api(template, tmp_path_factory):
    api_ = Api(template, tmp_path_factory.mktemp("schema"))
    yield api_
    api_.app.extensions["db"].dispose()


def run_operation(api: Api, operation, caller: str, *, count: int, mode=GenerationMode.POSITIVE,
                  fixed_dialogue: bool = True, checks=CHECKS) -> list[str]:
    """Call one operation ``count`` times; the failures, as schemathesis words them."""
    auth = api.callers[caller]
    path = {"dialogue_id": api.world.dialogue_id} if fixed_dialogue and "{dialogue_id}" in operation.path else None
    failures: list[str] = []

    @examples(count)
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path))
    def call(case):
        try:
            case.call_and_validate(headers=auth["headers"], cookies=auth.get("cookies"), checks=checks)
        except (Exception, BaseExceptionGroup) as exc:  # every failure is reported, not only the first
            failures.append(f"{caller} {mode.value} {operation.method.upper()} {operation.path}: {exc}"[:2500])

    try:
        call()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, operation.path  # nothing in this operation can be made invalid
    if not api.alive(caller):
        api.reset()  # a command took the caller's own access away (which the API may do)
    return failures


def operations(api: Api):
    found = []
    for result in api.schema.get_all_operations():
        found.append(result.ok())   # an operation the document does not describe well raises here
    return found


class ServerErrors(logging.Handler):
    """Errors logged in this process while a test runs, except by Socket.IO
    clients: another module's client, shutting down on its own thread in the
    same worker, logs "packet queue is empty" at ERROR level."""

    CLIENTS = ("engineio.client", "socketio.client")

    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record):
        if not record.name.startswith(self.CLIENTS):
            self.messages.append(record.getMessage()[:300])


@pytest.mark.parametrize("caller", ["secretariat", "participant"])
def test_every_operation_conforms_to_the_document(api, caller):
    log = ServerErrors()
    logging.getLogger().addHandler(log)
    try:
        failures = []
        for operation in operations(api):
            failures += run_operation(api, operation, caller, count=6 if caller == "secretariat" else 3)
            if caller == "secretariat":  # any dialogue id: unknown ones, out of range
                failures += run_operation(api, operation, caller, count=2, fixed_dialogue=False)
    finally:
        logging.getLogger().removeHandler(log)
    assert not failures, f"{len(failures)} failure(s):\n\n" + "\n\n".join(failures)
    assert not log.messages, log.messages


def test_data_that_does_not_fit_the_document_is_refused(api):
    log = ServerErrors()
    logging.getLogger().addHandler(log)
    try:
        failures = []
        for operation in operations(api):
            failures += run_operation(api, operation, "secretariat", count=3, mode=GenerationMode.NEGATIVE,
                                      checks=NEGATIVE_CHECKS)
    finally:
        logging.getLogger().removeHandler(log)
    assert not failures, f"{len(failures)} failure(s):\n\n" + "\n\n".join(failures)
    assert not log.messages, log.messages


def test_the_document_covers_every_api_route(api):
    """An /api/v1 route missing from the document would go untested here."""
    documented = {(op.method.upper(), "/api/v1" + op.path) for op in operations(api)}
    served = set()
    for rule in api.app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi":
            path = rule.rule.replace("<int:dialogue_id>", "{dialogue_id}")
            served |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
