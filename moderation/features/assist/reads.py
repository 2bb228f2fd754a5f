"""The assistant's reads, for the staff only (the secretariat, moderators and
rapporteurs): possible duplicates, theme suggestions, themes from scratch.
Served by the API (``api``) and as Socket.IO events of the same names."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from moderation.core.reads import ReadContext, read
from moderation.features.assist.assistant import Assistant
from moderation.features.assist.suggestions import possible_duplicates, theme_clusters, theme_suggestions
from moderation.features.inputs.audiences import audience_for
from moderation.features.inputs.handling import STAFF

STAFF_ONLY = "Suggestions are for the secretariat, moderators and rapporteurs."


def assistant(ctx: ReadContext) -> Assistant:
    return ctx.app.extensions["assistant"]


class DuplicatesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_id: int | None = Field(default=None, ge=1, description="One input's candidates (default: the whole dialogue).")
    limit: int = Field(default=3, ge=1, le=10, description="Candidates per input.")
    max_items: int = Field(default=50, ge=1, le=500, description="Inputs listed for the whole dialogue.")


class ThemeSuggestionsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=3, ge=1, le=10, description="Themes suggested per input.")
    max_items: int = Field(default=500, ge=1, le=2000, description="Untagged inputs listed.")


class ClustersQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: int | None = Field(default=None, ge=2, le=30, description="How many themes (default: chosen by the data).")
    input_ids: list[int] | None = Field(default=None, min_length=2, max_length=2000,
                                        description="Cluster these inputs only (to split a suggestion).")


@read("assist.duplicates", roles=STAFF, query=DuplicatesQuery, refused=STAFF_ONLY, event=True)
def duplicates(ctx: ReadContext) -> dict[str, Any]:
    """Possible duplicates: of one input, or the most likely ones of the dialogue."""
    q = ctx.query
    return possible_duplicates(assistant(ctx), ctx.session, ctx.dialogue.id, audience_for(ctx.role),
                               input_id=q.input_id, limit=q.limit, max_items=q.max_items)


@read("assist.theme_suggestions", roles=STAFF, query=ThemeSuggestionsQuery, refused=STAFF_ONLY, event=True)
def suggested_themes(ctx: ReadContext) -> dict[str, Any]:
    """The most likely themes of every untagged input, from the inputs already tagged."""
    q = ctx.query
    return theme_suggestions(assistant(ctx), ctx.session, ctx.dialogue.id, audience_for(ctx.role), limit=q.limit,
                             max_items=q.max_items)


@read("assist.theme_clusters", roles=STAFF, query=ClustersQuery, refused=STAFF_ONLY, event=True)
def clusters(ctx: ReadContext) -> dict[str, Any]:
    """Themes found from scratch among the untagged inputs (or the given ones)."""
    q = ctx.query
    return theme_clusters(assistant(ctx), ctx.session, ctx.dialogue.id, audience_for(ctx.role), input_ids=q.input_ids,
                          k=q.k)
