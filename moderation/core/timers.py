"""Server-side timers as absolute times.

A timer is running while ``run_started_at`` is set; the time it ran before
its last pause is ``elapsed_seconds``. Nothing ticks: screens get ``ends_at``
and draw the countdown themselves. Used by agenda items and speakers alike.
"""
from __future__ import annotations

import datetime as dt
from typing import Protocol


class Timed(Protocol):
    run_started_at: dt.datetime | None
    elapsed_seconds: float


def ms(moment: dt.datetime | None) -> int | None:
    """Epoch milliseconds, the unit every screen receives."""
    return None if moment is None else int(moment.timestamp() * 1000)


def elapsed(timer: Timed, now: dt.datetime) -> float:
    if timer.run_started_at is not None:
        return timer.elapsed_seconds + max(0.0, (now - timer.run_started_at).total_seconds())
    return timer.elapsed_seconds


def remaining(timer: Timed, planned_seconds: float, now: dt.datetime) -> float:
    """Negative once the timer runs over."""
    return planned_seconds - elapsed(timer, now)


def ends_at(timer: Timed, planned_seconds: float) -> dt.datetime | None:
    if timer.run_started_at is None:
        return None
    return timer.run_started_at + dt.timedelta(seconds=planned_seconds - timer.elapsed_seconds)


def start(timer: Timed, now: dt.datetime) -> None:
    if timer.run_started_at is None:
        timer.run_started_at = now


def stop(timer: Timed, now: dt.datetime) -> None:
    """Pause (or finish): fold the current run into ``elapsed_seconds``."""
    timer.elapsed_seconds = elapsed(timer, now)
    timer.run_started_at = None
