"""Participant inputs: comments, suggestions to States parties, questions to
the panel and written statements; their moderation, endorsements, themes and
the rapporteurs' work on them.

Not one input may be lost: an input is acknowledged only once committed, and
the client's idempotency key makes a retry safe (see ``moderation.core.execution``).
What each audience sees of an input is decided in ``input_view``: the
organization is always recorded, but only the secretariat and the author see
it when the author chose to appear as "a participant".
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, select

from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import CommandError, Conflict, Forbidden, InvalidPayload, NotFound
from moderation.core.localtime import DateTime, instant
from moderation.core.storable import SingleLine
from moderation.core.timers import ms
from moderation.models import (
    CATEGORY_LABELS,
    INPUT_KIND_LABELS,
    AgendaItem,
    Category,
    Dialogue,
    Endorsement,
    Input,
    InputKind,
    InputRevision,
    InputStatus,
    InputTheme,
    ItemStatus,
    Participant,
    Role,
    SpeakerEntry,
    Theme,
)
from moderation.plugins import FilterVerdict, InputDraft, filters_in_order

STAFF = {Role.SECRETARIAT, Role.MODERATOR, Role.RAPPORTEUR}
CHAIR = {Role.SECRETARIAT, Role.MODERATOR}
WRITERS = {Role.SECRETARIAT, Role.RAPPORTEUR}
PUBLISHED = InputStatus.PUBLISHED.value
STATEMENT_MAX_WORDS = 1500
HARD_MAX_CHARS = 20_000  # above any configurable limit; keeps payloads small
KindName = Literal["comment", "suggestion", "question", "statement"]
Text = Annotated[str, Field(min_length=1, max_length=HARD_MAX_CHARS)]
Reason = Annotated[str, Field(max_length=300)]
ANONYMOUS_LABEL = "A participant"


# -- what each audience sees ----------------------------------------------------------
def audience_for(role: Role | None) -> str:
    if role is Role.SECRETARIAT:
        return "secretariat"
    if role in (Role.MODERATOR, Role.RAPPORTEUR):
        return "staff"
    return "public"


def input_view(inp: Input, audience: str, theme_ids: list[int] | None = None) -> dict[str, Any]:
    """``audience``: public (participants, display), staff (moderators,
    rapporteurs), secretariat, or author (the participant who wrote it)."""
    identified = inp.named or audience in ("secretariat", "author")
    view: dict[str, Any] = {
        "id": inp.id,
        "kind": inp.kind,
        "kind_label": INPUT_KIND_LABELS.get(InputKind(inp.kind), inp.kind),
        "text": inp.text,
        "agenda_item_id": inp.agenda_item_id,
        "status": inp.status,
        "named": inp.named,
        "author": inp.author_name if identified else ANONYMOUS_LABEL,
        "organization": inp.organization if identified else "",
        "endorsements": inp.endorsement_count,
        "addressed": inp.addressed,
        "source": inp.source,
        "corrected": inp.original_text is not None,
        "created_at": ms(inp.created_at),
        "updated_at": ms(inp.updated_at),
    }
    if audience != "public" or inp.named:
        view["category"] = inp.category
        view["category_label"] = CATEGORY_LABELS.get(Category(inp.category), inp.category)
    if audience in ("staff", "secretariat"):
        view.update({"channel": inp.channel, "flagged": inp.flagged, "moderation_reason": inp.moderation_reason,
                     "original_text": inp.original_text, "merged_into_id": inp.merged_into_id,
                     "speaker_entry_id": inp.speaker_entry_id, "theme_ids": theme_ids or [],
                     # Moderators and rapporteurs see the participants list: an id
                     # would name the author of an anonymous input.
                     "participant_id": inp.participant_id if identified else None})
    if audience == "author":
        view.update({"moderation_reason": inp.moderation_reason, "merged_into_id": inp.merged_into_id,
                     "editable": inp.moderated_at is None and inp.status in (InputStatus.PENDING.value, PUBLISHED)})
    return view


def themes_of(session, input_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {i: [] for i in input_ids}
    if input_ids:
        for input_id, theme_id in session.execute(select(InputTheme.input_id, InputTheme.theme_id).where(
                InputTheme.input_id.in_(input_ids)).order_by(InputTheme.theme_id)):
            found[input_id].append(theme_id)
    return found


def _themes_once(session, input_ids: list[int]) -> dict[int, list[int]]:
    """``themes_of``, asked once per session for the same inputs: a change
    builds the staff view and the secretariat's view of the same records."""
    cache = session.info.setdefault("input_themes", {})
    key = tuple(sorted(input_ids))
    if key not in cache:
        cache[key] = themes_of(session, list(key))
    return cache[key]


