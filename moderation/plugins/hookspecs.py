"""Every plugin hook, documented in one place.

A plugin is a module or object with functions marked ``@hookimpl`` whose names
match the specifications below. Plugins are found through the entry-point
group ``moderation.plugins``; the built-in behaviour is registered the same
way (see ``setup.cfg``). ``docs/plugins.md`` describes each hook again with an
example, and ``tests/test_plugins.py`` checks that every hook here is
documented there and exercised by a test.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pluggy

hookspec = pluggy.HookspecMarker("moderation")
hookimpl = pluggy.HookimplMarker("moderation")


@dataclass(frozen=True)
class AgendaItemType:
    """A kind of agenda item and how screens show it.

    ``name`` is stored with each item; ``label`` is what people read;
    ``default_minutes`` fills the planned duration when none is given;
    ``shows`` lists what the participant page and the display put under the
    item's title and timer (``"speakers"``: the speaker queue, ``"inputs"``:
    the input form and list, ``"panel"``: the panellists).
    """

    name: str
    label: str
    default_minutes: int
    description: str = ""
    shows: tuple[str, ...] = ()


@hookspec
def agenda_item_types() -> list[AgendaItemType]:
    """Return the agenda-item types this plugin provides.

    Names must be unique across plugins; a clash stops the app from starting
    with a message naming both plugins."""


@hookspec
def register_blueprints(app) -> list:
    """Return Flask blueprints with extra routes and pages to mount on ``app``.

    Called once by ``create_app``. Routes added this way should check roles
    with ``moderation.web.current_actor``, like the built-in pages."""


@hookspec
def dialogue_changed(app, outcome) -> None:
    """Called after a command has been committed, with its ``Outcome``
    (command name, dialogue id, new version, result, touched sections). The
    result never holds a token, link or code (they are shown once, to the
    caller): a plugin cannot leak them.

    Use it for integrations (a webhook, a log shipper, a stream overlay). It
    runs after the commit and after the broadcast; an exception here is
    logged and never undoes the change."""


@dataclass(frozen=True)
class QueuePolicy:
    """A rule for ordering the speaker queue.

    ``arrange(entries, before, context, rest)`` returns ``entries`` in this
    policy's order. ``entries`` are ``moderation.features.queue.order.Candidate``
    objects; ``before`` is the candidate placed just ahead of them (or the
    last speaker), for policies that alternate; ``context`` tells who has
    spoken; ``rest(sub_list, before)`` orders a part with the policies that
    come after this one, so a policy only decides what it cares about.
    ``urgent(entry)``, when given, marks entries that go ahead even of entries
    the moderator placed by hand (points of order).
    """

    name: str
    label: str
    description: str
    arrange: Callable[..., list]
    urgent: Callable[..., bool] | None = None


@hookspec
def queue_policies() -> list[QueuePolicy]:
    """Return the speaker-queue ordering policies this plugin provides.

    A dialogue chooses a combination by name, most important first; first
    come, first served always breaks the remaining ties. Names must be unique
    across plugins."""


@dataclass(frozen=True)
class InputDraft:
    """An input about to be stored, as filters see it."""

    dialogue_id: int
    participant_id: int | None
    kind: str
    text: str
    max_chars: int
    max_words: int
    input_id: int | None = None  # set when an existing input is being edited


@dataclass(frozen=True)
class FilterVerdict:
    """What a filter decides: ``accept``; ``flag`` (stored and published,
    marked for the moderators with ``message``); ``hold`` (stored, waits for
    a moderator even when inputs are published at once); ``refuse`` (nothing
    is stored; ``message`` tells the author why, ``code`` is the error code)."""

    action: str
    message: str = ""
    code: str = "invalid_payload"


@dataclass(frozen=True)
class InputFilter:
    """``check(draft, session)`` returns a ``FilterVerdict`` or None (accept).
    ``session`` is the open database session, for filters that compare with
    what is stored; filters must not write."""

    name: str
    label: str
    check: Callable[..., FilterVerdict | None]


@hookspec
def input_filters() -> list[InputFilter]:
    """Return filters that every submitted or edited input passes through,
    in plugin registration order. The first ``refuse`` wins; otherwise the
    strongest of ``hold`` and ``flag`` applies."""


@dataclass(frozen=True)
class Exporter:
    """A file format for the summary: ``export(document)`` turns the summary
    document (a JSON-ready dict, see ``moderation.features.summary.commands.build_summary``)
    into the file's bytes. ``name`` is what users pick (``docx``, ``md``)."""

    name: str
    label: str
    extension: str
    media_type: str
    export: Callable[[dict], bytes]


@hookspec
def summary_exporters() -> list[Exporter]:
    """Return the summary export formats this plugin provides. Names must be
    unique across plugins. Exporters must escape user text for their format
    and give the same bytes for the same document."""


class SimilarityBackend(Protocol):
    """How the rapporteur's assistant compares inputs: texts in, rows of
    L2-normalized vectors out (a numpy array or a scipy sparse matrix), so
    that a dot product is a cosine similarity.

    ``name`` is stored with each vector and chosen with ``ASSIST_BACKEND``;
    ``label`` is what the staff read. ``per_text`` is True when a text's
    vector depends on that text alone: the assistant then computes it once,
    off the live path, and stores it. Otherwise (TF-IDF's weights depend on
    the whole set) ``fit(texts)`` returns an encoder whose ``transform``
    puts new texts in the same space. ``available()`` says whether this
    installation can run it (a missing optional package)."""

    name: str
    label: str
    per_text: bool

    def available(self) -> bool: ...

    def fit(self, texts: list[str]) -> Any: ...

    def encode(self, texts: list[str]) -> Any: ...


@hookspec
def similarity_backends() -> list[SimilarityBackend]:
    """Return similarity backends for the rapporteur's assistant (possible
    duplicates, theme suggestions, themes from scratch). Names must be unique
    across plugins. The dialogue uses ``ASSIST_BACKEND`` when set, otherwise
    the first available backend a plugin offers, the built-ins last
    (all-MiniLM-L6-v2 embeddings where the ``embeddings`` extra is
    installed, TF-IDF otherwise). ``encode`` runs in a worker thread, never
    on the live session's path, one call at a time."""
