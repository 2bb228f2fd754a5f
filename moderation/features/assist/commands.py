"""What the rapporteur does with the assistant's suggestions, one command
each: dismiss a pair of possible duplicates (merging is ``inputs.merge``),
accept suggested themes for inputs, accept a theme found from scratch
(under its suggested name or another). Nothing is applied without one of
these."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator
from sqlalchemy import select

from moderation.core.commands import Context, DialoguePayload, Payload, command
from moderation.core.storable import SingleLine
from moderation.features.assist.assistant import COMPARED
from moderation.features.assist.suggestions import pair
from moderation.features.inputs.handling import STAFF, WRITERS, changed, find_input
from moderation.features.inputs.rapporteurs import find_theme, new_theme
from moderation.models import DismissedPair, Input, InputTheme, Theme


class DismissPayload(DialoguePayload):
    input_id: int
    other_id: int

    @model_validator(mode="after")
    def _two_inputs(self) -> DismissPayload:
        if self.input_id == self.other_id:
            raise ValueError("An input is not a duplicate of itself: name two inputs.")
        return self


@command("assist.dismiss_duplicate", payload=DismissPayload, roles=STAFF, operation_id="dismissDuplicate",
         http_path="/dialogues/{dialogue_id}/assist/duplicates/dismiss")
def dismiss_duplicate(ctx: Context, p: DismissPayload):
    """Say that two inputs make different points: the pair is never proposed as duplicates again."""
    one, other = find_input(ctx, p.input_id), find_input(ctx, p.other_id)
    first, second = pair(one.id, other.id)
    known = ctx.session.scalar(select(DismissedPair).where(DismissedPair.first_id == first,
                                                           DismissedPair.second_id == second))
    if known is None:
        ctx.session.add(DismissedPair(dialogue_id=ctx.require_dialogue().id, first_id=first, second_id=second,
                                      dismissed_by=ctx.actor.label[:200]))
        # The change names both, so that every staff screen showing the pair reads its suggestions again.
        changed(ctx, one, other, overview=False)
    return {"input_ids": [first, second], "already": known is not None}


class Assignment(Payload):
    """One input and the theme to add to it (checked as strictly as a payload)."""

    input_id: int
    theme_id: int


class AcceptThemesPayload(DialoguePayload):
    assignments: list[Assignment] = Field(min_length=1, max_length=500,
                                          description="Each input with one theme to add to its themes.")


def _add_themes(ctx: Context, wanted: list[tuple[Input, Theme]]) -> tuple[int, list[int]]:
    """Add each theme to its input (keeping the input's other themes): how
    many were new, and the inputs left out because they are no longer among
    those the suggestions are made for (hidden, withdrawn or merged since)."""
    skipped = sorted({inp.id for inp, _ in wanted if inp.status not in COMPARED})
    wanted = [(inp, theme) for inp, theme in wanted if inp.status in COMPARED]
    ids = sorted({inp.id for inp, _ in wanted})
    existing = {(row.input_id, row.theme_id) for row in ctx.session.execute(
        select(InputTheme.input_id, InputTheme.theme_id).where(InputTheme.input_id.in_(ids)))}
    added = 0
    for inp, theme in wanted:
        if (inp.id, theme.id) in existing:
            continue
        existing.add((inp.id, theme.id))
        ctx.session.add(InputTheme(input_id=inp.id, theme_id=theme.id))
        changed(ctx, inp, overview=False)
        added += 1
    ctx.touch("themes")
    return added, skipped


@command("assist.accept_themes", payload=AcceptThemesPayload, roles=WRITERS, operation_id="acceptThemes",
         http_path="/dialogues/{dialogue_id}/assist/themes/accept")
def accept_themes(ctx: Context, p: AcceptThemesPayload):
    """Accept suggested themes: each input gets its theme added, for one input or a whole batch at once.

    Inputs hidden, withdrawn or merged since the suggestion are left out and listed in `skipped`.
    """
    wanted = [(find_input(ctx, a.input_id), find_theme(ctx, a.theme_id)) for a in p.assignments]
    added, skipped = _add_themes(ctx, wanted)
    return {"added": added, "skipped": skipped}


class AcceptClusterPayload(DialoguePayload):
    input_ids: list[int] = Field(min_length=1, max_length=2000, description="The inputs of the suggested theme.")
    name: Annotated[SingleLine, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="A new theme's name (the suggested label, or another).")
    theme_id: int | None = Field(default=None, description="Or an existing theme to add the inputs to.")

    @model_validator(mode="after")
    def _one_theme(self) -> AcceptClusterPayload:
        if (self.name is None) == (self.theme_id is None):
            raise ValueError("Give either a name for a new theme or the id of an existing one.")
        return self


@command("assist.accept_cluster", payload=AcceptClusterPayload, roles=WRITERS, operation_id="acceptCluster",
         http_path="/dialogues/{dialogue_id}/assist/clusters/accept")
def accept_cluster(ctx: Context, p: AcceptClusterPayload):
    """Accept a theme found from scratch: a new theme (named as suggested or renamed) or an existing one, given to its inputs.

    Inputs hidden, withdrawn or merged since the suggestion are left out and listed in `skipped`.
    """
    inputs = [find_input(ctx, input_id) for input_id in dict.fromkeys(p.input_ids)]
    theme = find_theme(ctx, p.theme_id) if p.theme_id is not None else new_theme(ctx, p.name or "")
    added, skipped = _add_themes(ctx, [(inp, theme) for inp in inputs])
    return {"theme_id": theme.id, "added": added, "skipped": skipped}
