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


def validation_details(exc) -> list[dict[str, Any]]:
    """A pydantic ValidationError as a short, JSON-safe list (no input echo)."""
    return [{"field": ".".join(str(p) for p in e.get("loc", ())) or None,
             "message": e.get("msg", "invalid")} for e in exc.errors()]
