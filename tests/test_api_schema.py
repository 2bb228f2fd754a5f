"""schemathesis against /api/v1/openapi.json, on the WSGI app (no server):
every operation is called with data generated from the document, as the
secretariat (its API bearer token) and as a participant (the session
cookie of their personal link with its CSRF token: participants have no
API tokens). No answer may be a server error, every status code must be
documented, and every answer must match its documented content type and
schema. Data that does not fit the document (schemathesis' negative mode,
and its coverage phase: every parameter and field at and past its bounds,
of the wrong type, missing) must be refused with a documented 4xx
(``negative_data_rejection``), never a 5xx. So must what generation from
the document does not produce: bodies nested thousands of levels deep, bodies
that are not JSON, and dates at year 1 or 9999 inside otherwise generated
bodies.

Requests go to the seeded dialogue most of the time (so that they reach the
handlers) and to any dialogue id a few times. What the commands change is
kept from one operation to the next (an export sees what earlier commands
stored); when a command took the caller's own access away (revoked its
token, ended its session) the database goes back to the seeded world.

Bounded: a few examples per operation, derandomized, no shrinking.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from security_world import World, without_presence_writes, world_template

from moderation.core.storable import first_problem

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
NEGATIVE_CHECKS = [negative_data_rejection, *CHECKS]


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


@contextmanager
def no_server_errors():
    """Fails when the server logs an error meanwhile (a client's mistake must not)."""
    log = ServerErrors()
    logging.getLogger().addHandler(log)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(log)
    assert not log.messages, log.messages


def assert_none(failures: list[str]) -> None:
    assert not failures, f"{len(failures)} failure(s):\n\n" + "\n\n".join(failures[:30])


@pytest.mark.parametrize("caller", ["secretariat", "participant"])
def test_every_operation_conforms_to_the_document(api, caller):
    failures = []
    with no_server_errors():
        for operation in operations(api):
            failures += run_operation(api, operation, caller, count=6 if caller == "secretariat" else 3)
            if caller == "secretariat":  # any dialogue id: unknown ones, out of range
                failures += run_operation(api, operation, caller, count=2, fixed_dialogue=False)
    assert_none(failures)


def test_data_that_does_not_fit_the_document_is_refused(api):
    failures = []
    with no_server_errors():
        for operation in operations(api):
            failures += run_operation(api, operation, "secretariat", count=3, mode=GenerationMode.NEGATIVE,
                                      checks=NEGATIVE_CHECKS)
    assert_none(failures)


def test_the_document_covers_every_api_route(api):
    """An /api/v1 route missing from the document would go untested here."""
    documented = {(op.method.upper(), "/api/v1" + op.path) for op in operations(api)}
    served = set()
    for rule in api.app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi":
            path = rule.rule.replace("<int:dialogue_id>", "{dialogue_id}")
            served |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented


def run_coverage(api: Api, operation, caller: str, checks) -> list[str]:
    """schemathesis' coverage phase: each parameter and body field at and
    past its bounds, of the wrong type, missing; and the other methods."""
    auth = api.callers[caller]
    failures: list[str] = []
    config = api.schema.config.generation_for(operation=operation)
    for case in api.schema.iter_coverage_cases(operation, generation_modes=[GenerationMode.NEGATIVE],
                                               generation_config=config):
        data = case.meta.phase.data
        if "{dialogue_id}" in operation.path and data.parameter != "dialogue_id":
            case.path_parameters = {**(case.path_parameters or {}), "dialogue_id": api.world.dialogue_id}
        try:
            case.call_and_validate(headers=auth["headers"], cookies=auth.get("cookies"), checks=checks)
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{caller} coverage {operation.method.upper()} {operation.path} "
                            f"({data.description}): {exc}"[:2500])
    if not api.alive(caller):
        api.reset()
    return failures


def test_coverage_of_every_boundary_is_refused_as_documented(api):
    failures = []
    with no_server_errors():
        for operation in operations(api):
            failures += run_coverage(api, operation, "secretariat", NEGATIVE_CHECKS)
    assert_none(failures)


