"""Dialogues: creating them, their settings, and what every screen shows of them."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import Field, field_validator

from moderation.core.auth import hash_token
from moderation.core.commands import Context, DialoguePayload, Payload, command
from moderation.core.errors import Forbidden, InvalidPayload
from moderation.core.localtime import DateTime, instant
from moderation.core.storable import SingleLine
from moderation.core.updates import assign_given
from moderation.features.access.join_codes import keys_of
from moderation.features.agenda.commands import ms
from moderation.models import TOPICS, Dialogue, DialogueKind, Format, Role

Kind = Literal["preparation_day", "constructive_dialogue"]
FormatName = Literal["hybrid", "in_person", "online"]


def topic_label(topic: str) -> str:
    return TOPICS.get(topic, topic)


def default_title(kind: str, topic: str) -> str:
    prefix = "Multistakeholder Preparation Day" if kind == DialogueKind.PREPARATION_DAY.value \
        else "Constructive Dialogue"
    return f"{prefix} on {topic_label(topic)}"


def local_start(dialogue: Dialogue) -> dt.datetime | None:
    if dialogue.starts_at is None:
        return None
    return dialogue.starts_at.astimezone(ZoneInfo(dialogue.timezone))


def deadline_warnings(dialogue: Dialogue, field: str = "deadline") -> list[dict[str, str]]:
    """What is odd about the application deadline, as ``{field, code,
    message}`` for the field just changed: a deadline after the dialogue's
    start (``deadline_after_start``) would take applications while the
    dialogue runs. Warned, not refused: the secretariat may mean it."""
    deadline, start = dialogue.application_deadline, dialogue.starts_at
    if deadline is None or start is None or deadline <= start:
        return []
    when = start.astimezone(ZoneInfo(dialogue.timezone))
    zone = dialogue.application_timezone or dialogue.timezone
    until = deadline.astimezone(ZoneInfo(zone))
    starts = f"{when.day} {when:%B %Y}, {when:%H:%M} {dialogue.timezone} time"
    if field == "deadline":
        message = (f"This deadline is after the dialogue starts ({starts}): applications would still come in "
                   "while it runs. Set one before the start, or keep this one on purpose.")
    else:
        message = (f"The deadline for applications ({until.day} {until:%B %Y}, {until:%H:%M} "
                   f"{zone} time) is after this start: applications would still come in "
                   "while the dialogue runs. Move the deadline on the Applications page, or keep it on purpose.")
    return [{"field": field, "code": "deadline_after_start", "message": message}]


def dialogue_section(session, dialogue: Dialogue, now, plugins, role=None) -> dict[str, Any]:
    start = local_start(dialogue)
    return {
        "id": dialogue.id,
        "title": dialogue.title,
        "topic": dialogue.topic,
        "topic_label": topic_label(dialogue.topic),
        "kind": dialogue.kind,
        "prepares_id": dialogue.prepares_id,
        "starts_at": ms(dialogue.starts_at),
        "local_start": start.isoformat() if start else None,
        "timezone": dialogue.timezone,
        "venue": dialogue.venue,
        "format": dialogue.format,
        "join_enabled": dialogue.join_enabled,
        # Not secret: the display asks for the new code and QR value when it changes.
        "join_generation": dialogue.join_generation or 0,
    }


class DialogueFields(Payload):
    title: Annotated[SingleLine, Field(max_length=300)] | None = None
    topic: Annotated[SingleLine, Field(min_length=1, max_length=200,
                                description="One of " + ", ".join(TOPICS) + ", or free text.")] | None = None
    kind: Kind | None = None
    prepares_id: int | None = Field(default=None, description="For a Preparation Day: the dialogue it prepares.")
    local_start: DateTime | None = Field(
        default=None, description="Local date and time of the start in `timezone` (ISO 8601 without offset; "
                                  "with an offset it names the instant).")
    timezone: Annotated[SingleLine, Field(max_length=64)] | None = None
    venue: Annotated[SingleLine, Field(max_length=300)] | None = None
    format: FormatName | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value):
        if value is not None and value not in available_timezones():
            raise ValueError("not a known IANA time zone (for example Europe/Vienna)")
        return value


class CreateDialoguePayload(DialogueFields):
    topic: Annotated[SingleLine, Field(min_length=1, max_length=200)]


class UpdateDialoguePayload(DialogueFields, DialoguePayload):
    pass


def _apply(ctx: Context, dialogue: Dialogue, p: DialogueFields) -> None:
    assign_given(dialogue, p, "topic", "kind", "venue", "format", "timezone")
    if p.prepares_id is not None:
        target = ctx.session.get(Dialogue, p.prepares_id)
        if target is None or target.id == dialogue.id:
            raise InvalidPayload("The dialogue to prepare does not exist.",
                               [{"field": "prepares_id", "message": "unknown dialogue"}])
        dialogue.prepares_id = target.id
    if p.local_start is not None:
        dialogue.starts_at = instant(p.local_start, dialogue.timezone, "local_start")
    if p.title:
        dialogue.title = p.title
    elif not dialogue.title:
        dialogue.title = default_title(dialogue.kind, dialogue.topic)


@command("dialogue.create", payload=CreateDialoguePayload, roles={Role.SECRETARIAT},
         operation_id="createDialogue", http_path="/dialogues")
def create_dialogue(ctx: Context, p: CreateDialoguePayload):
    """Create a dialogue (a Constructive Dialogue or a Preparation Day)."""
    if not ctx.actor.is_admin:
        raise Forbidden("Only the secretariat may create dialogues.")
    dialogue = Dialogue(title="", topic=p.topic, kind=p.kind or DialogueKind.CONSTRUCTIVE_DIALOGUE.value,
                        timezone=p.timezone or "Europe/Vienna", format=p.format or Format.HYBRID.value,
                        venue=p.venue or "", version=1, join_enabled=False, created_at=ctx.now)
    _apply(ctx, dialogue, p)
    ctx.session.add(dialogue)
    ctx.session.flush()
    ctx.dialogue = dialogue
    return {"dialogue_id": dialogue.id}


@command("dialogue.update", payload=UpdateDialoguePayload, roles={Role.SECRETARIAT},
         operation_id="updateDialogue", http_path="/dialogues/{dialogue_id}/settings")
def update_dialogue(ctx: Context, p: UpdateDialoguePayload):
    """Change a dialogue's title, topic, date, time zone, venue or format; warns of a deadline after the start.

    The answer's `warnings` list `{field, code, message}`: `deadline_after_start` (field `local_start`) when the
    deadline for applications is after the (new) start."""
    dialogue = ctx.require_dialogue()
    _apply(ctx, dialogue, p)
    ctx.touch("dialogue", "agenda", "queue")
    return {"dialogue_id": p.dialogue_id, "warnings": deadline_warnings(dialogue, "local_start")}


class JoinCodePayload(DialoguePayload):
    enabled: bool
    code: Annotated[str, Field(min_length=6, max_length=40, pattern=r"^[A-Za-z0-9-]+$")] | None = Field(
        default=None, description="A code of your own to give out (kept as a hash: shown only in this answer). "
                                  "Default: a generated 8-character code, which the secretariat's page and the "
                                  "display show at any time.")


@command("dialogue.configure_join", payload=JoinCodePayload, roles={Role.SECRETARIAT},
         operation_id="configureJoinCode", http_path="/dialogues/{dialogue_id}/join-code", redact=("code",),
         secret=("code",))
def configure_join(ctx: Context, p: JoinCodePayload):
    """Allow or stop joining with a code plus name and organization.

    Each call that turns joining on issues a new code: the previous code and
    every QR value the display showed for it stop working. A generated code
    is derived from the server's secret key and never stored; a code of
    your own is stored as a hash."""
    dialogue = ctx.require_dialogue()
    dialogue.join_enabled = p.enabled
    code = None
    if p.enabled:
        dialogue.join_generation = (dialogue.join_generation or 0) + 1
        if p.code:
            code, dialogue.join_code_hash = p.code, hash_token(p.code.upper())
        else:
            dialogue.join_code_hash = None
            code = keys_of(ctx).code(dialogue.id, dialogue.join_generation)
    ctx.touch("dialogue")
    return {"enabled": p.enabled, "code": code}