def views(session, inputs: list[Input], audience: str) -> list[dict[str, Any]]:
    themes = _themes_once(session, [i.id for i in inputs]) if audience in ("staff", "secretariat") else {}
    return [input_view(i, audience, themes.get(i.id)) for i in inputs]


def input_records(session, input_ids: list[int], role: Role) -> list[dict[str, Any]]:
    """Changed inputs as ``role`` sees them, for change messages. They are
    in the session already (the command wrote them, the change builder
    loaded them), so ``get`` finds them without another query."""
    inputs = [inp for inp in (session.get(Input, i) for i in input_ids) if inp is not None]
    return views(session, inputs, audience_for(role))


def visible_to(inp: Input, audience: str) -> bool:
    return audience != "public" or inp.status == PUBLISHED


# -- the written-input window ------------------------------------------------------------
def agenda_state(session, dialogue_id: int) -> tuple[bool, int | None]:
    """Whether the live session is on (from the first item's start until
    every item is done) and the current (running or paused) item, from one
    small query: a submission asks both."""
    live_started = live_unfinished = False
    current = None
    for item_id, status, started_at in session.execute(
            select(AgendaItem.id, AgendaItem.status, AgendaItem.started_at)
            .where(AgendaItem.dialogue_id == dialogue_id).order_by(AgendaItem.position)):
        live_started = live_started or started_at is not None
        live_unfinished = live_unfinished or status != ItemStatus.DONE.value
        if current is None and status in (ItemStatus.RUNNING.value, ItemStatus.PAUSED.value):
            current = item_id
    return live_started and live_unfinished, current


def session_live(session, dialogue_id: int) -> bool:
    return agenda_state(session, dialogue_id)[0]


def window_open(dialogue: Dialogue, now: dt.datetime) -> bool:
    opens, closes = dialogue.input_window_opens_at, dialogue.input_window_closes_at
    return opens is not None and closes is not None and opens <= now < closes


def _local(dialogue: Dialogue, moment: dt.datetime | None) -> str | None:
    return moment.astimezone(ZoneInfo(dialogue.timezone)).isoformat(timespec="minutes") if moment else None


def input_settings_section(session, dialogue: Dialogue, now, plugins, role=None) -> dict[str, Any]:
    live = session_live(session, dialogue.id)
    written = window_open(dialogue, now)
    return {
        "moderation_mode": dialogue.moderation_mode,
        "max_chars": dialogue.max_input_chars,
        "statement_max_words": STATEMENT_MAX_WORDS,
        "window_opens_at": ms(dialogue.input_window_opens_at),
        "window_closes_at": ms(dialogue.input_window_closes_at),
        "window_opens_local": _local(dialogue, dialogue.input_window_opens_at),
        "window_closes_local": _local(dialogue, dialogue.input_window_closes_at),
        "timezone": dialogue.timezone,
        "live": live,
        "written_window_open": written,
        "accepting": live or written,
    }


def _check_window(ctx: Context, kind: str, live: bool | None = None) -> None:
    dialogue = ctx.require_dialogue()
    written = window_open(dialogue, ctx.now)
    if kind == InputKind.STATEMENT.value:
        if not written:
            raise Conflict("Written statements are accepted while the written-input window is "
                                           "open" + _window_text(dialogue) + ".")
        return
    if live is None:
        live = session_live(ctx.session, dialogue.id)
    if not written and not live:
        raise Conflict("Inputs are not being accepted now: they are open during the live "
                                       "session and while the written-input window is open"
                                       + _window_text(dialogue) + ".")


def _window_text(dialogue: Dialogue) -> str:
    if dialogue.input_window_opens_at and dialogue.input_window_closes_at:
        return (f" ({_local(dialogue, dialogue.input_window_opens_at)} to "
                f"{_local(dialogue, dialogue.input_window_closes_at)}, {dialogue.timezone})")
    return ""


