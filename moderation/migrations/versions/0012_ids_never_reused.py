"""ids are never reused on SQLite

SQLite gives a new row the highest id in its table plus one, so deleting the
newest theme or agenda item and creating another hands the old id to the new
row: a command still naming the deleted one (a list on someone's screen, a
press queued while offline) would act on the new one. PostgreSQL's sequences
never reuse an id; on SQLite a table declared AUTOINCREMENT does the same.
Every table with one integer primary key is rebuilt with it (the models say
so in ``moderation/models/__init__.py``). Nothing changes on PostgreSQL.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 06:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def _tables(autoincrement: bool) -> list[str]:
    """The tables with one integer primary key whose AUTOINCREMENT is ``autoincrement``."""
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    found = []
    for name in inspector.get_table_names():
        primary = inspector.get_pk_constraint(name)["constrained_columns"]
        types = {column["name"]: column["type"] for column in inspector.get_columns(name)}
        if name == "alembic_version" or len(primary) != 1 or not isinstance(types[primary[0]], sa.Integer):
            continue
        sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                                   (name,)).scalar() or ""
        if ("AUTOINCREMENT" in sql.upper()) == autoincrement:
            found.append(name)
    return found


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _tables(not autoincrement):
        with op.batch_alter_table(name, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
