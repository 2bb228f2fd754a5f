"""Request bodies: the one reader of the API's JSON bodies, and how large
each route's body may be.

Whatever a client sends, the answer is a documented error, never a server
error: a body that is not UTF-8 JSON, not an object, or nested deeper than
any payload is (Python's parser would otherwise recurse until it fails)
is ``invalid_payload``.

Each route may take ``MAX_PAYLOAD_BYTES`` plus the largest body that its
documented schema allows, so that every documented limit can be reached (a
delegate list of 500,000 characters, 5,000 participant ids) while a route
that takes a few fields keeps the small limit. A character is counted as 6
bytes: the most UTF-8 takes is 4, and a client that escapes non-ASCII text
(``\u00e9``, Python's and ``requests``' default) spends 6. Only characters
outside the Basic Multilingual Plane sent as two escapes (12 bytes) can make
a body at its character limits too large; sent as UTF-8 they fit."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request

from moderation.core.errors import InvalidPayload

MAX_DEPTH = 32            # no payload nests deeper than a few levels
BYTES_PER_CHARACTER = 6   # \uXXXX; UTF-8 takes at most 4
NOT_AN_OBJECT = "The body must be a JSON object (Content-Type: application/json)."


def json_object() -> dict[str, Any]:
    """The request's body as a JSON object; an empty body is ``{}``."""
    if not request.is_json:
        if request.content_length or request.form or request.files or request.get_data(cache=True):
            raise InvalidPayload(NOT_AN_OBJECT)
        return {}
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise InvalidPayload("The body must be UTF-8 text.") from None
    try:
        data = json.loads(text, parse_constant=_not_json)
    except RecursionError:
        raise InvalidPayload(f"The body is nested more than {MAX_DEPTH} levels deep.") from None
    except ValueError as exc:
        raise InvalidPayload(f"The body is not valid JSON ({_short(exc)}).") from None
    if not isinstance(data, dict):
        raise InvalidPayload(NOT_AN_OBJECT)
    if depth(data) > MAX_DEPTH:
        raise InvalidPayload(f"The body is nested more than {MAX_DEPTH} levels deep.")
    return data


def _not_json(constant: str):
    raise ValueError(f"{constant} is not a JSON number")


def _short(exc: ValueError) -> str:
    return str(exc).split(":")[0][:80]


def depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar is 0);
    walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, level)
        stack.extend((inner, level + 1) for inner in item if isinstance(inner, (dict, list)))
    return deepest


# -- sizes ----------------------------------------------------------------------------------------
def largest_json(schema: dict[str, Any], definitions: dict[str, Any] | None = None) -> int | None:
    """The most bytes a compact JSON text valid against ``schema`` can take,
    or None when the schema sets no bound (a string without maxLength, a
    list without maxItems, an object open to other properties)."""
    definitions = schema.get("$defs", {}) if definitions is None else definitions

    def size(node: dict[str, Any], seen: tuple[str, ...]) -> int | None:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return None if name in seen else size(definitions[name], seen + (name,))
        for key in ("anyOf", "oneOf", "allOf"):
            if key in node:
                return _most(size(option, seen) for option in node[key])
        if "const" in node:
            return _encoded(node["const"])
        if "enum" in node:
            return max(_encoded(value) for value in node["enum"])
        kind = node.get("type")
        if isinstance(kind, list):
            return _most(size({**node, "type": one}, seen) for one in kind)
        if kind == "string":
            return 2 + BYTES_PER_CHARACTER * node["maxLength"] if "maxLength" in node else None
        if kind == "integer":
            return max(len(str(node.get("minimum", -(2 ** 63)))), len(str(node.get("maximum", 2 ** 63 - 1))))
        if kind == "number":
            return 24
        if kind in ("boolean", "null"):
            return 5
        if kind == "array":
            item = size(node.get("items", {}), seen)
            return None if item is None or "maxItems" not in node else 2 + node["maxItems"] * (item + 1)
        if kind == "object" and node.get("additionalProperties") is False:
            fields = [(_encoded(name), size(value, seen)) for name, value in node.get("properties", {}).items()]
            return None if any(s is None for _, s in fields) else 2 + sum(k + 1 + s + 1 for k, s in fields)
        return None

    return size(schema, ())


def _most(sizes) -> int | None:
    found = list(sizes)
    return None if not found or None in found else max(found)


def _encoded(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def body_limit(largest: int | None) -> int:
    """The body limit of a route whose largest valid body is ``largest``."""
    return current_app.config["MAX_PAYLOAD_BYTES"] + (largest or 0)


def sized(largest: int | None) -> Callable:
    """Declare a view's largest valid body (bytes); see ``body_limit``."""
    def mark(view):
        view.largest_body = largest
        return view
    return mark


def _prepare(endpoint: str | None, _values) -> None:
    """Before the body is read (form parsing included): this route's limit.
    A chunked body without a length is refused: eventlet and gevent do not
    tell Werkzeug where it ends, so it would be read as empty and the
    request would run without what the client sent."""
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower() and request.content_length is None \
            and not request.environ.get("wsgi.input_terminated"):
        raise InvalidPayload("Send the body with a Content-Length header: a chunked body is "
                                              "not read. Nothing was changed.")
    largest = getattr(current_app.view_functions.get(endpoint), "largest_body", None)
    if largest:
        request.max_content_length = body_limit(largest)
        request.max_form_memory_size = body_limit(largest)


def init_app(app: Flask) -> None:
    app.url_value_preprocessor(_prepare)