# -- overview sections -------------------------------------------------------------------------
def _status_counts(session, dialogue: Dialogue) -> dict[str, int]:
    """Inputs by status. A change message needs them up to four times (three
    staff roles and the public hint): they are counted once per session and
    dialogue version. Sections are built after a command's writes (or in a
    read-only session), so the counts cannot change within one version."""
    cache = session.info.setdefault("input_status_counts", {})
    key = (dialogue.id, dialogue.version)
    if key not in cache:
        cache[key] = dict(session.execute(select(Input.status, func.count()).where(
            Input.dialogue_id == dialogue.id).group_by(Input.status)).all())
    return cache[key]


def overview_section(session, dialogue: Dialogue, now, plugins, role=None) -> dict[str, Any]:
    counts = dict(_status_counts(session, dialogue))
    if audience_for(role) == "public":
        return {"published": counts.get(PUBLISHED, 0)}
    return {"published": counts.get(PUBLISHED, 0), "by_status": counts, "total": sum(counts.values())}


def themes_section(session, dialogue: Dialogue, now, plugins, role=None) -> list[dict[str, Any]]:
    rows = session.execute(select(Theme, func.count(InputTheme.input_id)).outerjoin(
        InputTheme, InputTheme.theme_id == Theme.id).where(Theme.dialogue_id == dialogue.id)
        .group_by(Theme.id).order_by(Theme.position, Theme.id)).all()
    return [{"id": t.id, "name": t.name, "description": t.description, "inputs": count} for t, count in rows]


def pinned_section(session, dialogue: Dialogue, now, plugins, role=None) -> dict[str, Any] | None:
    if dialogue.pinned_input_id is None:
        return None
    inp = session.get(Input, dialogue.pinned_input_id)
    if inp is None or inp.status != PUBLISHED:
        return None
    return input_view(inp, "public")


def my_inputs(session, participant_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(Input).where(Input.participant_id == participant_id, Input.source == "participant")
                           .order_by(Input.created_at.desc(), Input.id.desc()).limit(200))
    return [input_view(i, "author") for i in rows]


# -- listing ---------------------------------------------------------------------------------------
SORTS = {"time": Input.created_at, "endorsements": Input.endorsement_count}


class ListQuery(BaseModel):
    """Filters, sort and page for listing inputs (query string or event data)."""

    model_config = ConfigDict(extra="forbid")
    item: Annotated[str, Field(pattern=r"^(dialogue|[0-9]{1,10})$",
                               description="An agenda item id, or `dialogue` for the dialogue as a whole.")] | None = None
    kind: KindName | None = None
    theme: int | None = Field(default=None, ge=1)
    status: Literal["pending", "published", "hidden", "withdrawn", "merged"] | None = None
    category: Literal["ngo_ecosoc", "ngo", "academia", "private_sector", "state_party", "igo", "other"] | None = None
    min_endorsements: int | None = Field(default=None, ge=0)
    sort: Literal["time", "endorsements"] = "time"
    order: Literal["asc", "desc"] = "desc"
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=50, ge=1, le=200)


def list_inputs(session, dialogue_id: int, role: Role, *, item: str | None = None, kind: str | None = None,
                theme: int | None = None, status: str | None = None, category: str | None = None,
                min_endorsements: int | None = None, sort: str = "time", order: str = "desc",
                page: int = 1, per_page: int = 50, participant_id: int | None = None) -> dict[str, Any]:
    """One page of inputs as ``role`` may see them, filtered and sorted in
    the database (indexes on dialogue, status, time and endorsements). For a
    participant (``participant_id``) each item also says whether they have
    endorsed it, so that any of their devices can offer to take it back."""
    audience = audience_for(role)
    query = select(Input).where(Input.dialogue_id == dialogue_id)
    if audience == "public":
        query = query.where(Input.status == PUBLISHED)
    elif status:
        query = query.where(Input.status == status)
    else:
        query = query.where(Input.status != InputStatus.WITHDRAWN.value)
    if item == "dialogue":
        query = query.where(Input.agenda_item_id.is_(None))
    elif item:
        query = query.where(Input.agenda_item_id == int(item))
    if kind:
        query = query.where(Input.kind == kind)
    if theme is not None:
        query = query.where(Input.id.in_(select(InputTheme.input_id).where(InputTheme.theme_id == theme)))
    if category:
        query = query.where(Input.category == category)
        if audience == "public":
            query = query.where(Input.named.is_(True))
    if min_endorsements:
        query = query.where(Input.endorsement_count >= min_endorsements)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    column = SORTS.get(sort, Input.created_at)
    ordering = (column.asc(), Input.id.asc()) if order == "asc" else (column.desc(), Input.id.desc())
    rows = list(session.scalars(query.order_by(*ordering).offset((page - 1) * per_page).limit(per_page)))
    items = views(session, rows, audience)
    if participant_id is not None and rows:
        mine = set(session.scalars(select(Endorsement.input_id).where(
            Endorsement.participant_id == participant_id, Endorsement.input_id.in_([r.id for r in rows]))))
        for item in items:
            item["endorsed_by_me"] = item["id"] in mine
    return {"items": items, "total": total, "page": page, "per_page": per_page}


