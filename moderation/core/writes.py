"""Which tables a command wrote.

A change message must carry every section whose value the command changed,
not only the ones its handler remembered to name: a section that depends on
the agenda (whether inputs are accepted) changes when the agenda moves. The
command layer therefore records what each transaction writes, from the ORM
itself (inserted, updated and deleted rows, cascades included, and bulk
``update``/``delete`` statements), and the snapshot layer sends every section
that reads one of those tables and whose value differs.

It also keeps the ids of the rows written and their changed columns
(``written_rows``): a change to what a participant's own row shows them is
sent to that participant privately (``me``).

Tracking is off unless ``start`` was called on the session; the listeners
cost one dictionary lookup elsewhere.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event, inspect
from sqlalchemy.orm import Mapper, ORMExecuteState, Session
from sqlalchemy.orm.attributes import get_history

_KEY = "moderation.written_tables"
# Bookkeeping columns that every command writes and no section shows.
BOOKKEEPING = {"dialogues": frozenset({"version", "stream_versions", "section_digests"})}


def start(session: Session) -> None:
    """Record, from now on, the tables this session's transaction writes."""
    session.info[_KEY] = {}


def written(session: Session) -> frozenset[str]:
    """The tables written since ``start`` (flush first: pending changes are
    recorded when they reach the database)."""
    return frozenset(session.info.get(_KEY, ()))


def written_rows(session: Session, table: str, ignoring: frozenset[str] = frozenset()) -> frozenset[int]:
    """The ids of ``table``'s rows written one by one since ``start`` (rows
    changed by a bulk statement are not known one by one), leaving out rows
    of which only ``ignoring`` columns changed."""
    rows = session.info.get(_KEY, {}).get(table, {})
    return frozenset(row_id for row_id, columns in rows.items() if columns is ALL or columns - ignoring)


ALL = None  # a row inserted or deleted: every column counts as written


def _record(target: Any, changed_only: bool) -> None:
    session = Session.object_session(target)
    tables = session.info.get(_KEY) if session is not None else None
    if tables is None:
        return
    table = target.__table__.name
    columns = _columns_changed(target) - BOOKKEEPING.get(table, frozenset()) if changed_only else ALL
    if columns is not ALL and not columns:
        return
    rows = tables.setdefault(table, {})
    row_id = getattr(target, "id", None)
    if isinstance(row_id, int):
        earlier = rows.get(row_id, frozenset())
        rows[row_id] = ALL if columns is ALL or earlier is ALL else earlier | columns


def _columns_changed(target: Any) -> frozenset[str]:
    """The columns with a net change. Only the attributes set since the last
    flush are asked, and only columns: asking every attribute builds a state
    object per attribute (a relationship's history may even load it)."""
    state = inspect(target)
    columns = state.mapper.column_attrs
    return frozenset(key for key in state.committed_state
                     if key in columns and get_history(target, key).has_changes())


@event.listens_for(Mapper, "after_insert")
def _inserted(mapper: Mapper, connection: Connection, target: Any) -> None:
    _record(target, changed_only=False)


@event.listens_for(Mapper, "after_delete")
def _deleted(mapper: Mapper, connection: Connection, target: Any) -> None:
    _record(target, changed_only=False)


@event.listens_for(Mapper, "after_update")
def _updated(mapper: Mapper, connection: Connection, target: Any) -> None:
    # Called for every object flushed as dirty, even without a net change.
    _record(target, changed_only=True)


@event.listens_for(Session, "do_orm_execute")
def _bulk(execute_state: ORMExecuteState) -> None:
    if not (execute_state.is_update or execute_state.is_delete or execute_state.is_insert):
        return
    tables = execute_state.session.info.get(_KEY)
    if tables is not None:
        tables.setdefault(execute_state.statement.table.name, {})  # type: ignore[attr-defined]  # DML only
