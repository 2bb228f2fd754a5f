"""The summary's reads: the document in one export format, for the
secretariat, moderators and rapporteurs."""
from pydantic import BaseModel

from moderation import models
from moderation.core.errors import NotFound
from moderation.core.reads import ReadContext, read
from moderation.features.summary.commands import build_summary
from moderation.models import Role
from moderation.plugins import summary_exporters


class ExportQuery(BaseModel):
    format: str


@read("summary.export", roles={Role.SECRETARIAT, Role.MODERATOR, Role.RAPPORTEUR}, query=ExportQuery,
      refused="Only the secretariat, moderators and rapporteurs can export the summary.")
def export(ctx: ReadContext):
    """(exporter, bytes, file name)."""
    format_name = ctx.query.format
    exporters = summary_exporters(ctx.plugins)
    exporter = exporters.get(format_name)
    if exporter is None:
        raise NotFound(f"Unknown export format {str(format_name)[:40]!r}.", {"formats": sorted(exporters)})
    document = build_summary(ctx.session, ctx.dialogue, ctx.plugins, models.utcnow())  # read when called (tests set the clock)
    stem = f"summary-dialogue-{ctx.dialogue.id}" if not format_name.endswith("_csv") and \
        not format_name.endswith("_xlsx") else f"{format_name.rsplit('_', 1)[0]}-dialogue-{ctx.dialogue.id}"
    return exporter, exporter.export(document), f"{stem}.{exporter.extension}"
