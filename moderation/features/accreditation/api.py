"""The accreditation's JSON API under /api/v1: the list of applications,
the exports and sending invitations, with their OpenAPI operations (added
to the API's document through ``EXTRA_PATHS``). Every write is a command.
"""
from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import Field, ValidationError

from moderation.core import storable
from moderation.core.auth import Principal
from moderation.core.commands import Payload
from moderation.core.errors import InvalidPayload, NotFound, not_allowed, validation_details
from moderation.features.accreditation.delivery import deliver, zip_response
from moderation.features.accreditation.exports import (
    ListApplicationsQuery,
    list_applications,
    participant_rows,
    participants_csv,
    travel_csv,
)
from moderation.features.accreditation.invitations import SmtpSettings
from moderation.features.accreditation.web_shared import dialogue_values
from moderation.models import Dialogue, Role
from moderation.web.api import EXTRA_PATHS
from moderation.web.bodies import json_object, largest_json, sized
from moderation.web.principal import api_principal, service

api_bp = Blueprint("accreditation_api", __name__, url_prefix="/api/v1")


def require_reader(principal: Principal, dialogue_id: int) -> None:
    """Applications and personal data: the secretariat's only."""
    dialogue_values(dialogue_id)
    if Role.SECRETARIAT not in service().actor(principal, dialogue_id).roles:
        raise not_allowed(principal.anonymous, "Applications and personal data are for the secretariat only.")


@api_bp.get("/dialogues/<int:dialogue_id>/applications")
def listApplications(dialogue_id: int):  # noqa: N802 - the endpoint is the operationId
    principal = api_principal()
    require_reader(principal, dialogue_id)
    values = {k: v for k, v in request.args.items() if v != ""}
    try:
        query = ListApplicationsQuery.model_validate(values)
    except ValidationError as exc:
        raise InvalidPayload("Some filters are invalid.", validation_details(exc)) from None
    with service().db.session() as s:
        items = list_applications(s, dialogue_id, query)
    return jsonify({"ok": True, "applications": items, "total": len(items)})


def _csv(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="text/csv")
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@api_bp.get("/dialogues/<int:dialogue_id>/participants/export")
def exportParticipants(dialogue_id: int):  # noqa: N802
    principal = api_principal()
    require_reader(principal, dialogue_id)
    format_name = request.args.get("format", "csv")
    if format_name not in ("csv", "json"):
        raise NotFound(f"Unknown export format {format_name[:40]!r}.", {"formats": ["csv", "json"]})
    with service().db.session() as s:
        dialogue = s.get(Dialogue, dialogue_id)
        if format_name == "json":
            rows = participant_rows(s, dialogue)
            for row in rows:
                for key in ("invited_at", "delivered_at", "checked_in_at", "connected_at"):
                    row[key] = row[key].isoformat() if row[key] else None
            return jsonify({"ok": True, "participants": rows})
        return _csv(participants_csv(s, dialogue), f"participants-dialogue-{dialogue_id}.csv")


@api_bp.get("/dialogues/<int:dialogue_id>/travel-support/export")
def exportTravelSupport(dialogue_id: int):  # noqa: N802
    principal = api_principal()
    require_reader(principal, dialogue_id)
    with service().db.session() as s:
        return _csv(travel_csv(s, s.get(Dialogue, dialogue_id)), f"travel-support-dialogue-{dialogue_id}.csv")


class SendBody(Payload):
    participant_ids: list[int] | None = Field(default=None, max_length=2000,
                                              description="Default: everyone without a link yet.")
    delivery: Literal["auto", "email", "download"] = "auto"


