"""The rapporteurs' work on inputs: themes and tagging, merging duplicates,
correcting wording, recording oral interventions, marking inputs addressed."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import delete, func, select

from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import Conflict, InvalidPayload, NotFound
from moderation.core.storable import SingleLine
from moderation.core.updates import assign_given
from moderation.features.inputs.audiences import PUBLISHED
from moderation.features.inputs.handling import (
    STAFF,
    WRITERS,
    InputPayload,
    KindName,
    Text,
    changed,
    clean_text,
    find_input,
    unpin,
)
from moderation.models import Endorsement, Input, InputRevision, InputStatus, InputTheme, SpeakerEntry, Theme


class ThemePayload(DialoguePayload):
    name: Annotated[SingleLine, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=2000)] = ""


@command("inputs.create_theme", payload=ThemePayload, roles=WRITERS, operation_id="createTheme",
         http_path="/dialogues/{dialogue_id}/themes")
def create_theme(ctx: Context, p: ThemePayload):
    """Create a theme to group inputs by."""
    return {"theme_id": new_theme(ctx, p.name, p.description).id}


def new_theme(ctx: Context, name: str, description: str = "") -> Theme:
    """A new theme of the dialogue, last in order; a name taken is a conflict."""
    dialogue = ctx.require_dialogue()
    if ctx.session.scalar(select(Theme).where(Theme.dialogue_id == dialogue.id, Theme.name == name)):
        raise Conflict(f"There is already a theme called {name!r}.")
    count = ctx.session.scalar(select(func.count()).where(Theme.dialogue_id == dialogue.id))
    theme = Theme(dialogue_id=dialogue.id, name=name, description=description, position=count)
    ctx.session.add(theme)
    ctx.session.flush()
    ctx.touch("themes")
    return theme


class UpdateThemePayload(DialoguePayload):
    theme_id: int
    name: Annotated[SingleLine, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    delete: bool = False


def find_theme(ctx: Context, theme_id: int) -> Theme:
    theme = ctx.session.get(Theme, theme_id)
    if theme is None or theme.dialogue_id != ctx.require_dialogue().id:
        raise NotFound(f"There is no theme {theme_id} in this dialogue.")
    return theme


@command("inputs.update_theme", payload=UpdateThemePayload, roles=WRITERS, operation_id="updateTheme",
         http_path="/dialogues/{dialogue_id}/themes/update")
def update_theme(ctx: Context, p: UpdateThemePayload):
    """Rename or describe a theme, or delete it (its inputs keep their other themes)."""
    theme = find_theme(ctx, p.theme_id)
    if p.delete:
        tagged = list(ctx.session.scalars(select(InputTheme.input_id).where(InputTheme.theme_id == theme.id)))
        ctx.session.execute(delete(InputTheme).where(InputTheme.theme_id == theme.id))
        ctx.session.delete(theme)
        for input_id in tagged:
            ctx.record("inputs", input_id)
    else:
        if p.name is not None and p.name != theme.name:
            if ctx.session.scalar(select(Theme).where(Theme.dialogue_id == theme.dialogue_id, Theme.name == p.name)):
                raise Conflict(f"There is already a theme called {p.name!r}.")
            theme.name = p.name
        assign_given(theme, p, "description")
    ctx.touch("themes")
    return {"theme_id": p.theme_id}


class TagPayload(InputPayload):
    theme_ids: list[int] = Field(max_length=50, description="All the input's themes (replaces the earlier ones).")


@command("inputs.tag", payload=TagPayload, roles=WRITERS, operation_id="tagInput",
         http_path="/dialogues/{dialogue_id}/inputs/tag")
def tag(ctx: Context, p: TagPayload):
    """Set the themes of an input."""
    inp = find_input(ctx, p.input_id)
    wanted = set(p.theme_ids)
    for theme_id in wanted:
        find_theme(ctx, theme_id)
    ctx.session.execute(delete(InputTheme).where(InputTheme.input_id == inp.id))
    for theme_id in sorted(wanted):
        ctx.session.add(InputTheme(input_id=inp.id, theme_id=theme_id))
    changed(ctx, inp, overview=False)
    ctx.touch("themes")
    return {"input_id": inp.id, "theme_ids": sorted(wanted)}


class MergePayload(DialoguePayload):
    target_id: int = Field(description="The input that stays.")
    source_ids: list[int] = Field(min_length=1, max_length=100, description="Duplicates merged into it.")


@command("inputs.merge", payload=MergePayload, roles=WRITERS, operation_id="mergeInputs",
         http_path="/dialogues/{dialogue_id}/inputs/merge")
def merge(ctx: Context, p: MergePayload):
    """Merge duplicates into one input: the originals are kept, with status `merged` and `merged_into_id`.

    The input that stays counts the people behind the point once each: every duplicate's author and
    endorsers become its endorsers (its own author never endorses it), so `endorsement_count` is the
    number of distinct participants other than its author. Themes are combined. Only published
    inputs are merged (a hidden one would come back, a pending one skip approval); what was merged into
    a duplicate is merged into the input that stays.
    """
    target = find_input(ctx, p.target_id)
    if target.status != PUBLISHED:
        raise Conflict(f"The input to keep is {target.status}: only published inputs are merged.")
    sources = [find_input(ctx, i) for i in dict.fromkeys(p.source_ids)]
    if any(s.id == target.id for s in sources):
        raise InvalidPayload("An input cannot be merged into itself.")
    for source in sources:
        # Published only: a hidden input would come back into the summary and
        # the figures, a pending one would skip the moderator's approval.
        if source.status != PUBLISHED:
            raise Conflict(f"Input {source.id} is {source.status}: only published inputs are merged.")
    endorsers = set(ctx.session.scalars(select(Endorsement.participant_id).where(Endorsement.input_id == target.id)))
    themes = set(ctx.session.scalars(select(InputTheme.theme_id).where(InputTheme.input_id == target.id)))
    for source in sources:
        for endorsement in ctx.session.scalars(select(Endorsement).where(Endorsement.input_id == source.id)):
            if endorsement.participant_id not in endorsers and endorsement.participant_id != target.participant_id:
                endorsers.add(endorsement.participant_id)
                ctx.session.add(Endorsement(input_id=target.id, participant_id=endorsement.participant_id,
                                            created_at=endorsement.created_at))
        # Someone whose own input is merged in supports the merged one too.
        if source.participant_id and source.participant_id not in endorsers \
                and source.participant_id != target.participant_id:
            endorsers.add(source.participant_id)
            ctx.session.add(Endorsement(input_id=target.id, participant_id=source.participant_id, created_at=ctx.now))
        for theme_id in ctx.session.scalars(select(InputTheme.theme_id).where(InputTheme.input_id == source.id)):
            if theme_id not in themes:
                themes.add(theme_id)
                ctx.session.add(InputTheme(input_id=target.id, theme_id=theme_id))
        source.status = InputStatus.MERGED.value
        source.merged_into_id = target.id
        source.updated_at = ctx.now
        unpin(ctx, source)
        # What was merged into the source is merged into the target now: one
        # step from every duplicate to the point that stays (their authors and
        # endorsers came with the source's endorsements above).
        for earlier in ctx.session.scalars(select(Input).where(Input.merged_into_id == source.id)):
            earlier.merged_into_id = target.id
            changed(ctx, earlier, overview=False)
    target.endorsement_count = len(endorsers)
    target.updated_at = ctx.now
    changed(ctx, target, *sources)
    ctx.touch("themes")
    return {"input_id": target.id, "merged_ids": [s.id for s in sources], "endorsements": len(endorsers)}


class CorrectPayload(InputPayload):
    text: Text


@command("inputs.correct", payload=CorrectPayload, roles=WRITERS, operation_id="correctInput",
         http_path="/dialogues/{dialogue_id}/inputs/correct")
def correct(ctx: Context, p: CorrectPayload):
    """Correct an input's wording; the author's original is kept."""
    inp = find_input(ctx, p.input_id)
    text = clean_text(p.text)
    if not text:
        raise InvalidPayload("The text is empty.", [{"field": "text", "message": "empty"}])
    if text != inp.text:
        ctx.session.add(InputRevision(input_id=inp.id, text=inp.text, replaced_by="rapporteur", replaced_at=ctx.now))
        if inp.original_text is None:
            inp.original_text = inp.text
        inp.text = text
        inp.moderated_at = inp.moderated_at or ctx.now
        inp.updated_at = ctx.now
    changed(ctx, inp, overview=False)
    return {"input_id": inp.id}


class OralPayload(DialoguePayload):
    speaker_entry_id: int
    text: Text
    kind: KindName = "comment"


@command("inputs.record_oral", payload=OralPayload, roles=WRITERS, operation_id="recordOralIntervention",
         http_path="/dialogues/{dialogue_id}/inputs/oral")
def record_oral(ctx: Context, p: OralPayload):
    """Record the key points of an oral intervention as an input linked to it and its speaker."""
    entry = ctx.session.get(SpeakerEntry, p.speaker_entry_id)
    if entry is None or entry.dialogue_id != ctx.require_dialogue().id:
        raise NotFound("There is no such intervention in this dialogue.")
    if entry.started_at is None:
        raise Conflict("That speaker has not had the floor yet.")
    text = clean_text(p.text)
    if not text:
        raise InvalidPayload("The text is empty.", [{"field": "text", "message": "empty"}])
    inp = Input(dialogue_id=entry.dialogue_id, agenda_item_id=entry.agenda_item_id,
                participant_id=entry.participant_id, speaker_entry_id=entry.id, author_name=entry.name,
                organization=entry.organization, category=entry.category, channel=entry.channel, named=True,
                kind=p.kind, source="oral", text=text, status=PUBLISHED, flagged="", endorsement_count=0,
                addressed=False, moderated_at=ctx.now, created_at=ctx.now, updated_at=ctx.now)
    ctx.session.add(inp)
    ctx.session.flush()
    changed(ctx, inp)
    return {"input_id": inp.id}


class AddressedPayload(InputPayload):
    addressed: bool = True


@command("inputs.mark_addressed", payload=AddressedPayload, roles=STAFF, operation_id="markInputAddressed",
         http_path="/dialogues/{dialogue_id}/inputs/addressed")
def mark_addressed(ctx: Context, p: AddressedPayload):
    """Mark an input as addressed (answered by the panel, taken into the summary), or not."""
    inp = find_input(ctx, p.input_id)
    inp.addressed = p.addressed
    inp.updated_at = ctx.now
    changed(ctx, inp, overview=False)
    return {"input_id": inp.id, "addressed": inp.addressed}
