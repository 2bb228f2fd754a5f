"""The ``moderation`` command, run as an operator would, against a database in
``tmp_path``; what it leaves behind is checked through the pages and the API
of an app on the same database."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from conftest import make_app, reset_postgres
from flask import session as flask_session
from flask_wtf.csrf import generate_csrf

from moderation.cli import main


@pytest.fixture
def database(request, tmp_path):
    """SQLite, or PostgreSQL for the tests marked with ``BOTH`` (the CLI is
    mostly engine-independent, so most tests run on SQLite only)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    url = request.getfixturevalue("postgres_server_url")
    reset_postgres(url)
    return url


BOTH = pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                               indirect=True)


@pytest.fixture
def cli(monkeypatch, tmp_path, database):
    """Run ``moderation ...`` in this process with the settings in the
    environment, as an operator's shell would have them."""
    for name in ("MODERATION_CONFIG", "MODERATION_PLUGINS", "MODERATION_MESSAGE_QUEUE", "MODERATION_AUTO_UPGRADE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODERATION_DATABASE_URL", database)
    monkeypatch.setenv("MODERATION_INSTANCE_PATH", str(tmp_path / "instance"))
    runner = CliRunner()

    def invoke(*args: str, expect: int = 0):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == expect, result.output
        return result

    return invoke


@pytest.fixture
def web(tmp_path, database):
    """An app on the CLI's database (no automatic upgrade: the CLI did it)."""
    apps = []

    def open_app():
        app = make_app(tmp_path, database, AUTO_UPGRADE=False)
        apps.append(app)
        return app

    yield open_app
    for app in apps:
        app.extensions["db"].dispose()


def login(app, client, username: str, password: str):
    """POST the sign-in form with a valid CSRF token, as the browser would."""
    with app.test_request_context():
        token = generate_csrf()
        raw = flask_session["csrf_token"]
    with client.session_transaction() as stored:
        stored["csrf_token"] = raw
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


# -- the schema --------------------------------------------------------------------------
@BOTH
def test_db_upgrade_brings_an_empty_database_to_the_current_revision(cli):
    behind = cli("db", "current", expect=1)
    assert "(empty)" in behind.output and "BEHIND" in behind.output
    refused = cli("create-admin", "ana", "--generate", expect=1)
    assert "moderation db upgrade" in refused.output

    upgraded = cli("db", "upgrade")
    assert re.search(r"Database at revision \w+\.", upgraded.output)
    assert "current" in cli("db", "current").output
    assert "Database at revision" in cli("db", "upgrade").output  # a second run changes nothing


# -- accounts ----------------------------------------------------------------------------
def test_create_admin_generates_a_password_that_signs_in(cli, web):
    cli("db", "upgrade")
    created = cli("create-admin", "ana.secretariat", "--generate", "--display-name", "Ana")
    password = re.search(r"Password: (\S+)", created.output).group(1)
    assert len(password) >= 12

    app = web()
    client = app.test_client()
    refused = login(app, client, "ana.secretariat", password + "x")
    assert refused.status_code == 401
    signed_in = login(app, client, "ana.secretariat", password)
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/admin")
    assert client.get("/admin").status_code == 200

    again = cli("create-admin", "ana.secretariat", "--password", "another-password", expect=1)
    assert "taken" in again.output


# -- the demo ----------------------------------------------------------------------------
ROLE_TARGETS = {"moderator": "moderator", "rapporteur": "rapporteur", "participant": "participant",
                "participant_online": "participant", "display": "display"}


@BOTH
def test_demo_json_prints_links_that_open_each_roles_page(cli, web):
    output = cli("demo", "--json").output
    demo = json.loads(output)
    assert {"secretariat", "moderator", "rapporteur", "participant", "display"} <= set(demo)
    dialogue_id = demo["dialogue_id"]
    app = web()
    for role, target in ROLE_TARGETS.items():
        client = app.test_client()
        response = client.get(urlsplit(demo[role]).path)
        assert response.status_code == 302, role
        assert response.headers["Location"] == f"/d/{dialogue_id}/{target}"
        assert client.get(response.headers["Location"]).status_code == 200, role
    client = app.test_client()
    response = client.get(urlsplit(demo["secretariat"]).path)
    assert response.status_code == 302 and response.headers["Location"] == "/admin"
    assert client.get("/admin").status_code == 200


def test_running_the_demo_again_revokes_the_first_runs_links(cli, web):
    first = json.loads(cli("demo", "--json").output)
    second = json.loads(cli("demo", "--json").output)
    assert second["dialogue_id"] == first["dialogue_id"], "the demo dialogue is created once"
    app = web()
    client = app.test_client()
    for role in ROLE_TARGETS:
        assert first[role] != second[role]
        assert client.get(urlsplit(first[role]).path).status_code == 401, role
        assert client.get(urlsplit(second[role]).path).status_code == 302, role
    assert login(app, client, "secretariat", first["admin"]["password"]).status_code == 401
    assert login(app, client, "secretariat", second["admin"]["password"]).status_code == 302


def test_demo_links_use_the_given_base_url(cli):
    demo = json.loads(cli("demo", "--json", "--base-url", "https://dialogue.example.org/").output)
    assert demo["moderator"].startswith("https://dialogue.example.org/l/")


# -- API tokens --------------------------------------------------------------------------
@BOTH
def test_token_prints_a_bearer_token_for_one_dialogue_and_role(cli, web):
    demo = json.loads(cli("demo", "--json").output)
    dialogue_id = demo["dialogue_id"]
    token = cli("token", "--dialogue", str(dialogue_id), "--role", "moderator").output.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)

    client = web().test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    response = client.get(f"/api/v1/dialogues/{dialogue_id}/snapshot", headers=bearer)
    assert response.status_code == 200
    snapshot = response.get_json()["snapshot"]
    assert snapshot["dialogue_id"] == dialogue_id and snapshot["role"] == "moderator"
    assert "participants" in snapshot["sections"]

    other = dialogue_id + 1  # the demo's Preparation Day
    assert client.get(f"/api/v1/dialogues/{other}/snapshot", headers=bearer).status_code in (401, 403)
    assert client.get(f"/api/v1/dialogues/{dialogue_id}/snapshot",
                      headers={"Authorization": f"Bearer {token}x"}).status_code == 401
    wrong = cli("token", "--dialogue", "999", "--role", "moderator", expect=1)
    assert "999" in wrong.output


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "moderation"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for name in ("db", "create-admin", "demo", "run", "token"):
        assert name in result.stdout