# -- helpers for handlers ---------------------------------------------------------------------------
def _input(ctx: Context, input_id: int) -> Input:
    inp = ctx.session.get(Input, input_id)
    if inp is None or inp.dialogue_id != ctx.require_dialogue().id:
        raise NotFound(f"There is no input {input_id} in this dialogue.")
    return inp


def _changed(ctx: Context, *inputs: Input, overview: bool = True) -> None:
    pinned = ctx.require_dialogue().pinned_input_id
    for inp in inputs:
        ctx.record("inputs", inp.id)
        if inp.id == pinned:  # the display shows it: an edit, a correction, a count
            ctx.touch("pinned")
    if overview:
        ctx.touch("inputs_overview")


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


def clean_text(text: str) -> str:
    """Plain text with line breaks: one kind of line break, no trailing blanks."""
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")).strip()


def _own(ctx: Context, inp: Input) -> None:
    if inp.participant_id is None or inp.participant_id != ctx.actor.participant_id:
        raise Forbidden("This is not your input.")
    if inp.moderated_at is not None or inp.status not in (InputStatus.PENDING.value, PUBLISHED):
        raise Conflict("A moderator has acted on this input; it can no longer be changed "
                                       "or withdrawn by its author.")


# -- participants -----------------------------------------------------------------------------------------
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
    _check_window(ctx, p.kind, live)
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
    _changed(ctx, inp)
    return {"input_id": inp.id, "status": inp.status}


class EditPayload(DialoguePayload):
    input_id: int
    text: Text
    kind: KindName | None = None
    named: bool | None = None


@command("inputs.edit", payload=EditPayload, roles={Role.PARTICIPANT}, operation_id="editInput",
         http_path="/dialogues/{dialogue_id}/inputs/edit")
def edit(ctx: Context, p: EditPayload):
    """Change your own input (until a moderator has acted on it); the earlier wording is kept."""
    inp = _input(ctx, p.input_id)
    _own(ctx, inp)
    kind = p.kind or inp.kind
    if kind != inp.kind and InputKind.STATEMENT.value in (kind, inp.kind):
        _check_window(ctx, kind)
    text = clean_text(p.text)
    verdict = _filter(ctx, _draft(ctx, inp.participant_id, kind, text, input_id=inp.id))
    if text != inp.text:
        ctx.session.add(InputRevision(input_id=inp.id, text=inp.text, replaced_by="author", replaced_at=ctx.now))
        inp.text = text
    inp.kind = kind
    if p.named is not None:
        inp.named = p.named
    if verdict is not None:
        inp.flagged = verdict.message[:300]
        if verdict.action == "hold":
            inp.status = InputStatus.PENDING.value
    inp.updated_at = ctx.now
    _changed(ctx, inp)
    return {"input_id": inp.id, "status": inp.status}


class InputPayload(DialoguePayload):
    input_id: int


@command("inputs.withdraw", payload=InputPayload, roles={Role.PARTICIPANT}, operation_id="withdrawInput",
         http_path="/dialogues/{dialogue_id}/inputs/withdraw")
def withdraw(ctx: Context, p: InputPayload):
    """Withdraw your own input (until a moderator has acted on it)."""
    inp = _input(ctx, p.input_id)
    _own(ctx, inp)
    inp.status = InputStatus.WITHDRAWN.value
    inp.updated_at = ctx.now
    _unpin(ctx, inp)
    _changed(ctx, inp)
    return {"input_id": inp.id}


class EndorsePayload(InputPayload):
    endorse: bool = Field(default=True, description="false takes an endorsement back.")


