"""The accreditation's JSON API under /api/v1: the list of applications,
the exports and sending invitations, each with its OpenAPI operation (the
API's document finds them by their routes). The reads are declared in
``reads``; every write is a command.
"""
from __future__ import annotations

from typing import Literal

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import Field, ValidationError

from moderation.core import storable
from moderation.core.commands import Payload
from moderation.core.errors import InvalidPayload, validation_details
from moderation.features.accreditation.delivery import deliver, zip_response
from moderation.features.accreditation.invitations import SmtpSettings
from moderation.features.accreditation.reads import PARTICIPANT_FORMATS
from moderation.web.api import operation, read_query_parameters
from moderation.web.bodies import json_object, largest_json, sized
from moderation.web.principal import api_principal, service

api_bp = Blueprint("accreditation_api", __name__, url_prefix="/api/v1")
CSV_OK = {"description": "CSV (UTF-8 with BOM)", "content": {"text/csv": {"schema": {"type": "string"}}}}


@api_bp.get("/dialogues/<int:dialogue_id>/applications")
@operation(lambda errors, path_params: {
    "operationId": "listApplications",
    "summary": "The applications to a dialogue, filtered and sorted (secretariat only: personal data).",
    "parameters": path_params("/dialogues/{dialogue_id}") + read_query_parameters("accreditation.applications"),
    "responses": {"200": {"description": "The applications", "content": {"application/json": {"schema": {
        "type": "object", "required": ["ok", "applications", "total"],
        "properties": {"ok": {"type": "boolean"}, "total": {"type": "integer"},
                       "applications": {"type": "array", "items": {"type": "object"}}}}}}},
        **errors(401, 403, 404, 422)}})
def listApplications(dialogue_id: int):  # noqa: N802 - the endpoint is the operationId
    values = {k: v for k, v in request.args.items() if v != ""}
    items = service().read(api_principal(), dialogue_id, "accreditation.applications", values)
    return jsonify({"ok": True, "applications": items, "total": len(items)})


def _csv(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="text/csv")
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@api_bp.get("/dialogues/<int:dialogue_id>/participants/export")
@operation(lambda errors, path_params: {
    "operationId": "exportParticipants",
    "summary": "Every participant with mode, invitation, check-in and travel support (CSV or JSON; "
               "secretariat only).",
    "parameters": path_params("/dialogues/{dialogue_id}") + [{
        "name": "format", "in": "query", "required": False,
        "schema": {"type": "string", "enum": list(PARTICIPANT_FORMATS), "default": "csv"}}],
    "responses": {"200": {"description": "CSV (UTF-8 with BOM), or JSON with format=json", "content": {
        **CSV_OK["content"], "application/json": {"schema": {
            "type": "object", "required": ["ok", "participants"],
            "properties": {"ok": {"type": "boolean"},
                           "participants": {"type": "array", "items": {"type": "object"}}}}}}},
        **errors(401, 403, 404)}})
def exportParticipants(dialogue_id: int):  # noqa: N802
    format_name = request.args.get("format", "csv")
    exported = service().read(api_principal(), dialogue_id, "accreditation.participants", {"format": format_name})
    if isinstance(exported, bytes):
        return _csv(exported, f"participants-dialogue-{dialogue_id}.csv")
    for row in exported:
        for key in ("invited_at", "delivered_at", "checked_in_at", "connected_at"):
            row[key] = row[key].isoformat() if row[key] else None
    return jsonify({"ok": True, "participants": exported})


@api_bp.get("/dialogues/<int:dialogue_id>/travel-support/export")
@operation(lambda errors, path_params: {
    "operationId": "exportTravelSupport",
    "summary": "The organizations interested in travel support and the decisions (CSV; secretariat only).",
    "parameters": path_params("/dialogues/{dialogue_id}"), "responses": {"200": CSV_OK, **errors(401, 403, 404)}})
def exportTravelSupport(dialogue_id: int):  # noqa: N802
    data = service().read(api_principal(), dialogue_id, "accreditation.travel_support")
    return _csv(data, f"travel-support-dialogue-{dialogue_id}.csv")


class SendBody(Payload):
    participant_ids: list[int] | None = Field(default=None, max_length=2000,
                                              description="Default: everyone without a link yet.")
    delivery: Literal["auto", "email", "download"] = "auto"


@api_bp.post("/dialogues/<int:dialogue_id>/invitations/send")
@operation(lambda errors, path_params: {
    "operationId": "sendInvitations",
    "summary": "Issue invitation links and deliver them: by e-mail through the configured SMTP server, "
               "or as a ZIP of one .eml per invitation plus invitations.csv.",
    "parameters": path_params("/dialogues/{dialogue_id}"),
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
        **errors(401, 403, 404, 409, 422)}})
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
