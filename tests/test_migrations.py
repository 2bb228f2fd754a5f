"""The Alembic migrations and the models agree, on SQLite and PostgreSQL:
upgrading an empty database gives exactly the schema of moderation.models,
the way down works, and an old schema is refused with the command to run."""
from __future__ import annotations

import pytest
from alembic import command as alembic_command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from moderation.core.db import Database, SchemaBehind
from moderation.models import Base


@pytest.fixture
def database(empty_database_url):
    db = Database(empty_database_url)
    yield db
    db.dispose()


def differences(db: Database) -> list:
    """What ``alembic revision --autogenerate`` would write, with the options
    of ``migrations/env.py`` (types compared; server defaults that later
    migrations use to fill existing rows are not part of the models)."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_gives_exactly_the_models_schema(database):
    assert tables(database) == set()
    database.upgrade()
    assert tables(database) == set(Base.metadata.tables)
    assert differences(database) == []
    assert database.current_revision() == database.head_revision()
    assert database.is_current()


def test_downgrade_to_base_and_upgrade_again(database):
    database.upgrade()
    alembic_command.downgrade(database.alembic_config(), "base")
    assert tables(database) == set()
    assert database.current_revision() is None
    database.upgrade()
    assert differences(database) == []
    assert database.is_current()


def test_each_revision_steps_down_and_up(database):
    """Every revision's downgrade undoes its upgrade (checked one step at a
    time from head), so a failed deploy can be rolled back."""
    config = database.alembic_config()
    revisions = [r.revision for r in ScriptDirectory.from_config(config).walk_revisions("base", "heads")]
    database.upgrade()
    for revision in revisions:              # newest first
        alembic_command.downgrade(config, "-1")
        alembic_command.upgrade(config, revision)
        assert database.current_revision() == revision
        alembic_command.downgrade(config, "-1")
    assert database.current_revision() is None and tables(database) == set()
    database.upgrade()
    assert differences(database) == []


def test_the_history_is_linear():
    heads = ScriptDirectory.from_config(Database("sqlite://").alembic_config()).get_heads()
    assert len(heads) == 1, f"several heads, merge them: {heads}"


def test_require_current_refuses_an_empty_database(database):
    assert not database.is_current()
    with pytest.raises(SchemaBehind) as caught:
        database.require_current()
    message = str(caught.value)
    assert "moderation db upgrade" in message and "empty database" in message
    assert database.head_revision() in message


def test_require_current_refuses_an_old_schema(database):
    config = database.alembic_config()
    revisions = [r.revision for r in ScriptDirectory.from_config(config).walk_revisions("base", "heads")]
    if len(revisions) < 2:
        pytest.skip("only one revision so far")  # pragma: no cover
    database.upgrade(revisions[-1])          # the oldest
    with pytest.raises(SchemaBehind, match="moderation db upgrade"):
        database.require_current()
    database.upgrade()
    database.require_current()               # no error once current


def test_secrets_kept_in_older_answers_are_left_out(database):
    """Answers stored for idempotency keys before tokens were shown once
    lose their tokens, links and codes on upgrade, and keep their ids."""
    from sqlalchemy import text
    config = database.alembic_config()
    alembic_command.upgrade(config, "0005")
    answers = {
        "access.issue_link": {"dialogue_id": 1, "version": 3, "result": {"credential_id": 7, "token": "tok-link"}},
        "invitations.issue": {"dialogue_id": 1, "version": 4, "result": {"revoked": [], "invitations": [
            {"participant_id": 2, "credential_id": 8, "token": "tok-invite", "link_path": "/l/tok-invite"}]}},
        "dialogue.configure_join": {"dialogue_id": 1, "version": 5, "result": {"enabled": True, "code": "CODE-1234"}},
        "queue.request_floor": {"dialogue_id": 1, "version": 6, "result": {"entry_id": 3}},
    }
    import json
    with database.engine.begin() as connection:
        for number, (command, response) in enumerate(answers.items()):
            connection.execute(text("INSERT INTO idempotency_records (scope, key, command, response, created_at) "
                                    "VALUES ('u1', :key, :command, :response, CURRENT_TIMESTAMP)"),
                               {"key": f"key-{number:05d}", "command": command, "response": json.dumps(response)})
    database.upgrade()
    with database.engine.connect() as connection:
        stored = {command: json.loads(response) if isinstance(response, str) else response
                  for command, response in connection.execute(text("SELECT command, response FROM idempotency_records"))}
    assert "tok-" not in json.dumps(stored) and "CODE-1234" not in json.dumps(stored)
    assert stored["access.issue_link"]["result"] == {"credential_id": 7, "secret_shown_once": True}
    assert stored["invitations.issue"]["result"]["invitations"] == [{"participant_id": 2, "credential_id": 8}]
    assert stored["dialogue.configure_join"]["result"] == {"enabled": True, "secret_shown_once": True}
    assert stored["queue.request_floor"] == answers["queue.request_floor"]


def test_an_id_is_never_given_again(database):
    """A deleted theme's id does not go to the next theme. PostgreSQL's
    sequences never reuse one; on SQLite, migration 0012 rebuilds every table
    with one integer primary key as AUTOINCREMENT, keeping its rows."""
    from sqlalchemy import text
    sqlite = database.engine.dialect.name == "sqlite"
    alembic_command.upgrade(database.alembic_config(), "0011")
    with database.engine.begin() as connection:
        dialogue_id = connection.execute(text(
            "INSERT INTO dialogues (title, topic, kind, timezone, venue, format, version, join_enabled, "
            "created_at) VALUES ('Kept', 'firearms', 'constructive_dialogue', 'Europe/Vienna', '', 'hybrid', 1, "
            "false, CURRENT_TIMESTAMP) RETURNING id")).scalar()
        marking = connection.execute(text("INSERT INTO themes (dialogue_id, name, description, position) "
                                          "VALUES (:d, 'Marking', '', 0) RETURNING id"), {"d": dialogue_id}).scalar()
    database.upgrade()
    with database.engine.begin() as connection:
        if sqlite:
            made = {name: sql for name, sql in connection.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name != 'alembic_version'"))}
            single_integer_key = {table.name for table in Base.metadata.tables.values()
                                  if len(table.primary_key.columns) == 1
                                  and list(table.primary_key.columns)[0].type.python_type is int}
            assert {"themes", "agenda_items", "inputs"} <= single_integer_key
            assert {name for name in single_integer_key if "AUTOINCREMENT" not in made[name]} == set()
        assert connection.execute(text("SELECT name FROM themes WHERE id = :i"), {"i": marking}).scalar() == "Marking"
        connection.execute(text("DELETE FROM themes WHERE id = :i"), {"i": marking})
        connection.execute(text("INSERT INTO themes (dialogue_id, name, description, position) "
                                "VALUES (:d, 'Tracing', '', 0)"), {"d": dialogue_id})
        assert connection.execute(text("SELECT id FROM themes WHERE name = 'Tracing'")).scalar() == marking + 1
    assert differences(database) == []
