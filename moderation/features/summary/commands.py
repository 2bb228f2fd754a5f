"""The draft summary: built from what happened, plus the rapporteurs' text.

``build_summary`` assembles one JSON-ready document from the data (the
dialogue, attendance, the agenda with planned and actual times, speaking
statistics, the inputs grouped by theme) and the narrative the rapporteurs
wrote for each part. The data parts are rebuilt every time; the narrative is
stored per part (``SummarySection``), so regenerating never loses text. Every
exporter (``moderation/plugins/exporters.py``) works from this document, and
the same data gives the same document apart from ``generated_at``.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import Field
from sqlalchemy import func, select

from moderation.core import timers
from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import Conflict, NotFound
from moderation.core.timers import ms
from moderation.core.updates import assign_given
from moderation.features.dialogues.commands import topic_label
from moderation.features.inputs.audiences import ANONYMOUS_LABEL, themes_of
from moderation.features.queue.views import speaking_statistics
from moderation.models import (
    CATEGORY_LABELS,
    INPUT_KIND_LABELS,
    INTERVENTION_LABELS,
    AgendaItem,
    Category,
    Dialogue,
    DialogueKind,
    Input,
    InputKind,
    InputStatus,
    InputTheme,
    InterventionType,
    Participant,
    Role,
    SpeakerEntry,
    SpeakerStatus,
    SummarySection,
    Theme,
)
from moderation.plugins import agenda_item_types

EDITORS = {Role.SECRETARIAT, Role.RAPPORTEUR, Role.MODERATOR}
FORMAT_LABELS = {"hybrid": "in person and online", "in_person": "in person", "online": "online"}
CHANNEL_LABELS = {"room": "In the room", "online": "Online"}
CATEGORY_ORDER = [Category.NGO_ECOSOC, Category.NGO, Category.ACADEMIA, Category.PRIVATE_SECTOR,
                  Category.STATE_PARTY, Category.IGO, Category.OTHER]
FIXED_KEYS = ("introduction", "conclusions")
MAX_NARRATIVE = 50_000


def section_keys(items: list[AgendaItem]) -> list[str]:
    return ["introduction", *(f"item:{item.id}" for item in items), "conclusions"]


def _local(dialogue: Dialogue, moment: dt.datetime | None) -> dt.datetime | None:
    return moment.astimezone(ZoneInfo(dialogue.timezone)) if moment else None


def _clock(dialogue: Dialogue, moment: dt.datetime | None) -> str | None:
    local = _local(dialogue, moment)
    return local.strftime("%H:%M") if local else None


def _minutes(seconds: float | None) -> int | None:
    return None if seconds is None else int(round(seconds / 60.0))


def summary_title(dialogue: Dialogue) -> str:
    kind = "Multistakeholder Preparation Day" if dialogue.kind == DialogueKind.PREPARATION_DAY.value \
        else "Constructive Dialogue"
    return f"Summary of the {kind} on {topic_label(dialogue.topic)}"


def attendance(session, dialogue_id: int) -> dict[str, Any]:
    """Participants by stakeholder category, in the room and online.

    Where the dialogue has attendance data, it is used: in the room, the
    participants checked in at the door; online, the participants not
    checked in who connected to the tool. A channel without such data falls
    back to the registrations. ``source`` says which, per channel, and
    ``note`` says it in words for the document."""
    people = list(session.scalars(select(Participant).where(Participant.dialogue_id == dialogue_id)))
    checked_in = any(p.checked_in_at is not None for p in people)
    connected = any(p.connected_at is not None for p in people)

    def channel_of(participant: Participant) -> str | None:
        registered = participant.channel if participant.channel in ("room", "online") else "online"
        if participant.checked_in_at is not None:
            return "room"
        if registered == "room" and checked_in:
            # Not checked in: online if they connected, else absent.
            return "online" if connected and participant.connected_at is not None else None
        if registered == "online" and connected:
            return "online" if participant.connected_at is not None else None
        return registered

    rows = {c.value: {"category": c.value, "label": CATEGORY_LABELS[c], "room": 0, "online": 0}
            for c in CATEGORY_ORDER}
    for participant in people:
        category = participant.organization.category if participant.organization else Category.OTHER.value
        channel = channel_of(participant)
        if channel is not None:
            rows[category][channel] += 1
    table = [dict(row, total=row["room"] + row["online"]) for row in rows.values()]
    totals = {key: sum(row[key] for row in table) for key in ("room", "online", "total")}
    source = {"room": "checked_in" if checked_in else "registered",
              "online": "connected" if connected else "registered"}
    room_words = "checked in at the door" if checked_in else "registered to attend in person"
    online_words = "connected online" if connected else "registered to take part online"
    note = f"In the room: participants {room_words}. Online: participants {online_words}."
    return {"rows": table, "totals": totals, "source": source, "note": note}


def _statistics_rows(bucket: dict[str, Any]) -> dict[str, Any]:
    def rows(key: str, labels: dict) -> list[dict[str, Any]]:
        return [{"key": k, "label": labels.get(k, k), "interventions": v["interventions"],
                 "minutes": round(v["seconds"] / 60.0, 1)}
                for k, v in sorted(bucket.get(key, {}).items())]
    return {
        "interventions": bucket.get("interventions", 0),
        "minutes": round(bucket.get("seconds", 0.0) / 60.0, 1),
        "by_channel": rows("by_channel", CHANNEL_LABELS),
        "by_category": rows("by_category", {c.value: CATEGORY_LABELS[c] for c in Category}),
        "by_type": rows("by_type", {t.value: INTERVENTION_LABELS[t] for t in InterventionType}),
    }


def participation(session, dialogue_id: int) -> dict[str, Any]:
    """The written inputs by stakeholder category and by theme: the inputs
    that reach the summary (published, and the duplicates merged into them),
    not the rapporteur's notes of oral interventions, which the interventions
    already count. Every category and every theme is listed, in their order,
    with zeros."""
    counted = (Input.dialogue_id == dialogue_id, Input.source != "oral",
               Input.status.in_((InputStatus.PUBLISHED.value, InputStatus.MERGED.value)))
    by_category = {c.value: 0 for c in CATEGORY_ORDER}
    for category, count in session.execute(select(Input.category, func.count()).where(*counted)
                                           .group_by(Input.category)):
        key = category if category in by_category else Category.OTHER.value
        by_category[key] += count
    themes = list(session.scalars(select(Theme).where(Theme.dialogue_id == dialogue_id)
                                  .order_by(Theme.position, Theme.id)))
    by_theme = dict.fromkeys((t.id for t in themes), 0)
    for theme_id, count in session.execute(select(InputTheme.theme_id, func.count()).join(
            Input, Input.id == InputTheme.input_id).where(*counted).group_by(InputTheme.theme_id)):
        if theme_id in by_theme:
            by_theme[theme_id] = count
    return {
        "inputs": sum(by_category.values()),
        "inputs_by_category": [{"key": key, "label": CATEGORY_LABELS[Category(key)], "inputs": count}
                               for key, count in by_category.items()],
        "inputs_by_theme": [{"key": t.id, "label": t.name, "inputs": by_theme[t.id]} for t in themes],
    }


def participation_section(session, dialogue: Dialogue, now, plugins, role=None) -> dict[str, Any]:
    return participation(session, dialogue.id)


def _point_of(inp: Input, by_id: dict[int, Input]) -> int:
    """The input that a merged one now stands under: merges made before they
    were flattened (``inputs.merge``) may chain, c into b, then b into a."""
    seen = {inp.id}
    while inp.merged_into_id is not None and inp.merged_into_id in by_id and inp.merged_into_id not in seen:
        inp = by_id[inp.merged_into_id]
        seen.add(inp.id)
    return inp.id


def build_summary(session, dialogue: Dialogue, plugins, generated_at: dt.datetime) -> dict[str, Any]:
    """The whole draft as one document (see the module docstring)."""
    items = list(session.scalars(select(AgendaItem).where(AgendaItem.dialogue_id == dialogue.id)
                                 .order_by(AgendaItem.position)))
    types = agenda_item_types(plugins)
    narratives = {s.key: s for s in session.scalars(select(SummarySection).where(
        SummarySection.dialogue_id == dialogue.id))}
    themes = {t.id: t for t in session.scalars(select(Theme).where(Theme.dialogue_id == dialogue.id)
                                               .order_by(Theme.position, Theme.id))}
    inputs = list(session.scalars(select(Input).where(
        Input.dialogue_id == dialogue.id, Input.status.in_((InputStatus.PUBLISHED.value, InputStatus.MERGED.value)))
        .order_by(Input.created_at, Input.id)))
    tags = themes_of(session, [i.id for i in inputs])
    by_id = {i.id: i for i in inputs}
    merged_from: dict[int, list[int]] = {}
    for inp in inputs:
        if inp.merged_into_id is not None:
            merged_from.setdefault(_point_of(inp, by_id), []).append(inp.id)
    published = [i for i in inputs if i.status == InputStatus.PUBLISHED.value]
    stats = speaking_statistics(session, dialogue.id)
    attribution = dialogue.summary_attribution

    def point(inp: Input) -> dict[str, Any]:
        cited = [inp.id, *sorted(merged_from.get(inp.id, []))]
        organizations = []
        if attribution:
            organizations = sorted({by_id[i].organization for i in cited
                                    if by_id[i].named and by_id[i].organization})
        return {"text": inp.text, "inputs": cited, "organizations": organizations,
                "endorsements": inp.endorsement_count, "kind": inp.kind,
                "themes": [themes[t].name for t in tags.get(inp.id, []) if t in themes]}

    def grouped(selection: list[Input]) -> dict[str, Any]:
        key_points = [i for i in selection if i.kind not in (InputKind.SUGGESTION.value, InputKind.QUESTION.value)]
        by_theme = []
        for theme in themes.values():
            points = [point(i) for i in key_points if theme.id in tags.get(i.id, [])]
            if points:
                by_theme.append({"id": theme.id, "name": theme.name, "description": theme.description,
                                 "points": points})
        return {
            "themes": by_theme,
            "other_points": [point(i) for i in key_points if not tags.get(i.id)],
            "suggestions": [point(i) for i in selection if i.kind == InputKind.SUGGESTION.value],
            "questions": [point(i) for i in selection if i.kind == InputKind.QUESTION.value],
        }

    def narrative(key: str) -> str:
        return narratives[key].text if key in narratives else ""

    agenda, parts = [], []
    planned = dialogue.starts_at
    for item in items:
        item_type = types.get(item.item_type)
        # A running item counts up to the moment of the export.
        actual = timers.elapsed(item, generated_at) if item.started_at else None
        agenda.append({
            "id": item.id, "position": item.position + 1, "title": item.title,
            "type": item.item_type, "type_label": item_type.label if item_type else item.item_type,
            "planned_start": _clock(dialogue, planned), "planned_minutes": _minutes(item.planned_seconds),
            "actual_start": _clock(dialogue, item.started_at), "actual_end": _clock(dialogue, item.ended_at),
            "actual_minutes": _minutes(actual), "status": item.status,
        })
        if planned is not None:
            planned += dt.timedelta(seconds=item.planned_seconds)
        parts.append({
            "id": item.id, "key": f"item:{item.id}", "title": item.title,
            "type_label": item_type.label if item_type else item.item_type,
            "presenters": [line.strip() for line in item.presenters.splitlines() if line.strip()],
            "narrative": narrative(f"item:{item.id}"),
            "statistics": _statistics_rows(stats["items"].get(str(item.id), {})),
            **grouped([i for i in published if i.agenda_item_id == item.id]),
        })
    start = _local(dialogue, dialogue.starts_at)
    linked = session.get(Dialogue, dialogue.prepares_id) if dialogue.prepares_id else None
    preparation = session.scalar(select(Dialogue).where(Dialogue.prepares_id == dialogue.id).limit(1))
    annex_inputs = []
    item_titles = {item.id: item.title for item in items}
    for inp in published:
        named = inp.named
        annex_inputs.append({
            "id": inp.id, "item": item_titles.get(inp.agenda_item_id, "The dialogue as a whole"),
            "kind": inp.kind, "kind_label": INPUT_KIND_LABELS.get(InputKind(inp.kind), inp.kind),
            "text": inp.text, "author": inp.author_name if named else ANONYMOUS_LABEL,
            "organization": inp.organization if named else "",
            "themes": [themes[t].name for t in tags.get(inp.id, []) if t in themes],
            "endorsements": inp.endorsement_count, "merged": sorted(merged_from.get(inp.id, [])),
            "source": inp.source,
        })
    organizations = None
    if dialogue.summary_list_organizations:
        organizations = sorted({(p.organization.name, CATEGORY_LABELS.get(Category(p.organization.category), ""))
                                for p in session.scalars(select(Participant).where(
                                    Participant.dialogue_id == dialogue.id)) if p.organization})
        organizations = [{"name": n, "category": c} for n, c in organizations]
    return {
        "format_version": 1,
        "generated_at": generated_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "dialogue": {
            "id": dialogue.id, "title": summary_title(dialogue), "name": dialogue.title,
            "topic": topic_label(dialogue.topic), "kind": dialogue.kind,
            "date": _date(start),
            "local_start": start.isoformat(timespec="minutes") if start else None,
            "timezone": dialogue.timezone, "venue": dialogue.venue,
            "format": FORMAT_LABELS.get(dialogue.format, dialogue.format), "chairs": dialogue.chairs,
            "preparation_day": _linked(preparation), "prepares": _linked(linked),
        },
        "settings": {"attribution": attribution, "list_organizations": dialogue.summary_list_organizations},
        "introduction": narrative("introduction"),
        "attendance": attendance(session, dialogue.id),
        "agenda": agenda,
        "statistics": _statistics_rows(stats["dialogue"]),
        "participation": participation(session, dialogue.id),
        "items": parts,
        "general": {"key": "general", **grouped([i for i in published if i.agenda_item_id is None])},
        "conclusions": narrative("conclusions"),
        "annex": {"inputs": annex_inputs, "organizations": organizations},
        "inputs": input_rows(session, dialogue, item_titles, themes),
        "interventions": interventions(session, dialogue, generated_at),
    }


def input_rows(session, dialogue: Dialogue, item_titles: dict[int, str], themes: dict[int, Theme]) -> list[dict]:
    """Every input but the withdrawn ones, for the spreadsheets: attribution
    as each author chose; the category is always given."""
    rows = list(session.scalars(select(Input).where(
        Input.dialogue_id == dialogue.id, Input.status != InputStatus.WITHDRAWN.value)
        .order_by(Input.created_at, Input.id)))
    tags = themes_of(session, [i.id for i in rows])
    return [{
        "id": inp.id, "agenda_item": item_titles.get(inp.agenda_item_id, "The dialogue as a whole"),
        "type": inp.kind, "type_label": INPUT_KIND_LABELS.get(InputKind(inp.kind), inp.kind), "text": inp.text,
        "themes": [themes[t].name for t in tags.get(inp.id, []) if t in themes],
        "author": inp.author_name if inp.named else ANONYMOUS_LABEL,
        "organization": inp.organization if inp.named else "",
        "category": inp.category, "category_label": CATEGORY_LABELS.get(Category(inp.category), inp.category),
        "channel": inp.channel, "status": inp.status, "merged_into": inp.merged_into_id,
        "endorsements": inp.endorsement_count, "source": inp.source,
        "time": _local(dialogue, inp.created_at).isoformat(timespec="seconds"),
    } for inp in rows]


def _linked(dialogue: Dialogue | None) -> dict[str, Any] | None:
    if dialogue is None:
        return None
    start = _local(dialogue, dialogue.starts_at)
    return {"id": dialogue.id, "title": dialogue.title, "date": _date(start)}


def _date(moment: dt.datetime | None) -> str | None:
    return f"{moment.day} {moment:%B %Y}" if moment else None


def interventions(session, dialogue: Dialogue, now: dt.datetime) -> list[dict[str, Any]]:
    """Every intervention: who, organization, category, channel, type, start, end, duration, item.
    The current speaker's duration is the time so far (``now``)."""
    titles = dict(session.execute(select(AgendaItem.id, AgendaItem.title).where(
        AgendaItem.dialogue_id == dialogue.id)).all())
    rows = session.scalars(select(SpeakerEntry).where(
        SpeakerEntry.dialogue_id == dialogue.id,
        SpeakerEntry.status.in_((SpeakerStatus.DONE.value, SpeakerStatus.SPEAKING.value)))
        .order_by(SpeakerEntry.started_at, SpeakerEntry.id))
    return [{
        "id": e.id, "agenda_item": titles.get(e.agenda_item_id, ""), "name": e.name,
        "organization": e.organization, "category": e.category,
        "category_label": CATEGORY_LABELS.get(Category(e.category), e.category),
        "channel": e.channel, "type": e.intervention_type,
        "type_label": INTERVENTION_LABELS.get(InterventionType(e.intervention_type), e.intervention_type),
        "start": _local(dialogue, e.started_at).isoformat(timespec="seconds") if e.started_at else None,
        "end": _local(dialogue, e.ended_at).isoformat(timespec="seconds") if e.ended_at else None,
        "seconds": round(timers.elapsed(e, now), 1),
    } for e in rows]


