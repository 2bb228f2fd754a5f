"""The errors a command raises: ``CommandError`` and one subclass per code
(``NotFound``, ``Forbidden``, ``Conflict``, ...). Every adapter turns them
into its own shape (an acknowledgement, a JSON 4xx, a CLI message) from the
code alone, so a new error type needs no change in any adapter."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pydantic

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

    @staticmethod
    def of(code: str, message: str, details: Any = None) -> CommandError:
        """The typed error for a code known only at run time (a plugin's
        verdict, a packet check)."""
        kind = _BY_CODE.get(code)
        return kind(message, details) if kind is not None else CommandError(code, message, details)


class _Typed(CommandError):
    code = "internal"

    def __init__(self, message: str, details: Any = None):
        super().__init__(type(self).code, message, details)


class InvalidPayload(_Typed):
    """The payload or a query does not have the documented shape."""
    code = "invalid_payload"


class Unauthenticated(_Typed):
    """Nobody is signed in, or the credential is not valid."""
    code = "unauthenticated"


class LinkRevoked(_Typed):
    """The personal link was revoked or has expired."""
    code = "link_revoked"


class Forbidden(_Typed):
    """Signed in, but the role does not allow it."""
    code = "forbidden"


class NotFound(_Typed):
    """No such record (or not one the caller may know of)."""
    code = "not_found"


class UnknownCommand(_Typed):
    """No command or event of that name."""
    code = "unknown_command"


class Conflict(_Typed):
    """The state does not allow it now (already done, out of turn, stale)."""
    code = "conflict"


class TooLarge(_Typed):
    """The request body is larger than the route allows."""
    code = "too_large"


class RateLimited(_Typed):
    """Too many attempts; ``details.retry_after`` says when to try again."""
    code = "rate_limited"


class Unavailable(_Typed):
    """The database cannot be reached for now."""
    code = "unavailable"


class ServerStopping(_Typed):
    """This server process is stopping; another one answers."""
    code = "server_stopping"


class Internal(_Typed):
    """Something failed on the server; nothing was stored."""
    code = "internal"


_BY_CODE: dict[str, type[_Typed]] = {kind.code: kind for kind in _Typed.__subclasses__()}


# What a pattern means, in words, for the patterns that have a name
# (``storable.SingleLine``); other patterns are "not in the expected format".
PATTERN_MESSAGES: dict[str, str] = {}


def validation_details(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    """A pydantic ValidationError as a short, JSON-safe list of
    ``{field, message}`` in words a person understands (the input is not echoed)."""
    return [{"field": ".".join(str(p) for p in e.get("loc", ())) or None, "message": _message(e)}
            for e in exc.errors()]


def _message(error: Mapping[str, Any]) -> str:  # noqa: C901 - one sentence per validation error type
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
        return PATTERN_MESSAGES.get(str(ctx.get("pattern")), "Not in the expected format.")
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


def not_allowed(anonymous: bool, message: str) -> CommandError:
    """Refused for want of a role: ``unauthenticated`` when nobody is signed
    in (signing in may help), ``forbidden`` otherwise."""
    return Unauthenticated(message) if anonymous else Forbidden(message)
