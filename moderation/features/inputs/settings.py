"""The secretariat's input settings: moderation before or after publication,
the length limit and the written-input window with its deadline."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import InvalidPayload
from moderation.core.localtime import DateTime, instant
from moderation.core.updates import assign_given
from moderation.models import Role


class InputSettingsPayload(DialoguePayload):
    moderation_mode: Literal["pre", "post"] | None = Field(
        default=None, description="`pre`: new inputs wait for approval; `post`: visible at once, can be hidden.")
    max_chars: int | None = Field(default=None, ge=100, le=10_000)
    window_opens_local: DateTime | None = Field(
        default=None, description="Local date and time (dialogue's time zone) the written-input window opens.")
    window_closes_local: DateTime | None = Field(
        default=None, description="Local date and time of the deadline.")
    close_window: bool = Field(default=False, description="true removes the written-input window.")


@command("inputs.configure", payload=InputSettingsPayload, roles={Role.SECRETARIAT},
         operation_id="configureInputs", http_path="/dialogues/{dialogue_id}/inputs/settings")
def configure(ctx: Context, p: InputSettingsPayload):
    """Set the moderation mode, the length limit and the written-input window with its deadline."""
    dialogue = ctx.require_dialogue()
    assign_given(dialogue, p, "moderation_mode", max_input_chars="max_chars")
    if p.close_window:
        dialogue.input_window_opens_at = dialogue.input_window_closes_at = None
    elif p.window_opens_local is not None or p.window_closes_local is not None:
        opens = instant(p.window_opens_local, dialogue.timezone, "window_opens_local") if p.window_opens_local \
            else dialogue.input_window_opens_at or ctx.now
        # Moving only the opening keeps the deadline already set.
        closes = instant(p.window_closes_local, dialogue.timezone, "window_closes_local") \
            if p.window_closes_local else dialogue.input_window_closes_at
        if closes is None:
            raise InvalidPayload("Give the deadline.",
                               [{"field": "window_closes_local", "message": "required"}])
        if closes <= opens:
            raise InvalidPayload("The deadline must come after the opening.",
                               [{"field": "window_closes_local", "message": "before the opening"}])
        dialogue.input_window_opens_at, dialogue.input_window_closes_at = opens, closes
    ctx.touch("input_settings")
    return {"moderation_mode": dialogue.moderation_mode}
