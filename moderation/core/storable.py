"""Values that every supported database can store.

SQLite binds whole numbers of at most 64 bits, PostgreSQL refuses text with
NUL characters, and the DOCX and XLSX exports (XML) cannot hold control
characters other than tab and line breaks. Each would fail later, as a
server error, instead of telling the caller that the input is wrong; so
payloads, list filters, forms, query strings and the numbers in URLs are
checked here first and refused as ``invalid_payload`` (a URL number out of
range is simply not found).

``SingleLine`` is the type of every one-line text field of every payload
(names, organizations, titles, the venue, e-mail addresses, codes, ...):
it refuses line breaks, tabs and every other control or separator
character, which would otherwise end up in e-mail headers, CSV rows,
Markdown headings or log lines, and the invisible characters that make a
name look empty, like another, or reversed. Multi-line texts (inputs, notes, summary
sections) are plain ``str`` and keep their line breaks; the list of them is
kept by ``tests/test_storable.py``, which walks every command's payload."""
from __future__ import annotations

import re
from typing import Annotated, Any

from flask import Flask, request
from pydantic import Field
from werkzeug.exceptions import NotFound

from moderation.core.errors import PATTERN_MESSAGES, InvalidPayload

INT_MIN, INT_MAX = -(2 ** 63), 2 ** 63 - 1
TOO_LARGE = f"Must be a whole number between {INT_MIN} and {INT_MAX}."
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
NOT_TEXT = "Text may not contain control characters (other than tabs and line breaks)."
# Unicode's control characters (C0 with tab, DEL, C1 with NEL U+0085) and
# the line and paragraph separators U+2028 and U+2029: every way to break a
# line. Leading and trailing white space is trimmed before the check.
# Also the characters that are not seen but change what is (names shown in
# lists, exported and sent by e-mail): the bidirectional embeddings,
# overrides and isolates U+202A-U+202E and U+2066-U+2069 (a name with a
# right-to-left override reverses the text after it), and the zero-width
# space, word joiner, invisible operators and byte-order mark (U+200B,
# U+2060-U+2064, U+FEFF), which make a name that looks empty or like another.
# The left-to-right and right-to-left marks and the zero-width (non-)joiners
# stay: scripts and emoji need them.
SINGLE_LINE_PATTERN = ("^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u200b\\u202a-\\u202e"
                       "\\u2060-\\u2064\\u2066-\\u2069\\ufeff]*$")
NOT_ONE_LINE = ("Must be one line of visible text: no line breaks, tabs, other control characters or "
                "invisible formatting characters.")


def fits(number: int) -> bool:
    return INT_MIN <= number <= INT_MAX


def first_problem(value: Any) -> dict[str, Any] | None:
    """The first value the databases cannot store, as ``{field, message}``
    (the field as a dotted path), or None. Walks without recursion: the
    nesting depth is the sender's choice."""
    stack: list[tuple[Any, tuple]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        field = ".".join(str(part) for part in path) or None
        if isinstance(item, bool):
            continue
        if isinstance(item, int):
            if not fits(item):
                return {"field": field, "message": TOO_LARGE}
        elif isinstance(item, str):
            if CONTROL.search(item):
                return {"field": field, "message": NOT_TEXT}
        elif isinstance(item, dict):
            for key, inner in item.items():
                if isinstance(key, str) and CONTROL.search(key):
                    return {"field": field, "message": NOT_TEXT}
                stack.append((inner, path + (key,)))
        elif isinstance(item, (list, tuple)):
            stack.extend((inner, path + (index,)) for index, inner in enumerate(item))
    return None


# A constraint of the string itself (not a validator around it), so that the
# field's other limits keep their own error messages, and the JSON schema
# (OpenAPI, docs/protocol.md) says what is refused.
SingleLine = Annotated[str, Field(pattern=SINGLE_LINE_PATTERN)]
PATTERN_MESSAGES[SINGLE_LINE_PATTERN] = NOT_ONE_LINE


def check(value: Any, message: str = "Some fields are missing or invalid.") -> None:
    problem = first_problem(value)
    if problem is not None:
        raise InvalidPayload(message, [problem])


def _in_range(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """A number in the URL that no database stores is not found. Checked once
    the route is chosen, not by the converter: a converter that refuses
    makes Werkzeug answer 405 when another route of the path takes another
    method."""
    if any(isinstance(value, int) and not fits(value) for value in (values or {}).values()):
        raise NotFound()


def _check_request() -> None:
    for source in (request.args, request.form):
        for key, values in source.lists():
            check({key: values}, "Some fields are missing or invalid.")


def init_app(app: Flask) -> None:
    """Bounded URL numbers, then the check of every query string and form."""
    app.url_value_preprocessor(_in_range)
    app.before_request(_check_request)