@api_bp.post("/dialogues/<int:dialogue_id>/invitations/send")
@sized(largest_json(SendBody.model_json_schema()))
def sendInvitations(dialogue_id: int):  # noqa: N802
    principal = api_principal()
    body = json_object()
    storable.check(body)
    try:
        sending = SendBody.model_validate(body)
    except ValidationError as exc:
        raise InvalidPayload("Some fields are missing or invalid.", validation_details(exc)) from None
    ids, method = sending.participant_ids, sending.delivery
    if method == "auto":
        method = "email" if SmtpSettings.from_config(current_app.config) else "download"
    report = deliver(principal, dialogue_id, ids, method)
    if report["zip"] is not None:
        return zip_response(report["zip"], dialogue_id)
    return jsonify({"ok": True, "sent": report["sent"], "count": report["count"],
                    "failed": [{"participant_id": p, "name": report["names"][p], "reason": r}
                               for p, r in report["failed"].items()],
                    "message": report["message"]})


def openapi_paths(errors, path_params) -> dict[str, Any]:
    """The operations above, for /api/v1/openapi.json."""
    params = path_params("/dialogues/{dialogue_id}")
    query = [{"name": name, "in": "query", "required": False, "schema": schema, **(
        {"description": schema["description"]} if "description" in schema else {})}
             for name, schema in ListApplicationsQuery.model_json_schema()["properties"].items()]
    csv_ok = {"200": {"description": "CSV (UTF-8 with BOM)", "content": {"text/csv": {"schema": {"type": "string"}}}}}
    return {
        "/dialogues/{dialogue_id}/applications": {"get": {
            "operationId": "listApplications",
            "summary": "The applications to a dialogue, filtered and sorted (secretariat only: personal data).",
            "parameters": params + query,
            "responses": {"200": {"description": "The applications", "content": {"application/json": {"schema": {
                "type": "object", "required": ["ok", "applications", "total"],
                "properties": {"ok": {"type": "boolean"}, "total": {"type": "integer"},
                               "applications": {"type": "array", "items": {"type": "object"}}}}}}},
                **errors(401, 403, 404, 422)}}},
        "/dialogues/{dialogue_id}/participants/export": {"get": {
            "operationId": "exportParticipants",
            "summary": "Every participant with mode, invitation, check-in and travel support (CSV or JSON; "
                       "secretariat only).",
            "parameters": params + [{"name": "format", "in": "query", "required": False,
                                     "schema": {"type": "string", "enum": ["csv", "json"], "default": "csv"}}],
            "responses": {"200": {"description": "CSV (UTF-8 with BOM), or JSON with format=json", "content": {
                **csv_ok["200"]["content"], "application/json": {"schema": {
                    "type": "object", "required": ["ok", "participants"],
                    "properties": {"ok": {"type": "boolean"},
                                   "participants": {"type": "array", "items": {"type": "object"}}}}}}},
                **errors(401, 403, 404)}}},
        "/dialogues/{dialogue_id}/travel-support/export": {"get": {
            "operationId": "exportTravelSupport",
            "summary": "The organizations interested in travel support and the decisions (CSV; secretariat only).",
            "parameters": params, "responses": {**csv_ok, **errors(401, 403, 404)}}},
        "/dialogues/{dialogue_id}/invitations/send": {"post": {
            "operationId": "sendInvitations",
            "summary": "Issue invitation links and deliver them: by e-mail through the configured SMTP server, "
                       "or as a ZIP of one .eml per invitation plus invitations.csv.",
            "parameters": params,
            "requestBody": {"required": False, "content": {"application/json": {
                "schema": SendBody.model_json_schema()}}},
            "responses": {"200": {"description": "A report (e-mail) or the ZIP (download). Whoever was not "
                                                 "reached keeps the link they had.", "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "ok": {"type": "boolean"}, "count": {"type": "integer", "description": "Links issued."},
                    "sent": {"type": "array", "items": {"type": "integer"}, "description": "Participants reached."},
                    "failed": {"type": "array", "description": "Participants not reached, and why.", "items": {
                        "type": "object", "properties": {"participant_id": {"type": "integer"},
                                                         "name": {"type": "string"}, "reason": {"type": "string"}}}},
                    "message": {"type": "string"}}}},
                "application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                **errors(401, 403, 404, 409, 422)}}},
    }


EXTRA_PATHS.append(openapi_paths)
