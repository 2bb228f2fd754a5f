"""Built-in integration: logs every committed command at INFO level, which is
what an operator tails during a session."""
import logging

from moderation.plugins.hookspecs import hookimpl

log = logging.getLogger("moderation.changes")


@hookimpl
def dialogue_changed(app, outcome):
    log.info("dialogue=%s version=%s command=%s%s", outcome.dialogue_id, outcome.version,
             outcome.command, " (replayed)" if outcome.replayed else "")
