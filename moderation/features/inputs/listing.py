"""Reading inputs in bulk: the overview sections (counts, themes, the pinned
input, a participant's own inputs) and the filtered, sorted, paged list."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from moderation.features.inputs.audiences import PUBLISHED, audience_for, input_view, views
from moderation.features.inputs.handling import KindName
from moderation.models import Dialogue, Endorsement, Input, InputStatus, InputTheme, Role, Theme


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
