"""Tokens, links and codes are shown once and stored only as hashes: not in
the answers kept for idempotency keys, not in the audit log, not in the log.

The test does not trust the commands' own declarations to find the secrets.
It runs every command of the registry over HTTP with an ``Idempotency-Key``
(as the secretariat's pages send one), and calls a string of an answer or a
payload a secret when its SHA-256 (the way tokens and codes are stored) is
found in the database. Then it reads every text of every table and the
whole log at DEBUG, and what plugins were told, and looks for each secret
in clear. Replaying the key
answers the same ids without the secret, and says that it was shown once.
"""
from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import chromium, require_browser
from security_world import world_template
from sqlalchemy import inspect, select, text
from test_authorization_matrix import NOBODY, PARTICIPANT, PAYLOADS, SECRETARIAT, HttpSession

from moderation.core.auth import hash_token
from moderation.core.commands import REGISTRY, CommandSpec
from moderation.core.errors import CommandError
from moderation.features import load_features
from moderation.features.access.join_codes import current_code
from moderation.models import Dialogue, Role
from moderation.plugins import hookimpl

API = "/api/v1"
load_features()
# What these commands answer is a secret (an independent list: the test
# finds the secrets by their hashes, and fails when one of these did not
# answer one, so that it cannot pass by finding none).
ANSWER_SECRETS = {"access.issue_link", "access.issue_api_token", "access.issue_site_api_token",
                  "participant.register", "participant.join_with_code", "dialogue.configure_join", "invitations.issue",
                  "user.issue_sign_in_link", "applications.submit", "applications.accept_late"}
# A new join code makes the table's join code wrong, and configuring the
# applications closes them to the public form: they run last.
# Deleting personal data deletes stored answers too, which would hide what
# they held: it does not run (it answers no secret).
LAST = ("applications.configure", "dialogue.configure_join")
SKIPPED = {"privacy.delete_personal_data"}


