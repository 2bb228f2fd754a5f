"""The assistant's reads under /api/v1, each with its OpenAPI operation (the
API's document finds them by their routes). The actions are commands
(``commands``), routed like every other."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from moderation.features.assist.reads import STAFF_ONLY
from moderation.web.api import operation, read_query_parameters
from moderation.web.principal import api_principal, service

api_bp = Blueprint("assist_api", __name__, url_prefix="/api/v1")
INPUTS = {"type": "array", "items": {"type": "object"},
          "description": "The inputs named in the answer, as the caller's role sees them."}
BACKEND = {"type": "object", "properties": {"name": {"type": "string"}, "label": {"type": "string"}}}


def _described(operation_id: str, summary: str, read: str, required: list[str], properties: dict[str, Any]):
    """The OpenAPI operation of one of the assistant's reads."""
    return lambda errors, path_params: {
        "operationId": operation_id, "summary": summary,
        "description": f"Read `{read}` (also a Socket.IO event of that name). {STAFF_ONLY}",
        "parameters": path_params("/dialogues/{dialogue_id}") + read_query_parameters(read),
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
            "type": "object", "required": ["ok", "backend", *required],
            "properties": {"ok": {"type": "boolean"}, "backend": BACKEND, "inputs": INPUTS, **properties}}}}},
            **errors(401, 403, 404, 422)}}


def _query(*lists: str) -> dict[str, Any]:
    """The query string as the read's query: ``a=1&a=2`` or ``a=1,2`` for lists, blanks left out."""
    values: dict[str, Any] = {k: v for k, v in request.args.items() if v != "" and k not in lists and k != "role"}
    for name in lists:
        given = [part for value in request.args.getlist(name) for part in value.split(",") if part.strip()]
        if given:
            values[name] = [part.strip() for part in given]
    return values


def _read(dialogue_id: int, name: str, *lists: str):
    found = service().read(api_principal(), dialogue_id, name, _query(*lists), request.args.get("role"))
    return jsonify({"ok": True, **found})


CANDIDATE = {"type": "object", "required": ["input_id", "score", "likely"], "properties": {
    "input_id": {"type": "integer"}, "score": {"type": "number"}, "likely": {"type": "boolean"}}}


@api_bp.get("/dialogues/<int:dialogue_id>/assist/duplicates")
@operation(_described(
    "listPossibleDuplicates", "Possible duplicates: of one input (input_id), or the most likely ones of the dialogue.",
    "assist.duplicates",
    ["items", "total", "thresholds"],
    {"thresholds": {"type": "object", "properties": {"likely": {"type": "number"}, "shown": {"type": "number"}}},
     "total": {"type": "integer"},
     "items": {"type": "array", "items": {"type": "object", "required": ["input_id", "candidates"], "properties": {
         "input_id": {"type": "integer"}, "candidates": {"type": "array", "items": CANDIDATE}}}}}))
def listPossibleDuplicates(dialogue_id: int):  # noqa: N802 - the endpoint is the operationId
    return _read(dialogue_id, "assist.duplicates")


@api_bp.get("/dialogues/<int:dialogue_id>/assist/themes")
@operation(_described(
    "listThemeSuggestions", "The most likely themes of every untagged input, from the inputs already tagged.",
    "assist.theme_suggestions", ["items", "total"],
    {"total": {"type": "integer"}, "themes_with_examples": {"type": "array", "items": {"type": "integer"}},
     "items": {"type": "array", "items": {"type": "object", "required": ["input_id", "themes"], "properties": {
         "input_id": {"type": "integer"}, "themes": {"type": "array", "items": {"type": "object", "properties": {
             "theme_id": {"type": "integer"}, "name": {"type": "string"},
             "score": {"type": "number"}}}}}}}}))
def listThemeSuggestions(dialogue_id: int):  # noqa: N802
    return _read(dialogue_id, "assist.theme_suggestions")


@api_bp.get("/dialogues/<int:dialogue_id>/assist/clusters")
@operation(_described(
    "listThemeClusters", "Themes found from scratch among the untagged inputs (or among input_ids, to split one).",
    "assist.theme_clusters", ["clusters"],
    {"clusters": {"type": "array", "items": {"type": "object", "required": ["label", "terms", "central_input_id",
                                                                          "input_ids"], "properties": {
        "label": {"type": "string"}, "terms": {"type": "array", "items": {"type": "string"}},
        "central_input_id": {"type": "integer"},
        "input_ids": {"type": "array", "items": {"type": "integer"}}}}}}))
def listThemeClusters(dialogue_id: int):  # noqa: N802
    return _read(dialogue_id, "assist.theme_clusters", "input_ids")
