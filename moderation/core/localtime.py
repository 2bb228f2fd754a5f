"""Dates and times that clients send: one bounded type for all of them.

A dialogue's start, the written-input window and the application deadline
arrive as ISO 8601 text, without an offset (wall-clock time in the
dialogue's time zone) or with one (that instant). Python's datetime covers
years 1 to 9999, and converting year 1 or 9999 between time zones
overflows; no session of this tool is outside 2000-2100, so anything else
is refused as ``invalid_payload`` before any conversion. A wall-clock time
that the time zone skips (the hour the clocks go forward) is refused too;
one that happens twice (the hour they go back) is the first."""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from moderation.core.errors import InvalidPayload

EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
FORMAT = (r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]"
          r"(:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$")
MESSAGE = ("Must be a date and time between 2000 and 2100 such as 2026-06-03T10:00 (local time), or with an "
           "offset such as 2026-06-03T10:00+02:00.")
DATE_TIME_SCHEMA = {"type": "string", "pattern": FORMAT, "maxLength": 32, "examples": ["2026-06-03T10:00"]}
_FORMAT = re.compile(FORMAT)


def parse(value: Any) -> dt.datetime:
    """ISO 8601 text (or a datetime, from Python callers) within the bounds."""
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    if not isinstance(value, str) or not _FORMAT.fullmatch(value):
        raise PydanticCustomError("date_time", MESSAGE)
    try:
        return dt.datetime.fromisoformat(value.replace(" ", "T", 1).replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError("date_time", "This date does not exist (for example 30 February).") from None


DateTime = Annotated[dt.datetime, PlainValidator(parse),
                     PlainSerializer(dt.datetime.isoformat, return_type=str, when_used="json"),
                     WithJsonSchema(DATE_TIME_SCHEMA)]


def instant(moment: dt.datetime, zone: str, field: str) -> dt.datetime:
    """The UTC instant of a ``DateTime``: an offset names it; without one it
    is wall-clock time in ``zone``, refused when the zone skips that time."""
    if moment.tzinfo is not None:
        return moment.astimezone(dt.UTC)
    tz = ZoneInfo(zone)
    result = moment.replace(tzinfo=tz).astimezone(dt.UTC)
    if result.astimezone(tz).replace(tzinfo=None) != moment:
        message = (f"{moment:%Y-%m-%d %H:%M} does not exist in {zone}: the clocks skip that hour. Choose a time "
                   "before or after it.")
        raise InvalidPayload(message, [{"field": field, "message": message}])
    return result