class EverythingLogged(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


@pytest.fixture
def logged():
    handler = EverythingLogged()
    root, moderation = logging.getLogger(), logging.getLogger("moderation")
    levels = root.level, moderation.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    moderation.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(levels[0])
    moderation.setLevel(levels[1])


class Listener:
    """A plugin that keeps what ``dialogue_changed`` tells it (as a webhook would send it on)."""

    def __init__(self):
        self.heard: list[str] = []

    @hookimpl
    def dialogue_changed(self, app, outcome):
        self.heard.append(json.dumps(outcome.result))


@pytest.fixture
def world_app(tmp_path_factory, sqlite_template, tmp_path):
    template = world_template(tmp_path_factory, sqlite_template)
    listener = Listener()
    app = template.new_app(tmp_path, PLUGIN_OBJECTS=[listener])
    yield app, template.world, listener
    app.extensions["db"].dispose()


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, and the token of every ``/l/<token>``."""
    if isinstance(value, str):
        yield value
        if "/l/" in value:
            yield value.rsplit("/l/", 1)[1]
    elif isinstance(value, dict):
        for inner in value.values():
            yield from strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from strings(inner)


def database_text(app) -> str:
    """Every value of every row of every table, as text."""
    engine = app.extensions["db"].engine
    parts = []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                parts += [json.dumps(v) if isinstance(v, (dict, list)) else str(v) for v in row]
    return "\n".join(parts)


def caller_for(spec: CommandSpec):
    if spec.public:
        return NOBODY
    return SECRETARIAT if Role.SECRETARIAT in spec.roles else PARTICIPANT


def post(session: HttpSession, spec: CommandSpec, world, payload: dict, key: str):
    path = API + spec.http_path.replace("{dialogue_id}", str(world.dialogue_id))
    response = session.client.post(path, json=payload, headers={**session.headers, "Idempotency-Key": key})
    return response.status_code, response.get_json()


def test_no_secret_is_kept_in_clear_anywhere(world_app, logged):
    app, world, listener = world_app
    service = app.extensions["moderation"]
    sessions = {caller.name: caller.http(app, world) for caller in (SECRETARIAT, PARTICIPANT, NOBODY)}
    order = sorted(set(REGISTRY) - SKIPPED, key=lambda name: (LAST.index(name) if name in LAST else -1, name))
    answers: dict[str, tuple[dict, dict, dict]] = {}  # name -> (payload, first answer, replayed answer)
    for name in order:
        spec = REGISTRY[name]
        try:  # the table's preparations may not fit the state the commands before left
            payload = PAYLOADS[name](service, world)
        except CommandError:
            continue
        key = f"secret-test-{uuid.uuid4().hex}"
        session = sessions[caller_for(spec).name]
        status, body = post(session, spec, world, payload, key)
        if body.get("ok"):
            status, replay = post(session, spec, world, payload, key)
            assert status == 200 and replay["replayed"] is True, (name, replay)
            answers[name] = (payload, body, replay)

    stored = database_text(app)
    # A generated join code is stored in no form: it is what the server's key
    # derives for a dialogue's current generation (moderation/features/access/join_codes.py).
    with service.db.session() as s:
        derived = {code for code in (current_code(service.join_keys, d) for d in s.scalars(select(Dialogue))) if code}
    secrets_of: dict[str, set[str]] = {}
    for name, (payload, body, _replay) in answers.items():
        # Passwords are stored as scrypt hashes (salted): known by their names.
        passwords = {k: v for k, v in payload.items() if "password" in k}
        found = {s for s in strings(body["result"]) if len(s) >= 6 and
                 (hash_token(s) in stored or hash_token(s.upper()) in stored or s in derived)}
        found |= {s for s in strings(payload) if len(s) >= 6 and
                  (hash_token(s) in stored or hash_token(s.upper()) in stored)}
        found |= set(strings(passwords))
        if found:
            secrets_of[name] = found
    assert ANSWER_SECRETS <= set(secrets_of), f"did not answer a secret: {ANSWER_SECRETS - set(secrets_of)}"

    log_text = "\n".join(logged.lines)
    plugins_heard = "\n".join(listener.heard)
    problems = []
    for name, found in sorted(secrets_of.items()):
        for secret in found:
            if secret in stored:
                problems.append(f"{name}: a secret is stored in clear ({secret[:12]}...)")
            if secret in log_text:
                problems.append(f"{name}: a secret is in the log")
            if secret in plugins_heard:
                problems.append(f"{name}: a plugin was told a secret")
        _payload, first, replay = answers[name]
        if any(secret in json.dumps(replay) for secret in found):
            problems.append(f"{name}: replaying the key answers the secret again")
        if name in ANSWER_SECRETS:
            if replay["result"].get("secret_shown_once") is not True:
                problems.append(f"{name}: the replay does not say that the secret was shown once")
            ids = {k: v for k, v in first["result"].items() if k.endswith("_id") or k.endswith("_ids")}
            if {k: replay["result"].get(k) for k in ids} != ids:
                problems.append(f"{name}: the replay does not answer the same ids")
    assert not problems, "\n".join(problems)


# -- the secretariat's page ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(tmp_path_factory):
    require_browser()
    from server import LiveServer

    with LiveServer(tmp_path_factory.mktemp("secrets-live")) as server:
        yield server


@pytest.mark.browser
@pytest.mark.server
def test_the_page_says_so_when_a_replay_has_no_secret(live):
    """The page sends one key per click; when the same key comes back (a
    retry), the answer has no token and the page says it was shown once,
    instead of showing a link that does not work."""
    from playwright.sync_api import expect

    with chromium() as browser:
        context = browser.new_context()
        page = context.new_page()
        page.goto(live.demo["links"]["secretariat"])
        page.goto(f"{live.base_url}/admin/d/{live.dialogue_id}")
        # Every request of the link form carries one key, as a retry would.
        page.route("**/api/v1/dialogues/*/links", lambda route: route.continue_(
            headers={**route.request.headers, "idempotency-key": "replayed-on-purpose-1"}))
        rows = page.locator("#credential-rows tr")
        before = rows.count()
        form = page.locator("#link-form")
        form.get_by_label("Label").fill("Side room screen")
        form.get_by_role("button", name="Issue link").click()
        secret = page.locator("#access-secret")
        expect(secret.locator("input.secret-value")).to_have_value(re.compile(r"/l/[A-Za-z0-9_-]{40,}$"))
        expect(rows).to_have_count(before + 1)
        secret.get_by_role("button", name="Done").click()
        form.get_by_label("Label").fill("Side room screen")
        form.get_by_role("button", name="Issue link").click()
        expect(secret).to_contain_text("it cannot be shown again")
        expect(secret.locator("input")).to_have_count(0)
        expect(rows).to_have_count(before + 1)
        context.close()


@pytest.mark.browser
@pytest.mark.server
def test_the_admin_page_issues_and_revokes_a_token_for_the_whole_site(live):
    from playwright.sync_api import expect

    with chromium() as browser:
        context = browser.new_context()
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(live.demo["links"]["secretariat"])
        page.goto(f"{live.base_url}/admin")
        panel = page.locator("#site-tokens")
        panel.get_by_label("Label").fill("Conference system")
        panel.get_by_role("button", name="Issue token").click()
        value = panel.locator("input.secret-value")
        expect(value).to_have_value(re.compile(r"^[A-Za-z0-9_-]{40,}$"))
        token = value.input_value()
        row = panel.locator("#site-token-rows tr", has_text="Conference system")
        expect(row).to_have_count(1)
        status, body = live.get_json("/api/v1/dialogues", headers={"Authorization": f"Bearer {token}"})
        assert status == 200 and {d["id"] for d in body["dialogues"]} >= {live.dialogue_id}, body
        row.get_by_role("button", name="Revoke: Conference system").click()
        expect(row.locator(".credential-state")).to_have_text("Revoked")
        status, body = live.get_json("/api/v1/dialogues", headers={"Authorization": f"Bearer {token}"})
        assert (status, body["error"]["code"]) == (401, "link_revoked"), body
        page.reload()
        expect(panel.locator("#site-token-rows tr", has_text="Conference system")).to_have_attribute(
            "data-revoked", "")
        assert errors == []
        context.close()
