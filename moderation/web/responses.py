"""Answers shared by the HTTP adapters: a command error as JSON and a file
download with its own content policy."""
from __future__ import annotations

from flask import Response, jsonify

from moderation.core.attempts import retry_after_header
from moderation.core.errors import CommandError


def error_response(exc: CommandError):
    """The error as the API documents it, with its status (and Retry-After when slowed down)."""
    response = jsonify({"ok": False, "error": exc.to_dict()})
    response.status_code = exc.status
    return retry_after_header(response, exc)


def file_response(exporter, data: bytes, filename: str):
    """A download; HTML gets its own policy (its inline print styles, no scripts)."""
    response = Response(data, mimetype=exporter.media_type.split(";")[0])
    if exporter.media_type.startswith("text/"):
        response.charset = "utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'unsafe-inline'; sandbox; "
                                                   "frame-ancestors 'none'")
    return response
