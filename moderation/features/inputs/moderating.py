"""Moderation by the chair: approving or hiding an input, and choosing the
one input the display shows."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import Conflict, InvalidPayload
from moderation.features.inputs.audiences import PUBLISHED
from moderation.features.inputs.handling import CHAIR, STAFF, InputPayload, Reason, changed, find_input, unpin
from moderation.models import InputStatus


class ModeratePayload(InputPayload):
    action: Literal["approve", "hide"]
    reason: Reason = ""


@command("inputs.moderate", payload=ModeratePayload, roles=CHAIR, operation_id="moderateInput",
         http_path="/dialogues/{dialogue_id}/inputs/moderate")
def moderate(ctx: Context, p: ModeratePayload):
    """Approve an input (publish it) or hide it with a reason."""
    inp = find_input(ctx, p.input_id)
    if inp.status not in (InputStatus.PENDING.value, PUBLISHED, InputStatus.HIDDEN.value):
        raise Conflict(f"This input is {inp.status}.")
    if p.action == "hide":
        if not p.reason:
            raise InvalidPayload("Say why the input is hidden.",
                               [{"field": "reason", "message": "required to hide"}])
        inp.status = InputStatus.HIDDEN.value
        unpin(ctx, inp)
    else:
        inp.status = PUBLISHED
        inp.flagged = ""
    inp.moderation_reason = p.reason
    inp.moderated_at = ctx.now
    inp.updated_at = ctx.now
    changed(ctx, inp)
    return {"input_id": inp.id, "status": inp.status}


class PinPayload(DialoguePayload):
    input_id: int | None = Field(description="The input to show on the display; null removes it.")


@command("inputs.pin", payload=PinPayload, roles=STAFF, operation_id="pinInput",
         http_path="/dialogues/{dialogue_id}/inputs/pin")
def pin(ctx: Context, p: PinPayload):
    """Show one published input on the display (or none)."""
    dialogue = ctx.require_dialogue()
    if p.input_id is not None:
        inp = find_input(ctx, p.input_id)
        if inp.status != PUBLISHED:
            raise Conflict("Only a published input can be shown on the display.")
    dialogue.pinned_input_id = p.input_id
    ctx.touch("pinned")
    return {"input_id": p.input_id}
