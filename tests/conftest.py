"""Shared fixtures.

Databases: tests that take ``database_url`` run once on SQLite and once on
PostgreSQL. PostgreSQL comes from ``MODERATION_TEST_POSTGRES_URL`` (a server
the tests may create databases on); Redis from ``MODERATION_TEST_REDIS_URL``.
Without them those tests skip, unless ``MODERATION_REQUIRE_SERVICES=1`` (set by
``.ci/run``), which turns the skip into a failure.
"""
from __future__ import annotations

import os
import shutil
import sys
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from moderation import create_app
from moderation.core.auth import SYSTEM, Principal
from moderation.core.db import Database, normalize_url
from moderation.models import Base

POSTGRES_URL = os.environ.get("MODERATION_TEST_POSTGRES_URL", "")
REDIS_URL = os.environ.get("MODERATION_TEST_REDIS_URL", "")
REQUIRE_SERVICES = os.environ.get("MODERATION_REQUIRE_SERVICES") == "1"


def require(name: str, available: bool, how: str) -> None:
    """Skip without the service, or fail when CI says it must be there."""
    if available:
        return
    message = f"{name} not available: {how}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (MODERATION_REQUIRE_SERVICES=1 makes this mandatory)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module", autouse=True)
def no_leftover_clients():
    """After each module, stop the Socket.IO clients its tests left open, so
    that their threads (logging, reconnecting with random jitter) cannot
    disturb the next module's tests."""
    yield
    server = sys.modules.get("server")
    if server is not None and hasattr(server, "shut_down_leftover_clients"):
        server.shut_down_leftover_clients()


@pytest.fixture(scope="session")
def postgres_server_url():
    """A throwaway PostgreSQL database for this test session."""
    require("PostgreSQL", bool(POSTGRES_URL), "set MODERATION_TEST_POSTGRES_URL")
    base = make_url(normalize_url(POSTGRES_URL))
    name = f"moderation_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        require("PostgreSQL", False, f"set a reachable MODERATION_TEST_POSTGRES_URL ({exc.__class__.__name__})")
    url = base.set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as connection:
        connection.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
        ), {"n": name})
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template):
    """An empty SQLite database already at the current schema (a copy of the
    template: migrating one per test would cost about half a second each)."""
    path = tmp_path / "test.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """An SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    with database.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    return path


def empty_postgres(url: str) -> None:
    """Empty every table of a database at head (fast), or rebuild it when a
    test left it at another revision."""
    database = Database(url)
    try:
        if database.is_current():
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            with database.engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            return
    finally:
        database.dispose()
    reset_postgres(url)
    database = Database(url)
    database.upgrade()
    database.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request):
    """The same test on SQLite and on PostgreSQL, on a database already at
    the current schema and empty (migrating per test would take minutes)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    url = request.getfixturevalue("postgres_server_url")
    empty_postgres(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request, tmp_path):
    """An empty database (no tables), on SQLite and on PostgreSQL, for the
    tests of the migrations themselves."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    url = request.getfixturevalue("postgres_server_url")
    reset_postgres(url)
    return url


@pytest.fixture
def redis_url():
    require("Redis", bool(REDIS_URL), "set MODERATION_TEST_REDIS_URL")
    return REDIS_URL


def make_app(tmp_path, database_url: str, **config):
    settings = {"DATABASE_URL": database_url, "ASYNC_MODE": "threading", "SECRET_KEY": "test-secret",
                "INSTANCE_PATH": str(tmp_path / "instance"), "AUTO_UPGRADE": True, "TESTING": True,
                # The assistant's light backend, unless a test chooses: the others
                # need not load a sentence-embedding model (tests/test_assist.py does).
                "ASSIST_BACKEND": "tfidf"}
    settings.update(config)
    return create_app(settings)


@pytest.fixture
def app(tmp_path, database_url):
    application = make_app(tmp_path, database_url)
    yield application
    application.extensions["db"].dispose()


@pytest.fixture
def sqlite_app(tmp_path, sqlite_url):
    """For tests of adapters (HTTP, Socket.IO) where the engine does not matter."""
    application = make_app(tmp_path, sqlite_url)
    yield application
    application.extensions["db"].dispose()


@pytest.fixture
def csrf_app(sqlite_app):
    """The SQLite app plus one test-only route that hands out a CSRF token
    for the client's own session: the same token a page would embed."""
    from flask_wtf.csrf import generate_csrf

    @sqlite_app.get("/_test/csrf")
    def _test_csrf():
        return generate_csrf()

    return sqlite_app


@pytest.fixture
def service(app):
    return app.extensions["moderation"]


def run(service, name: str, payload: dict, principal: Principal = SYSTEM, key: str | None = None):
    """Dispatch a command and return its result (raises CommandError)."""
    return service.dispatch(principal, name, payload, key).result


def seed_dialogue(service, *, items=(("briefing", 20), ("working_group_update", 15),
                                     ("panel_discussion", 60), ("input_collection", 45)),
                  participants=(("Amina Okafor", "room", "ngo"), ("Jonas Lindqvist", "online", "academia"))):
    """A dialogue with an agenda, participants and one credential per role.

    Returns a dict: dialogue_id, item_ids, and principals/tokens by role
    ("moderator", "rapporteur", "display", "participant0", "participant1", ...)."""
    dialogue_id = run(service, "dialogue.create", {"topic": "trafficking_in_persons",
                                                   "local_start": "2026-06-03T10:00:00"})["dialogue_id"]
    item_ids = [run(service, "agenda.add_item", {"dialogue_id": dialogue_id, "item_type": t,
                                                 "planned_minutes": m})["item_id"] for t, m in items]
    seeded = {"dialogue_id": dialogue_id, "item_ids": item_ids, "principals": {}, "tokens": {},
              "participant_ids": []}
    for role in ("moderator", "rapporteur", "display"):
        result = run(service, "access.issue_link", {"dialogue_id": dialogue_id, "role": role})
        seeded["principals"][role] = Principal(credential_id=result["credential_id"])
        seeded["tokens"][role] = result["token"]
    for index, (name, channel, category) in enumerate(participants):
        result = run(service, "participant.register", {
            "dialogue_id": dialogue_id, "name": name, "channel": channel,
            "organization": {"name": f"{name} Organization", "category": category}})
        seeded["principals"][f"participant{index}"] = Principal(credential_id=result["credential_id"])
        seeded["tokens"][f"participant{index}"] = result["token"]
        seeded["participant_ids"].append(result["participant_id"])
    api = run(service, "access.issue_api_token", {"dialogue_id": dialogue_id, "role": "moderator"})
    seeded["tokens"]["api_moderator"] = api["token"]
    return seeded


@pytest.fixture
def dialogue(service):
    return seed_dialogue(service)


# -- the real server in a subprocess (tests/server.py) ---------------------------------
@pytest.fixture
def live_server(tmp_path):
    """A fresh eventlet server (``python run.py --demo``) for one test, on
    SQLite in its own instance folder; its demo links are in ``.demo``."""
    from server import LiveServer

    with LiveServer(tmp_path / "live-server") as server:
        yield server
