"""What each audience sees of an input: the organization is always recorded,
but only the secretariat and the author see it when the author chose to
appear as "a participant". Every view of an input (sections, changes, the
list) goes through ``input_view``."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from moderation.core.timers import ms
from moderation.models import CATEGORY_LABELS, INPUT_KIND_LABELS, Category, Input, InputKind, InputStatus, InputTheme, Role

PUBLISHED = InputStatus.PUBLISHED.value
ANONYMOUS_LABEL = "A participant"


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