# -- what generation from the document does not reach: hostile bodies and extreme dates ------------
HOSTILE_BODIES = {
    "nested 5,000 levels": ("[" * 5000 + "]" * 5000, "application/json"),
    "nested 40 levels in a field": ('{"x":' + "[" * 40 + "]" * 40 + "}", "application/json"),
    "not JSON": ('{"x": ', "application/json"),
    "invalid UTF-8": (b'{"x": "\xff"}', "application/json"),
    "a JSON scalar": ("1", "application/json"),
    "text": ("hello", "text/plain"),
    "a form": ("x=1", "application/x-www-form-urlencoded"),
    "XML": ("<x/>", "application/xml"),
}
EXTREME_DATES = ["0001-01-01T00:00", "9999-12-31T23:59", "0001-01-01T00:00+05:00", "9999-12-31T23:59:59-05:00",
                 "1999-12-31T23:59Z", "2101-01-01T00:00", "2026-02-30T10:00"]


def body_schema(api: Api, operation) -> dict | None:
    """The operation's JSON body schema, references resolved one level."""
    definition = operation.definition.raw.get("requestBody")
    if definition is None:
        return None
    schema = definition["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = api.schema.raw_schema["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def date_fields(schema: dict) -> list[str]:
    from moderation.core.localtime import DATE_TIME_SCHEMA
    return [name for name, field in schema.get("properties", {}).items()
            if DATE_TIME_SCHEMA in field.get("anyOf", [field])]


def refused_as_documented(case, response, label: str, failures: list[str]) -> None:
    try:
        case.validate_response(response, checks=CHECKS)
        assert response.status_code == 422, f"{response.status_code}: {response.text[:200]}"
    except (Exception, BaseExceptionGroup) as exc:
        failures.append(f"{label}: {exc}"[:1500])


def test_hostile_bodies_and_extreme_dates_are_refused_as_documented(api):
    auth = api.callers["secretariat"]["headers"]
    failures: list[str] = []
    dated = 0
    with no_server_errors():
        for operation in operations(api):
            schema = body_schema(api, operation)
            if schema is None:
                continue
            path = {"dialogue_id": api.world.dialogue_id} if "{dialogue_id}" in operation.path else {}
            case = operation.Case(path_parameters=path, media_type="application/json", body={})
            for name, (raw, content_type) in HOSTILE_BODIES.items():
                response = case.call(headers={**auth, "Content-Type": content_type}, data=raw)
                refused_as_documented(case, response, f"{operation.path} with {name}", failures)
            fields = date_fields(schema)
            if fields:
                dated += 1
                failures += extreme_dates(api, operation, path, fields, auth)
    assert dated >= 4   # dialogue create and settings, the input window, the application deadline
    assert_none(failures)


def extreme_dates(api: Api, operation, path: dict, fields: list[str], auth: dict) -> list[str]:
    """Each date field at the extremes, inside bodies otherwise generated
    from the document: refused, naming the field."""
    failures: list[str] = []
    sent: list[str] = []

    @examples(2)
    @given(case=operation.as_strategy(path_parameters=path))
    def call(case):
        body = case.body if isinstance(case.body, dict) else {}
        assume(first_problem(body) is None)   # text no database stores is refused first, with its own field
        for field in fields:
            for value in EXTREME_DATES:
                hostile = operation.Case(path_parameters=path, media_type="application/json",
                                         body={**body, field: value})
                response = hostile.call(headers=auth)
                sent.append(value)
                label = f"{operation.path} with {field}={value}"
                refused_as_documented(hostile, response, label, failures)
                details = (response.json().get("error") or {}).get("details") or []
                if not any(isinstance(d, dict) and d.get("field") == field for d in details):
                    failures.append(f"{label}: the refusal does not name the field ({details})"[:500])

    call()
    assert len(sent) >= 2 * len(fields) * len(EXTREME_DATES), operation.path
    return failures