# -- what the rapporteur's page sees -----------------------------------------------------------
def narrative_view(section: SummarySection) -> dict[str, Any]:
    return {"id": section.id, "key": section.key, "text": section.text, "revision": section.revision,
            "updated_by": section.updated_by, "updated_at": ms(section.updated_at)}


def summary_section(session, dialogue: Dialogue, now, plugins, role=None) -> dict[str, Any]:
    sections = session.scalars(select(SummarySection).where(SummarySection.dialogue_id == dialogue.id))
    return {"attribution": dialogue.summary_attribution,
            "list_organizations": dialogue.summary_list_organizations,
            "chairs": dialogue.chairs,
            "published_at": ms(dialogue.summary_published_at),
            "narratives": {s.key: narrative_view(s) for s in sections}}


def narrative_records(session, ids, role) -> list[dict[str, Any]]:
    return [narrative_view(s) for s in session.scalars(select(SummarySection).where(SummarySection.id.in_(ids)))]


# -- commands --------------------------------------------------------------------------------
class SavePayload(DialoguePayload):
    key: Annotated[str, Field(pattern=r"^(introduction|conclusions|item:[0-9]{1,10})$",
                              description="`introduction`, `conclusions` or `item:<agenda item id>`.")]
    text: Annotated[str, Field(max_length=MAX_NARRATIVE)]
    base_revision: int = Field(ge=0, description="The revision the editor started from (0 for a new part).")


