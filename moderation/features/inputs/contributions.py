"""Participants' own inputs: submitting (through the input filters), editing
and withdrawing until a moderator acts, and endorsing others' inputs."""
from __future__ import annotations

from typing import Literal

from pydantic import Field
from sqlalchemy import select

from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import CommandError, Conflict, Forbidden, NotFound
from moderation.core.updates import assign_given
from moderation.features.inputs.audiences import PUBLISHED
from moderation.features.inputs.handling import InputPayload, KindName, Text, changed, clean_text, find_input, unpin
from moderation.features.inputs.window import STATEMENT_MAX_WORDS, agenda_state, check_window
from moderation.models import AgendaItem, Category, Endorsement, Input, InputKind, InputRevision, InputStatus, Participant, Role
from moderation.plugins import FilterVerdict, InputDraft, filters_in_order


def _filter(ctx: Context, draft: InputDraft) -> FilterVerdict | None:
    """Run every input filter: the first refusal stops; else the strongest
    of hold and flag."""
    strongest = None
    for input_filter in ctx.memoized("input_filters", lambda: filters_in_order(ctx.plugins)):
        verdict = input_filter.check(draft, ctx.session)
        if verdict is None or verdict.action == "accept":
            continue
        if verdict.action == "refuse":
            raise CommandError.of(verdict.code, verdict.message,
                               [{"field": "text", "message": verdict.message, "filter": input_filter.name}])
        if strongest is None or (verdict.action == "hold" and strongest.action == "flag"):
            strongest = verdict
    return strongest


def _draft(ctx: Context, participant_id: int | None, kind: str, text: str, input_id: int | None = None):
    dialogue = ctx.require_dialogue()
    return InputDraft(dialogue_id=dialogue.id, participant_id=participant_id, kind=kind, text=text,
                      max_chars=dialogue.max_input_chars, max_words=STATEMENT_MAX_WORDS, input_id=input_id)


def _own(ctx: Context, inp: Input) -> None:
    if inp.participant_id is None or inp.participant_id != ctx.actor.participant_id:
        raise Forbidden("This is not your input.")
    if inp.moderated_at is not None or inp.status not in (InputStatus.PENDING.value, PUBLISHED):
        raise Conflict("A moderator has acted on this input; it can no longer be changed "
                                       "or withdrawn by its author.")
    if ctx.session.scalar(select(Input.id).where(Input.merged_into_id == inp.id).limit(1)) is not None:
        # Other people's inputs were merged into it: it is their point too.
        raise Conflict("The rapporteur has merged other inputs into this one; it can no longer be changed "
                       "or withdrawn by its author.")


class SubmitPayload(DialoguePayload):
    kind: KindName = "comment"
    text: Text
    attach_to: Literal["current", "dialogue"] | int = Field(
        default="current", description="`current`: the running agenda item (the dialogue as a whole when none "
        "runs); `dialogue`: the dialogue as a whole; or an agenda item id.")
    named: bool = Field(default=True, description="Show your name and organization to others; false shows "
                                                  "'A participant' (the secretariat still sees who wrote it).")


@command("inputs.submit", payload=SubmitPayload, roles={Role.PARTICIPANT}, operation_id="submitInput",
         http_path="/dialogues/{dialogue_id}/inputs", grouped=True)
def submit(ctx: Context, p: SubmitPayload):
    """Submit a comment, a suggestion to States parties, a question to the panel or a written statement."""
    dialogue = ctx.require_dialogue()
    participant = ctx.session.get(Participant, ctx.actor.participant_id) \
        if ctx.actor.participant_id is not None else None
    if participant is None:
        raise Forbidden("Only registered participants can submit inputs.")
    ctx.rate_limit("inputs", participant.id)
    live, current_item_id = ctx.memoized("agenda_state", lambda: agenda_state(ctx.session, dialogue.id))
    check_window(ctx, p.kind, live)
    text = clean_text(p.text)
    verdict = _filter(ctx, _draft(ctx, participant.id, p.kind, text))
    if p.attach_to == "current":
        item_id = current_item_id
    elif p.attach_to == "dialogue":
        item_id = None
    else:
        item = ctx.session.get(AgendaItem, p.attach_to)
        if item is None or item.dialogue_id != dialogue.id:
            raise NotFound("That agenda item is not on this dialogue's agenda.")
        item_id = item.id
    held = dialogue.moderation_mode == "pre" or (verdict is not None and verdict.action == "hold")
    org = participant.organization
    inp = Input(dialogue_id=dialogue.id, agenda_item_id=item_id, participant_id=participant.id,
                author_name=participant.name, organization=org.name if org else "",
                category=org.category if org else Category.OTHER.value, channel=participant.channel,
                named=p.named, kind=p.kind, source="participant", text=text,
                status=InputStatus.PENDING.value if held else PUBLISHED,
                flagged=verdict.message[:300] if verdict else "", endorsement_count=0, addressed=False,
                created_at=ctx.now, updated_at=ctx.now)
    ctx.session.add(inp)
    ctx.session.flush()
    changed(ctx, inp)
    return {"input_id": inp.id, "status": inp.status}


