"""The database: one engine and session factory per app, and the Alembic
migrations that create and upgrade the schema."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaBehind(RuntimeError):
    """The database schema is older than the code."""


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
        def _sqlite_connect(dbapi_connection, _record):
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
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    """Engine plus session factory, attached to the app as ``app.extensions['db']``."""

    def __init__(self, url: str):
        self.url = url = normalize_url(url)
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reading; nothing it does is committed."""
        with self.sessions() as session:
            try:
                yield session
            finally:
                session.rollback()

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
