"""The inputs' reads: one page of inputs, as the caller's role sees them
(participants see the published ones and their own)."""
from moderation.core.reads import ReadContext, read
from moderation.features.inputs.listing import ListQuery, list_inputs
from moderation.models import Role


@read("inputs.list", query=ListQuery, event=True)
def inputs_page(ctx: ReadContext):
    mine = ctx.actor.participant_id if ctx.role is Role.PARTICIPANT else None
    return list_inputs(ctx.session, ctx.dialogue.id, ctx.role, **ctx.query.model_dump(), participant_id=mine)
