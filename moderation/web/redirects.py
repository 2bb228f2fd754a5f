"""Redirects to a target the client chose (``/login?next=``, a list's
filters kept after a form): the target must stay on this site.

A browser reads a ``Location`` more loosely than Python does: it drops tabs
and line breaks anywhere, reads ``\\`` as ``/``, and takes ``//host`` (or
``/\\host``) as another site. So a target is kept only when it is a path
that no such reading can turn into another site, and it is sent
percent-encoded (a line break would otherwise be a header injection)."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from werkzeug.urls import iri_to_uri


def same_site_path(target: object) -> str | None:
    """``target`` as a ``Location`` on this site, or None when it is not a
    plain path here (the caller then uses its default)."""
    if not isinstance(target, str) or not target.startswith("/") or target[1:2] in ("/", "\\"):
        return None
    if any(char <= " " or char in "\\\x7f" for char in target):
        return None
    location = iri_to_uri(target)
    return location if location.startswith("/") and location[1:2] != "/" else None


def with_query(path: str, query: object) -> str:
    """``path`` plus a query string the client sent back (e.g. the filters
    of the list it came from), re-encoded: its text cannot end the header
    or change where the path leads."""
    if not isinstance(query, str) or not query:
        return path
    pairs = parse_qsl(query.lstrip("?"), keep_blank_values=True)
    return f"{path}?{urlencode(pairs)}" if pairs else path
