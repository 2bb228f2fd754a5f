"""When inputs are accepted: during the live session (from the first item's
start until every item is done) and while the written-input window is open;
what a submission checks and what the input settings section shows."""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from moderation.core.commands import Context
from moderation.core.errors import Conflict
from moderation.core.timers import ms
from moderation.models import AgendaItem, Dialogue, InputKind, ItemStatus

STATEMENT_MAX_WORDS = 1500


def agenda_state(session, dialogue_id: int) -> tuple[bool, int | None]:
    """Whether the live session is on (from the first item's start until
    every item is done) and the current (running or paused) item, from one
    small query: a submission asks both."""
    live_started = live_unfinished = False
    current = None
    for item_id, status, started_at in session.execute(
            select(AgendaItem.id, AgendaItem.status, AgendaItem.started_at)
            .where(AgendaItem.dialogue_id == dialogue_id).order_by(AgendaItem.position)):
        live_started = live_started or started_at is not None
        live_unfinished = live_unfinished or status != ItemStatus.DONE.value
        if current is None and status in (ItemStatus.RUNNING.value, ItemStatus.PAUSED.value):
            current = item_id
    return live_started and live_unfinished, current


def session_live(session, dialogue_id: int) -> bool:
    return agenda_state(session, dialogue_id)[0]


def window_open(dialogue: Dialogue, now: dt.datetime) -> bool:
    opens, closes = dialogue.input_window_opens_at, dialogue.input_window_closes_at
    return opens is not None and closes is not None and opens <= now < closes


def _local(dialogue: Dialogue, moment: dt.datetime | None) -> str | None:
    return moment.astimezone(ZoneInfo(dialogue.timezone)).isoformat(timespec="minutes") if moment else None


def input_settings_section(session, dialogue: Dialogue, now, plugins, role=None) -> dict[str, Any]:
    live = session_live(session, dialogue.id)
    written = window_open(dialogue, now)
    return {
        "moderation_mode": dialogue.moderation_mode,
        "max_chars": dialogue.max_input_chars,
        "statement_max_words": STATEMENT_MAX_WORDS,
        "window_opens_at": ms(dialogue.input_window_opens_at),
        "window_closes_at": ms(dialogue.input_window_closes_at),
        "window_opens_local": _local(dialogue, dialogue.input_window_opens_at),
        "window_closes_local": _local(dialogue, dialogue.input_window_closes_at),
        "timezone": dialogue.timezone,
        "live": live,
        "written_window_open": written,
        "accepting": live or written,
    }


def check_window(ctx: Context, kind: str, live: bool | None = None) -> None:
    dialogue = ctx.require_dialogue()
    written = window_open(dialogue, ctx.now)
    if kind == InputKind.STATEMENT.value:
        if not written:
            raise Conflict("Written statements are accepted while the written-input window is "
                                           "open" + _window_text(dialogue) + ".")
        return
    if live is None:
        live = session_live(ctx.session, dialogue.id)
    if not written and not live:
        raise Conflict("Inputs are not being accepted now: they are open during the live "
                                       "session and while the written-input window is open"
                                       + _window_text(dialogue) + ".")


def _window_text(dialogue: Dialogue) -> str:
    if dialogue.input_window_opens_at and dialogue.input_window_closes_at:
        return (f" ({_local(dialogue, dialogue.input_window_opens_at)} to "
                f"{_local(dialogue, dialogue.input_window_closes_at)}, {dialogue.timezone})")
    return ""
