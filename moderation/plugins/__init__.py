"""The plugin manager: one per app, built from the ``moderation.plugins``
entry points (filtered by the ``PLUGINS`` allow-list) plus any plugin objects
handed to ``create_app`` (for tests and embedding)."""
from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points

import pluggy

from moderation.plugins import hookspecs
from moderation.plugins.hookspecs import (  # noqa: F401
    AgendaItemType,
    Exporter,
    FilterVerdict,
    InputDraft,
    InputFilter,
    QueuePolicy,
    SimilarityBackend,
    hookimpl,
)

ENTRY_POINT_GROUP = "moderation.plugins"
# The built-ins, by entry-point name, for when the package runs from a source
# tree that was never installed (no entry-point metadata).
BUILTINS = {
    "agenda_types": "moderation.plugins.agenda_types",
    "integrations": "moderation.plugins.integrations",
    "queue_policies": "moderation.plugins.queue_policies",
    "input_filters": "moderation.plugins.input_filters",
    "exporters": "moderation.plugins.exporters",
    "similarity": "moderation.plugins.similarity",
}
log = logging.getLogger(__name__)


class PluginError(RuntimeError):
    pass


def make_plugin_manager(allow: list[str] | None = None, extra: tuple = ()) -> pluggy.PluginManager:
    """Built-ins always load; third-party entry points load when ``allow`` is
    None (all) or names them."""
    pm = pluggy.PluginManager("moderation")
    pm.add_hookspecs(hookspecs)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        builtin = BUILTINS.get(ep.name) == ep.value
        if pm.has_plugin(ep.name) or (not builtin and allow is not None and ep.name not in allow):
            continue
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:  # a broken third-party plugin must not hide the others
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
    for name, module in BUILTINS.items():
        if not pm.has_plugin(name):
            pm.register(importlib.import_module(module), name=name)
    for plugin in extra:
        pm.register(plugin)
    for offered in _NAMED_OFFERS:
        offered(pm)  # a name offered twice stops the app now, not at first use
    return pm


def _by_name(pm: pluggy.PluginManager, hook: str, what: str) -> dict:
    """Everything plugins offer through ``hook``, by name; a name offered
    twice is an error naming both plugins."""
    found: dict = {}
    owners: dict[str, str] = {}
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        for offer in impl.function() or ():
            if offer.name in found:
                raise PluginError(f"{what} {offer.name!r} is offered by both "
                                  f"{owners[offer.name]!r} and {impl.plugin_name!r}")
            found[offer.name] = offer
            owners[offer.name] = impl.plugin_name
    return found


def agenda_item_types(pm: pluggy.PluginManager) -> dict[str, AgendaItemType]:
    """All agenda-item types by name."""
    return _by_name(pm, "agenda_item_types", "agenda-item type")


# The accessors are not named after their hooks: ``queue_policies`` and
# ``input_filters`` are also built-in submodules of this package, and
# importing a submodule rebinds its name here.
def policies_by_name(pm: pluggy.PluginManager) -> dict[str, QueuePolicy]:
    """All speaker-queue policies by name."""
    return _by_name(pm, "queue_policies", "queue policy")


def filters_in_order(pm: pluggy.PluginManager) -> list[InputFilter]:
    """All input filters: the built-ins first, then the other plugins' in
    registration order (the order matters: the first refusal wins).
    ``_by_name`` walks plugins in call order, last registered first."""
    found = _by_name(pm, "input_filters", "input filter")  # refuses a name offered twice
    impls = sorted(pm.hook.input_filters.get_hookimpls(), key=lambda impl: impl.plugin_name not in BUILTINS)
    return [found[offer.name] for impl in impls for offer in impl.function() or ()]


def summary_exporters(pm: pluggy.PluginManager) -> dict[str, Exporter]:
    """All summary export formats by name."""
    return _by_name(pm, "summary_exporters", "export format")


def backends_in_order(pm: pluggy.PluginManager) -> list[SimilarityBackend]:
    """All similarity backends, in the order the default is chosen: other
    plugins' first (installed to be used), then the built-ins, the better
    first (``moderation.plugins.similarity``)."""
    _by_name(pm, "similarity_backends", "similarity backend")  # refuses a name offered twice
    impls = sorted(pm.hook.similarity_backends.get_hookimpls(), key=lambda impl: impl.plugin_name in BUILTINS)
    return [offer for impl in impls for offer in impl.function() or ()]


_NAMED_OFFERS = (agenda_item_types, policies_by_name, filters_in_order, summary_exporters, backends_in_order)