@command("inputs.endorse", payload=EndorsePayload, roles={Role.PARTICIPANT}, operation_id="endorseInput",
         http_path="/dialogues/{dialogue_id}/inputs/endorse", grouped=True)
def endorse(ctx: Context, p: EndorsePayload):
    """Endorse another participant's published input (once), or take the endorsement back."""
    inp = _input(ctx, p.input_id)
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
    _changed(ctx, inp, overview=False)
    return {"input_id": inp.id, "endorsements": inp.endorsement_count, "endorsed": p.endorse}


# -- moderation ------------------------------------------------------------------------------------------
class ModeratePayload(InputPayload):
    action: Literal["approve", "hide"]
    reason: Reason = ""


@command("inputs.moderate", payload=ModeratePayload, roles=CHAIR, operation_id="moderateInput",
         http_path="/dialogues/{dialogue_id}/inputs/moderate")
def moderate(ctx: Context, p: ModeratePayload):
    """Approve an input (publish it) or hide it with a reason."""
    inp = _input(ctx, p.input_id)
    if inp.status not in (InputStatus.PENDING.value, PUBLISHED, InputStatus.HIDDEN.value):
        raise Conflict(f"This input is {inp.status}.")
    if p.action == "hide":
        if not p.reason:
            raise InvalidPayload("Say why the input is hidden.",
                               [{"field": "reason", "message": "required to hide"}])
        inp.status = InputStatus.HIDDEN.value
        _unpin(ctx, inp)
    else:
        inp.status = PUBLISHED
        inp.flagged = ""
    inp.moderation_reason = p.reason
    inp.moderated_at = ctx.now
    inp.updated_at = ctx.now
    _changed(ctx, inp)
    return {"input_id": inp.id, "status": inp.status}


def _unpin(ctx: Context, inp: Input) -> None:
    dialogue = ctx.require_dialogue()
    if dialogue.pinned_input_id == inp.id:
        dialogue.pinned_input_id = None
        ctx.touch("pinned")


class PinPayload(DialoguePayload):
    input_id: int | None = Field(description="The input to show on the display; null removes it.")


@command("inputs.pin", payload=PinPayload, roles=STAFF, operation_id="pinInput",
         http_path="/dialogues/{dialogue_id}/inputs/pin")
def pin(ctx: Context, p: PinPayload):
    """Show one published input on the display (or none)."""
    dialogue = ctx.require_dialogue()
    if p.input_id is not None:
        inp = _input(ctx, p.input_id)
        if inp.status != PUBLISHED:
            raise Conflict("Only a published input can be shown on the display.")
    dialogue.pinned_input_id = p.input_id
    ctx.touch("pinned")
    return {"input_id": p.input_id}


# -- themes and the rapporteurs' work -------------------------------------------------------------------------
class ThemePayload(DialoguePayload):
    name: Annotated[SingleLine, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=2000)] = ""


@command("inputs.create_theme", payload=ThemePayload, roles=WRITERS, operation_id="createTheme",
         http_path="/dialogues/{dialogue_id}/themes")
def create_theme(ctx: Context, p: ThemePayload):
    """Create a theme to group inputs by."""
    dialogue = ctx.require_dialogue()
    if ctx.session.scalar(select(Theme).where(Theme.dialogue_id == dialogue.id, Theme.name == p.name)):
        raise Conflict(f"There is already a theme called {p.name!r}.")
    count = ctx.session.scalar(select(func.count()).where(Theme.dialogue_id == dialogue.id))
    theme = Theme(dialogue_id=dialogue.id, name=p.name, description=p.description, position=count)
    ctx.session.add(theme)
    ctx.session.flush()
    ctx.touch("themes")
    return {"theme_id": theme.id}


