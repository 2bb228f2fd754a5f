"""The JSON API under ``/api/v1``: one route per command plus a few reads,
and the OpenAPI 3 document generated from the same registry."""
from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, current_app, jsonify, request

from moderation.core.commands import REGISTRY, CommandSpec
from moderation.core.errors import CommandError, Forbidden, InvalidPayload, TooLarge, Unauthenticated
from moderation.core.reads import READS
from moderation.core.storable import INT_MAX, INT_MIN
from moderation.models import Dialogue, Role
from moderation.plugins import summary_exporters
from moderation.version import __version__
from moderation.web.bodies import body_limit, json_object, largest_json, sized
from moderation.web.principal import api_principal, service
from moderation.web.responses import error_response, file_response

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PREFIX = "/api/v1"
View = TypeVar("View", bound=Callable[..., Any])
OperationBuilder = Callable[[Callable[..., dict[str, Any]], Callable[[str], list[dict[str, Any]]]], dict[str, Any]]


def operation(build: OperationBuilder) -> Callable[[View], View]:
    """Describe a view served under /api/v1 that is not a command (a feature's
    reads, downloads): ``build(errors, path_params)`` returns its OpenAPI
    operation. The document finds such views by their routes; nobody lists them."""
    def attach(view: View) -> View:
        view.openapi_operation = build  # type: ignore[attr-defined]
        return view
    return attach


def read_query_parameters(name: str) -> list[dict[str, Any]]:
    """The query-string parameters of a declared read, from its query model."""
    query = READS[name].query
    if query is None:
        return []
    return [{"name": field, "in": "query", "required": False, "schema": schema,
             **({"description": schema["description"]} if "description" in schema else {})}
            for field, schema in query.model_json_schema()["properties"].items()]


