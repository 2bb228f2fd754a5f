"""The database: one engine and session factory per app, and the Alembic
migrations that create and upgrade the schema."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from moderation.core.errors import CommandError, Unavailable

MIGRATIONS = Path(__file__).parent.parent / "migrations"
CONNECT_TIMEOUT = 5  # s: a database that does not answer is reported, not waited for
UNAVAILABLE_MESSAGE = "The database cannot be reached just now; try again shortly."


class SchemaBehind(RuntimeError):
    """The database schema is older than the code."""


def is_unavailable(exc: BaseException) -> bool:
    """The database is down, unreachable or too busy: a state that passes,
    not a fault of the request (a lost connection, a refused one, a full pool)."""
    if isinstance(exc, OperationalError):
        # SQLite reports a missing table as an OperationalError too: that is a bug.
        return not str(exc.orig).startswith(("no such ", "near "))
    if isinstance(exc, (InterfaceError, PoolTimeout)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def unavailable_error() -> CommandError:
    return Unavailable(UNAVAILABLE_MESSAGE)


def normalize_url(url: str) -> str:
    """Plain ``postgresql://`` URLs use psycopg2: eventlet patches it so that
    queries yield to other green threads, which psycopg 3 does not do."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the sqlite3 module, decide when transactions
            # begin (the documented pysqlite recipe), and use WAL so that
            # readers never wait for the writer.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    connect_args = {}
    if make_url(url).get_backend_name() == "postgresql" and "connect_timeout" not in make_url(url).query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    # pool_pre_ping: a connection the database dropped (restart, network
    # cut) is replaced at checkout, so the app recovers by itself.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args)


class Database:
    """Engine plus session factory, attached to the app as ``app.extensions['db']``."""

    def __init__(self, url: str):
        self.url = url = normalize_url(url)
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reading; nothing it does is committed. A database
        that cannot be reached becomes the ``unavailable`` CommandError, which
        every adapter answers clearly (ack, 503 JSON, error page)."""
        try:
            with self.sessions() as session:
                try:
                    yield session
                finally:
                    session.rollback()
        except (DBAPIError, PoolTimeout) as exc:
            if is_unavailable(exc):
                raise unavailable_error() from exc
            raise

    # -- schema -----------------------------------------------------------
    def alembic_config(self) -> AlembicConfig:
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        config.attributes["engine"] = self.engine
        return config

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self.alembic_config()).get_current_head()

    def is_current(self) -> bool:
        return self.current_revision() == self.head_revision()

    def upgrade(self, revision: str = "head") -> None:
        alembic_command.upgrade(self.alembic_config(), revision)

    def require_current(self) -> None:
        current, head = self.current_revision(), self.head_revision()
        if current != head:
            raise SchemaBehind(
                f"The database schema is at {current or 'nothing (empty database)'}, "
                f"the code needs {head}. Upgrade it with: moderation db upgrade")

    def dispose(self) -> None:
        self.engine.dispose()