class UpdateThemePayload(DialoguePayload):
    theme_id: int
    name: Annotated[SingleLine, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    delete: bool = False


def _theme(ctx: Context, theme_id: int) -> Theme:
    theme = ctx.session.get(Theme, theme_id)
    if theme is None or theme.dialogue_id != ctx.require_dialogue().id:
        raise NotFound(f"There is no theme {theme_id} in this dialogue.")
    return theme


@command("inputs.update_theme", payload=UpdateThemePayload, roles=WRITERS, operation_id="updateTheme",
         http_path="/dialogues/{dialogue_id}/themes/update")
def update_theme(ctx: Context, p: UpdateThemePayload):
    """Rename or describe a theme, or delete it (its inputs keep their other themes)."""
    theme = _theme(ctx, p.theme_id)
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
        if p.description is not None:
            theme.description = p.description
    ctx.touch("themes")
    return {"theme_id": p.theme_id}


class TagPayload(InputPayload):
    theme_ids: list[int] = Field(max_length=50, description="All the input's themes (replaces the earlier ones).")


@command("inputs.tag", payload=TagPayload, roles=WRITERS, operation_id="tagInput",
         http_path="/dialogues/{dialogue_id}/inputs/tag")
def tag(ctx: Context, p: TagPayload):
    """Set the themes of an input."""
    inp = _input(ctx, p.input_id)
    wanted = set(p.theme_ids)
    for theme_id in wanted:
        _theme(ctx, theme_id)
    ctx.session.execute(delete(InputTheme).where(InputTheme.input_id == inp.id))
    for theme_id in sorted(wanted):
        ctx.session.add(InputTheme(input_id=inp.id, theme_id=theme_id))
    _changed(ctx, inp, overview=False)
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
    number of distinct participants other than its author. Themes are combined.
    """
    target = _input(ctx, p.target_id)
    if target.status in (InputStatus.WITHDRAWN.value, InputStatus.MERGED.value):
        raise Conflict(f"The input to keep is {target.status}.")
    sources = [_input(ctx, i) for i in dict.fromkeys(p.source_ids)]
    if any(s.id == target.id for s in sources):
        raise InvalidPayload("An input cannot be merged into itself.")
    for source in sources:
        if source.status in (InputStatus.WITHDRAWN.value, InputStatus.MERGED.value):
            raise Conflict(f"Input {source.id} is {source.status}.")
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
        _unpin(ctx, source)
    target.endorsement_count = len(endorsers)
    target.updated_at = ctx.now
    _changed(ctx, target, *sources)
    ctx.touch("themes")
    return {"input_id": target.id, "merged_ids": [s.id for s in sources], "endorsements": len(endorsers)}


class CorrectPayload(InputPayload):
    text: Text


@command("inputs.correct", payload=CorrectPayload, roles=WRITERS, operation_id="correctInput",
         http_path="/dialogues/{dialogue_id}/inputs/correct")
def correct(ctx: Context, p: CorrectPayload):
    """Correct an input's wording; the author's original is kept."""
    inp = _input(ctx, p.input_id)
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
    _changed(ctx, inp, overview=False)
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
    _changed(ctx, inp)
    return {"input_id": inp.id}


class AddressedPayload(InputPayload):
    addressed: bool = True


@command("inputs.mark_addressed", payload=AddressedPayload, roles=STAFF, operation_id="markInputAddressed",
         http_path="/dialogues/{dialogue_id}/inputs/addressed")
def mark_addressed(ctx: Context, p: AddressedPayload):
    """Mark an input as addressed (answered by the panel, taken into the summary), or not."""
    inp = _input(ctx, p.input_id)
    inp.addressed = p.addressed
    inp.updated_at = ctx.now
    _changed(ctx, inp, overview=False)
    return {"input_id": inp.id, "addressed": inp.addressed}


# -- settings (secretariat) ------------------------------------------------------------------------------
class InputSettingsPayload(DialoguePayload):
    moderation_mode: Literal["pre", "post"] | None = Field(
        default=None, description="`pre`: new inputs wait for approval; `post`: visible at once, can be hidden.")
    max_chars: int | None = Field(default=None, ge=100, le=10_000)
    window_opens_local: DateTime | None = Field(
        default=None, description="Local date and time (dialogue's time zone) the written-input window opens.")
    window_closes_local: DateTime | None = Field(
        default=None, description="Local date and time of the deadline.")
    close_window: bool = Field(default=False, description="true removes the written-input window.")

    model_config = {**DialoguePayload.model_config, "strict": False}


@command("inputs.configure", payload=InputSettingsPayload, roles={Role.SECRETARIAT},
         operation_id="configureInputs", http_path="/dialogues/{dialogue_id}/inputs/settings")
def configure(ctx: Context, p: InputSettingsPayload):
    """Set the moderation mode, the length limit and the written-input window with its deadline."""
    dialogue = ctx.require_dialogue()
    if p.moderation_mode is not None:
        dialogue.moderation_mode = p.moderation_mode
    if p.max_chars is not None:
        dialogue.max_input_chars = p.max_chars
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