@command("summary.save_section", payload=SavePayload, roles=EDITORS, operation_id="saveSummarySection",
         http_path="/dialogues/{dialogue_id}/summary/sections")
def save_section(ctx: Context, p: SavePayload):
    """Save the rapporteurs' text of one part of the summary (refused if someone else saved it meanwhile)."""
    dialogue = ctx.require_dialogue()
    if p.key.startswith("item:"):
        item = ctx.session.get(AgendaItem, int(p.key[5:]))
        if item is None or item.dialogue_id != dialogue.id:
            raise NotFound("That agenda item is not on this dialogue's agenda.")
    section = ctx.session.scalar(select(SummarySection).where(
        SummarySection.dialogue_id == dialogue.id, SummarySection.key == p.key))
    current = section.revision if section else 0
    if p.base_revision != current:
        raise Conflict(f"{(section.updated_by if section else '') or 'Someone'} changed this part while you were "
                           "writing. Your text was not saved: copy it, reload the part and merge the two.",
                           {"revision": current, "text": section.text if section else "",
                            "updated_by": section.updated_by if section else ""})
    if section is None:
        section = SummarySection(dialogue_id=dialogue.id, key=p.key, text="", revision=0)
        ctx.session.add(section)
    section.text = p.text
    section.revision = current + 1
    section.updated_by = ctx.actor.label[:200]
    section.updated_at = ctx.now
    ctx.session.flush()
    ctx.record("summary_sections", section.id)
    return {"key": p.key, "revision": section.revision}