class EditPayload(DialoguePayload):
    input_id: int
    text: Text
    kind: KindName | None = None
    named: bool | None = None


@command("inputs.edit", payload=EditPayload, roles={Role.PARTICIPANT}, operation_id="editInput",
         http_path="/dialogues/{dialogue_id}/inputs/edit")
def edit(ctx: Context, p: EditPayload):
    """Change your own input (until a moderator has acted on it or others were merged into it); the earlier wording is kept."""
    inp = find_input(ctx, p.input_id)
    _own(ctx, inp)
    kind = p.kind or inp.kind
    if kind != inp.kind and InputKind.STATEMENT.value in (kind, inp.kind):
        check_window(ctx, kind)
    text = clean_text(p.text)
    verdict = _filter(ctx, _draft(ctx, inp.participant_id, kind, text, input_id=inp.id))
    if text != inp.text:
        ctx.session.add(InputRevision(input_id=inp.id, text=inp.text, replaced_by="author", replaced_at=ctx.now))
        inp.text = text
    inp.kind = kind
    assign_given(inp, p, "named")
    if verdict is not None:
        inp.flagged = verdict.message[:300]
        if verdict.action == "hold":
            inp.status = InputStatus.PENDING.value
    inp.updated_at = ctx.now
    changed(ctx, inp)
    return {"input_id": inp.id, "status": inp.status}


@command("inputs.withdraw", payload=InputPayload, roles={Role.PARTICIPANT}, operation_id="withdrawInput",
         http_path="/dialogues/{dialogue_id}/inputs/withdraw")
def withdraw(ctx: Context, p: InputPayload):
    """Withdraw your own input (until a moderator has acted on it or others were merged into it)."""
    inp = find_input(ctx, p.input_id)
    _own(ctx, inp)
    inp.status = InputStatus.WITHDRAWN.value
    inp.updated_at = ctx.now
    unpin(ctx, inp)
    changed(ctx, inp)
    return {"input_id": inp.id}


class EndorsePayload(InputPayload):
    endorse: bool = Field(default=True, description="false takes an endorsement back.")


@command("inputs.endorse", payload=EndorsePayload, roles={Role.PARTICIPANT}, operation_id="endorseInput",
         http_path="/dialogues/{dialogue_id}/inputs/endorse", grouped=True)
def endorse(ctx: Context, p: EndorsePayload):
    """Endorse another participant's published input (once), or take the endorsement back."""
    inp = find_input(ctx, p.input_id)
    if inp.status != PUBLISHED:
        raise Conflict("Only published inputs can be endorsed.")
    if inp.participant_id == ctx.actor.participant_id:
        raise Forbidden("You cannot endorse your own input.")
    existing = ctx.session.scalar(select(Endorsement).where(
        Endorsement.input_id == inp.id, Endorsement.participant_id == ctx.actor.participant_id))
    if p.endorse and existing is None:
        ctx.session.add(Endorsement(input_id=inp.id, participant_id=ctx.actor.participant_id, created_at=ctx.now))
        inp.endorsement_count += 1
    elif not p.endorse and existing is not None:
        ctx.session.delete(existing)
        inp.endorsement_count -= 1
    changed(ctx, inp, overview=False)
    return {"input_id": inp.id, "endorsements": inp.endorsement_count, "endorsed": p.endorse}