def _found_operations() -> dict[str, dict[str, Any]]:
    """The operations of views marked with ``operation``, by path and method."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in current_app.url_map.iter_rules():
        build = getattr(current_app.view_functions[rule.endpoint], "openapi_operation", None)
        if build is None or not rule.rule.startswith(PREFIX + "/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len(PREFIX):])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = build(_errors, _path_params)
    return paths





@bp.errorhandler(CommandError)
def _command_error(exc: CommandError):
    return error_response(exc)


def _command_view(spec: CommandSpec):
    @sized(largest_json(spec.payload.model_json_schema()))
    def view(**path):
        payload = json_object()
        for key, value in path.items():
            if key in payload and payload[key] != value:
                raise InvalidPayload(f"{key} in the body differs from the path.")
            payload[key] = value
        principal = api_principal()  # public commands are limited per address by the service
        outcome = service().dispatch(principal, spec.name, payload, request.headers.get("Idempotency-Key"))
        return jsonify(outcome.ack())
    view.__name__ = spec.operation_id
    return view


def flask_rule(http_path: str) -> str:
    return re.sub(r"\{(\w+_id)\}", r"<int:\1>", http_path)


def route_commands() -> None:
    """One POST route per registered command, added once (before the
    blueprint is first registered: the features have loaded by then)."""
    if _ROUTED:
        return
    for spec in REGISTRY.values():
        bp.add_url_rule(flask_rule(spec.http_path), endpoint=spec.operation_id,
                        view_func=_command_view(spec), methods=["POST"])
        _ROUTED.add(spec.operation_id)


_ROUTED: set[str] = set()


@bp.get("/dialogues")
def listDialogues():  # noqa: N802 - the endpoint is the operationId
    principal = api_principal()
    if principal.anonymous:
        raise Unauthenticated("Sign in or send a bearer token.")
    svc = service()
    svc.actor(principal, None)  # an ended session or a revoked link is a 401, not an empty list
    with svc.db.session() as s:
        dialogues = s.query(Dialogue).order_by(Dialogue.starts_at, Dialogue.id).all()
        visible = []
        for dialogue in dialogues:
            try:
                roles = svc.actor(principal, dialogue.id).roles
            except CommandError:
                roles = frozenset()
            if roles:
                visible.append({"id": dialogue.id, "title": dialogue.title, "topic": dialogue.topic,
                                "kind": dialogue.kind, "version": dialogue.version,
                                "starts_at": dialogue.starts_at.isoformat() if dialogue.starts_at else None,
                                "roles": sorted(r.value for r in roles)})
    return jsonify({"ok": True, "dialogues": visible})


@bp.get("/dialogues/<int:dialogue_id>/snapshot")
def getSnapshot(dialogue_id: int):  # noqa: N802
    role = request.args.get("role")
    return jsonify({"ok": True, "snapshot": service().snapshot(api_principal(), dialogue_id, role)})


@bp.get("/dialogues/<int:dialogue_id>/queue")
def getQueue(dialogue_id: int):  # noqa: N802
    read = service().sections(api_principal(), dialogue_id, ("queue", "queue_staff"), request.args.get("role"))
    return jsonify({"ok": True, "version": read["version"], "queue": read["sections"]["queue"],
                    "details": read["sections"].get("queue_staff")})


@bp.get("/dialogues/<int:dialogue_id>/statistics")
def getSpeakingStatistics(dialogue_id: int):  # noqa: N802
    read = service().sections(api_principal(), dialogue_id, ("statistics",), request.args.get("role"))
    if "statistics" not in read["sections"]:
        raise Forbidden("Speaking statistics are for the secretariat, moderators and rapporteurs.")
    return jsonify({"ok": True, "version": read["version"], "statistics": read["sections"]["statistics"]})


@bp.get("/dialogues/<int:dialogue_id>/inputs")
def listInputs(dialogue_id: int):  # noqa: N802
    query = {k: v for k, v in request.args.items() if k != "role"}
    page = service().list_inputs(api_principal(), dialogue_id, query, request.args.get("role"))
    return jsonify({"ok": True, **page})


@bp.get("/dialogues/<int:dialogue_id>/summary/export")
def exportSummary(dialogue_id: int):  # noqa: N802
    exporter, data, filename = service().export(api_principal(), dialogue_id, request.args.get("format", "docx"))
    return file_response(exporter, data, filename)


@bp.get("/export-formats")
def listExportFormats():  # noqa: N802
    return jsonify({"ok": True, "formats": [
        {"name": e.name, "label": e.label, "extension": e.extension, "media_type": e.media_type}
        for e in summary_exporters(service().plugins).values()]})



@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.app_errorhandler(413)
def _too_large(_exc):
    if request.path.startswith("/api/"):
        return error_response(TooLarge("The request body is too large."))
    return "The request is too large.", 413


# -- OpenAPI -----------------------------------------------------------------------
ERROR_SCHEMA = {
    "type": "object", "required": ["ok", "error"],
    "properties": {"ok": {"type": "boolean", "enum": [False]},
                   "error": {"type": "object", "required": ["code", "message"],
                             "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                            "details": {}}}},
}
ACK_SCHEMA = {
    "type": "object", "required": ["ok", "version", "result", "replayed"],
    "properties": {"ok": {"type": "boolean", "enum": [True]},
                   "version": {"type": ["integer", "null"]},
                   "result": {"type": "object", "properties": {"secret_shown_once": {
                       "type": "boolean", "enum": [True],
                       "description": "In a replayed answer whose token, link or code was left out: it is "
                                      "shown once, in the first answer, and never stored."}}},
                   "replayed": {"type": "boolean"}},
}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Bad request", 401: "Not signed in, or the token was revoked", 403: "Not allowed",
            404: "Not found", 409: "Conflicts with the current state", 413: "Too large",
            422: "Invalid payload", 429: "Too many requests", 503: "Unavailable"}
    return {str(code): {"description": text[code],
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            for code in codes}


def _body_schema(spec: CommandSpec, components: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(spec.payload.model_json_schema(ref_template="#/components/schemas/{model}"))
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    for path_param in re.findall(r"\{(\w+)\}", spec.http_path):
        schema.get("properties", {}).pop(path_param, None)
        if path_param in schema.get("required", []):
            schema["required"].remove(path_param)
    if not schema.get("required"):
        schema.pop("required", None)
    name = spec.payload.__name__ if spec.payload.__name__ not in components else spec.operation_id + "Body"
    components[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


def _path_params(path: str) -> list[dict[str, Any]]:
    return [{"name": p, "in": "path", "required": True, "schema": {"type": "integer"}}
            for p in re.findall(r"\{(\w+)\}", path)]


def openapi_document() -> dict[str, Any]:
    components: dict[str, Any] = {"Error": ERROR_SCHEMA, "Ack": ACK_SCHEMA}
    paths: dict[str, Any] = {
        "/dialogues": {"get": {
            "operationId": "listDialogues", "summary": "Dialogues the caller holds a role in.",
            "responses": {"200": {"description": "The dialogues", "content": {"application/json": {
                "schema": {"type": "object", "required": ["ok", "dialogues"],
                           "properties": {"ok": {"type": "boolean"}, "dialogues": {"type": "array",
                                                                                     "items": {"type": "object"}}}}}}},
                **_errors(401)}}},
        "/dialogues/{dialogue_id}/snapshot": {"get": {
            "operationId": "getSnapshot",
            "summary": "The dialogue's current state as one role sees it, with its version.",
            "parameters": _path_params("/dialogues/{dialogue_id}") + [
                {"name": "role", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": [r.value for r in Role]}}],
            "responses": {"200": {"description": "The snapshot", "content": {"application/json": {
                "schema": {"type": "object", "required": ["ok", "snapshot"],
                           "properties": {"ok": {"type": "boolean"}, "snapshot": {"type": "object"}}}}}},
                **_errors(401, 403, 404, 422)}}},
    }
    for path, operation_id, summary, key in (
            ("/dialogues/{dialogue_id}/queue", "getQueue",
             "The current item's speaker queue in effective order (with notes and badges for staff).", "queue"),
            ("/dialogues/{dialogue_id}/statistics", "getSpeakingStatistics",
             "Interventions and speaking time by channel and category, per dialogue and per item.",
             "statistics")):
        paths[path] = {"get": {
            "operationId": operation_id, "summary": summary,
            "parameters": _path_params(path) + [{"name": "role", "in": "query", "required": False,
                                                  "schema": {"type": "string", "enum": [r.value for r in Role]}}],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                "type": "object", "required": ["ok", "version", key],
                "properties": {"ok": {"type": "boolean"}, "version": {"type": "integer"},
                               key: {"type": "object"}}}}}},
                **_errors(401, 403, 404, 422)}}}
    list_params = read_query_parameters("inputs.list")
    paths.setdefault("/dialogues/{dialogue_id}/inputs", {})["get"] = {
        "operationId": "listInputs",
        "summary": "One page of inputs, filtered and sorted, as the caller's role sees them.",
        "parameters": _path_params("/dialogues/{dialogue_id}") + list_params,
        "responses": {"200": {"description": "A page of inputs", "content": {"application/json": {"schema": {
            "type": "object", "required": ["ok", "items", "total", "page", "per_page"],
            "properties": {"ok": {"type": "boolean"}, "items": {"type": "array", "items": {"type": "object"}},
                           "total": {"type": "integer"}, "page": {"type": "integer"},
                           "per_page": {"type": "integer"}}}}}},
            **_errors(401, 403, 404, 422)}}
    paths["/dialogues/{dialogue_id}/summary/export"] = {"get": {
        "operationId": "exportSummary",
        "summary": "The draft summary as a file (DOCX, Markdown, HTML, JSON, CSV or XLSX).",
        "parameters": _path_params("/dialogues/{dialogue_id}") + [
            {"name": "format", "in": "query", "required": False,
             "description": "See listExportFormats; another is not found (404).",
             "schema": {"type": "string", "default": "docx", "enum": sorted(summary_exporters(service().plugins))}}],
        "responses": {"200": {"description": "The file", "content": _export_media_types()},
            **_errors(401, 403, 404)}}}
    paths["/export-formats"] = {"get": {
        "operationId": "listExportFormats", "summary": "The summary export formats (built in and from plugins).",
        "security": [],
        "responses": {"200": {"description": "The formats", "content": {"application/json": {"schema": {
            "type": "object", "required": ["ok", "formats"],
            "properties": {"ok": {"type": "boolean"}, "formats": {"type": "array", "items": {
                "type": "object", "required": ["name", "label", "extension", "media_type"],
                "properties": {k: {"type": "string"} for k in ("name", "label", "extension", "media_type")}}}}}}}}}}}
    for path, operations in _found_operations().items():
        paths.setdefault(path, {}).update(operations)
    for spec in sorted(REGISTRY.values(), key=lambda s: s.http_path):
        roles = "anyone (public)" if spec.public else ", ".join(sorted(r.value for r in spec.roles))
        paths.setdefault(spec.http_path, {})["post"] = {
            "operationId": spec.operation_id,
            "summary": spec.summary,
            "description": (f"{spec.description} " if spec.description else "")
                           + f"Command `{spec.name}`. Roles: {roles}. Socket.IO event: `{spec.name}`."
                           + (f" Shown once: {', '.join(f'`{n}`' for n in spec.secret)} (a replayed answer leaves "
                              "it out and says `secret_shown_once: true`)." if spec.secret else ""),
            "parameters": _path_params(spec.http_path) + [
                {"name": "Idempotency-Key", "in": "header", "required": False,
                 "description": "Repeat a write safely: the same key returns the first answer.",
                 "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_.:\-]{8,100}$"}}],
            "requestBody": {"required": False, "content": {"application/json": {
                "schema": _body_schema(spec, components)}}},
            "responses": {"200": {"description": "Committed (or replayed)", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Ack"}}}},
                **_errors(401, 403, 404, 409, 413, 422, 503)},
        }
    views = {rule.endpoint.rsplit(".", 1)[-1]: current_app.view_functions[rule.endpoint]   # by operationId
             for rule in current_app.url_map.iter_rules() if rule.rule.startswith(bp.url_prefix + "/")}
    for operations in paths.values():
        for operation in operations.values():
            # Any query string, form or body may hold a value no database stores (``storable``).
            operation["responses"].update({code: response for code, response in _errors(422).items()
                                           if code not in operation["responses"]})
            if "requestBody" in operation:
                _describe_limit(operation, views.get(operation["operationId"]))
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Moderation API", "version": __version__,
                 "description": "Every write is a named command; the same commands are Socket.IO events."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
    _bound_integers(document)
    return document


def _describe_limit(operation: dict[str, Any], view) -> None:
    """The body limit that the route enforces (``bodies``), in its words and
    as ``x-max-body-bytes``; a larger body is a 413."""
    limit = body_limit(getattr(view, "largest_body", None))
    operation["requestBody"]["description"] = (f"A JSON object (UTF-8) of at most {limit:,} bytes; an empty body "
                                               "counts as {}.")
    operation["requestBody"]["x-max-body-bytes"] = limit
    operation["responses"].update({code: response for code, response in _errors(413).items()
                                   if code not in operation["responses"]})


def _export_media_types() -> dict[str, Any]:
    """One entry per exporter (plugins add theirs), as the download is served."""
    media_types = {exporter.media_type.split(";")[0].strip()
                   for exporter in summary_exporters(service().plugins).values()}
    return {media_type: {"schema": {"type": "object"} if media_type == "application/json"
                         else {"type": "string", "format": "binary"}} for media_type in sorted(media_types)}


def _bound_integers(node: Any) -> None:
    """Every integer in the document within 64 bits, as the server checks
    (``storable``): clients and generated tests see the real limits."""
    if isinstance(node, dict):
        kinds = node.get("type")
        if kinds == "integer" or (isinstance(kinds, list) and "integer" in kinds):
            node.setdefault("format", "int64")
            if "minimum" not in node and "exclusiveMinimum" not in node:
                node["minimum"] = INT_MIN
            if "maximum" not in node and "exclusiveMaximum" not in node:
                node["maximum"] = INT_MAX
        for value in node.values():
            _bound_integers(value)
    elif isinstance(node, list):
        for value in node:
            _bound_integers(value)