class SummarySettingsPayload(DialoguePayload):
    attribution: bool | None = Field(default=None, description="Name the organizations behind each point.")
    list_organizations: bool | None = Field(default=None, description="List the participating organizations "
                                                                      "in the annex.")
    chairs: Annotated[str, Field(max_length=500)] | None = None


@command("summary.configure", payload=SummarySettingsPayload, roles={Role.SECRETARIAT, Role.RAPPORTEUR},
         operation_id="configureSummary", http_path="/dialogues/{dialogue_id}/summary/settings")
def configure(ctx: Context, p: SummarySettingsPayload):
    """Choose whether points name organizations, whether the annex lists them, and the chairs' names."""
    dialogue = ctx.require_dialogue()
    assign_given(dialogue, p, "chairs", summary_attribution="attribution", summary_list_organizations="list_organizations")
    ctx.touch("summary")
    return {"attribution": dialogue.summary_attribution, "list_organizations": dialogue.summary_list_organizations}


class PublishedPayload(DialoguePayload):
    published: bool = Field(default=True, description="False takes the mark back.")


@command("summary.mark_published", payload=PublishedPayload, roles={Role.SECRETARIAT},
         operation_id="markSummaryPublished", http_path="/dialogues/{dialogue_id}/summary/published")
def mark_published(ctx: Context, p: PublishedPayload):
    """Record that the chairs' summary was published (after it, personal data may be deleted)."""
    dialogue = ctx.require_dialogue()
    if not p.published and dialogue.personal_data_deleted_at is not None:
        raise Conflict("The personal data was deleted after publication; the mark stays.")
    dialogue.summary_published_at = (dialogue.summary_published_at or ctx.now) if p.published else None
    ctx.touch("summary")
    return {"published_at": ms(dialogue.summary_published_at)}
