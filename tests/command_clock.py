"""The command layer's clock, set by hand.

Every command reads the time once (``moderation.core.execution.utcnow``) and
stores it as ``ctx.now``: agenda and speaker timers, input times, check-ins.
Replacing that one function lets a test play a dialogue minute by minute and
know every figure the summary must show, without sleeping. The export's
``generated_at`` comes from ``moderation.models.utcnow`` and is set too.
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import pytest

VIENNA = ZoneInfo("Europe/Vienna")
DAY = dt.date(2026, 6, 3)  # the day seed_dialogue's dialogue starts at 10:00 Vienna time


class CommandClock:
    """``clock.at("10:04:30")`` moves the time to that local (Vienna) time
    on the dialogue's day; every command after it runs at that moment."""

    def __init__(self, start: str = "10:00:00"):
        self.now = self.moment(start)

    @staticmethod
    def moment(local: str) -> dt.datetime:
        clock = dt.time.fromisoformat(local)
        return dt.datetime.combine(DAY, clock, VIENNA).astimezone(dt.UTC)

    def at(self, local: str) -> CommandClock:
        moment = self.moment(local)
        assert moment >= self.now, f"the clock only moves forward ({local})"
        self.now = moment
        return self

    def __call__(self) -> dt.datetime:
        return self.now


@contextmanager
def command_clock(start: str = "10:00:00"):
    """Patch the command layer's (and the export's) clock for the block."""
    clock = CommandClock(start)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("moderation.core.execution.utcnow", clock)
        patch.setattr("moderation.models.utcnow", clock)
        yield clock
