"""The one error type a command raises; every adapter turns it into its own
shape (an acknowledgement, a JSON 4xx, a CLI message)."""
from __future__ import annotations

from typing import Any

STATUS = {
    "invalid_payload": 422,
    "unauthenticated": 401,
    "link_revoked": 401,
    "forbidden": 403,
    "not_found": 404,
    "unknown_command": 404,
    "conflict": 409,
    "too_large": 413,
    "rate_limited": 429,
    "unavailable": 503,
    "server_stopping": 503,
    "internal": 500,
}


class CommandError(Exception):
    """A request that was refused; nothing was changed."""

    def __init__(self, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 400)

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return error


# What a pattern means, in words, for the patterns that have a name
# (``storable.SingleLine``); other patterns are "not in the expected format".
PATTERN_MESSAGES: dict[str, str] = {}


def validation_details(exc) -> list[dict[str, Any]]:
    """A pydantic ValidationError as a short, JSON-safe list of
    ``{field, message}`` in words a person understands (the input is not echoed)."""
    return [{"field": ".".join(str(p) for p in e.get("loc", ())) or None, "message": _message(e)}
            for e in exc.errors()]


def _message(error: dict[str, Any]) -> str:  # noqa: C901 - one sentence per validation error type
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "missing":
        return "This field is required."
    if kind == "extra_forbidden":
        return "This field is not expected here."
    if kind == "string_too_long":
        return f"Too long: at most {ctx.get('max_length')} characters."
    if kind == "string_too_short":
        return "This field is required." if ctx.get("min_length") == 1 else \
            f"Too short: at least {ctx.get('min_length')} characters."
    if kind == "string_pattern_mismatch":
        return PATTERN_MESSAGES.get(ctx.get("pattern"), "Not in the expected format.")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "Must be a whole number."
    if kind in ("bool_type", "bool_parsing"):
        return "Must be true or false."
    if kind == "string_type":
        return "Must be text."
    if kind == "string_unicode":
        return "Must be valid text (Unicode)."
    if kind in ("literal_error", "enum"):
        return f"Must be one of: {ctx.get('expected', '')}."
    if kind in ("greater_than_equal", "greater_than"):
        return f"Must be at least {ctx.get('ge', ctx.get('gt'))}."
    if kind in ("less_than_equal", "less_than"):
        return f"Must be at most {ctx.get('le', ctx.get('lt'))}."
    if kind == "too_long":
        return f"Too many entries: at most {ctx.get('max_length')}."
    if kind == "too_short":
        return f"Too few entries: at least {ctx.get('min_length')}."
    if kind in ("datetime_parsing", "datetime_from_date_parsing", "datetime_type"):
        return "Must be a date and time such as 2026-06-03T10:00."
    if kind == "value_error":
        return str(error.get("msg", "Invalid value.")).removeprefix("Value error, ").capitalize()
    return str(error.get("msg", "Invalid value."))
