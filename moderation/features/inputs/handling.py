"""What the inputs' command handlers share: the field types of their payloads,
finding the input a command is about, cleaning text, unpinning, and marking
an input changed (so that the display follows an edit of the pinned one)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from moderation.core.commands import Context, DialoguePayload
from moderation.core.errors import NotFound
from moderation.models import Input, Role

STAFF = {Role.SECRETARIAT, Role.MODERATOR, Role.RAPPORTEUR}
CHAIR = {Role.SECRETARIAT, Role.MODERATOR}
WRITERS = {Role.SECRETARIAT, Role.RAPPORTEUR}
HARD_MAX_CHARS = 20_000  # above any configurable limit; keeps payloads small
KindName = Literal["comment", "suggestion", "question", "statement"]
Text = Annotated[str, Field(min_length=1, max_length=HARD_MAX_CHARS)]
Reason = Annotated[str, Field(max_length=300)]


class InputPayload(DialoguePayload):
    input_id: int


def find_input(ctx: Context, input_id: int) -> Input:
    inp = ctx.session.get(Input, input_id)
    if inp is None or inp.dialogue_id != ctx.require_dialogue().id:
        raise NotFound(f"There is no input {input_id} in this dialogue.")
    return inp


def changed(ctx: Context, *inputs: Input, overview: bool = True) -> None:
    pinned = ctx.require_dialogue().pinned_input_id
    for inp in inputs:
        ctx.record("inputs", inp.id)
        if inp.id == pinned:  # the display shows it: an edit, a correction, a count
            ctx.touch("pinned")
    if overview:
        ctx.touch("inputs_overview")


def clean_text(text: str) -> str:
    """Plain text with line breaks: one kind of line break, no trailing blanks."""
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")).strip()


def unpin(ctx: Context, inp: Input) -> None:
    dialogue = ctx.require_dialogue()
    if dialogue.pinned_input_id == inp.id:
        dialogue.pinned_input_id = None
        ctx.touch("pinned")
