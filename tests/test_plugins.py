"""Plugins: every hook is documented and exercised, and a plugin installed
the ordinary way (a distribution with a ``moderation.plugins`` entry point)
changes what the app does.

``tests/plugin_fixture`` is a tiny plugin laid out as its own distribution.
The ``install`` fixture "installs" it as pip would: the package and a
``<name>.dist-info`` directory (METADATA, entry_points.txt) in a temporary
site directory put on ``sys.path``, where ``importlib.metadata`` finds it.
"""
from __future__ import annotations

import configparser
import importlib
import inspect
import logging
import re
import shutil
import sys
import tomllib
import types
from importlib.metadata import entry_points
from pathlib import Path

import pluggy
import pytest
from conftest import make_app, run, seed_dialogue
from sqlalchemy import select

from moderation.core.errors import CommandError
from moderation.models import Input, InputVector
from moderation.plugins import (
    BUILTINS,
    ENTRY_POINT_GROUP,
    AgendaItemType,
    Exporter,
    InputFilter,
    PluginError,
    QueuePolicy,
    hookimpl,
    hookspecs,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "plugin_fixture"
PACKAGE = "moderation_fixture_plugin"
DOCS = ROOT / "docs" / "plugins.md"


def hook_names() -> set[str]:
    """Every hook pluggy knows from ``hookspecs.py``."""
    pm = pluggy.PluginManager("moderation")
    pm.add_hookspecs(hookspecs)
    return {name for name in dir(pm.hook) if not name.startswith("_")}


# -- installing a plugin ------------------------------------------------------------------
def fixture_entry_points() -> dict[str, str]:
    """The entry points the fixture's pyproject.toml declares."""
    project = tomllib.loads((FIXTURE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return dict(project["entry-points"][ENTRY_POINT_GROUP])


@pytest.fixture
def install(tmp_path, monkeypatch):
    """``install(distribution, entry_points)`` puts a distribution on
    ``sys.path`` the way pip leaves it in site-packages."""
    site = tmp_path / "site-packages"
    site.mkdir()
    shutil.copytree(FIXTURE / PACKAGE, site / PACKAGE)
    monkeypatch.syspath_prepend(str(site))

    def install_distribution(name: str, points: dict[str, str], version: str = "0.1.0") -> None:
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                                       encoding="utf-8")
        lines = [f"[{ENTRY_POINT_GROUP}]"] + [f"{key} = {value}" for key, value in points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        importlib.invalidate_caches()

    yield install_distribution
    for module in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[module]


@pytest.fixture
def with_fixture(install):
    install("moderation-fixture-plugin", fixture_entry_points())


@pytest.fixture
def plugin_app(tmp_path, sqlite_url, monkeypatch):
    """``plugin_app(**config)``: an app created after the plugins are installed."""
    monkeypatch.delenv("MODERATION_PLUGINS", raising=False)
    apps = []

    def create(**config):
        app = make_app(tmp_path, sqlite_url, **config)
        apps.append(app)
        return app

    yield create
    for app in apps:
        app.extensions["db"].dispose()


def fixture_state(app) -> dict:
    return app.extensions.get("fixture_plugin", {"changes": []})


# -- discovery -------------------------------------------------------------------------------
def test_the_installed_plugin_is_found_through_its_entry_point(with_fixture, plugin_app):
    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert found["fixture"] == PACKAGE
    pm = plugin_app().extensions["plugins"]
    assert pm.has_plugin("fixture")
    assert pm.get_plugin("fixture").__name__ == PACKAGE


def test_built_ins_are_registered_through_the_same_entry_point_group(plugin_app):
    """setup.cfg declares every built-in in ``moderation.plugins``; the
    installed metadata agrees with it (it may lag behind setup.cfg until the
    next ``pip install -e .``: ``BUILTINS`` then registers the rest under the
    same names)."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    declared = dict(line.replace(" ", "").split("=", 1) for line in
                    config["options.entry_points"][ENTRY_POINT_GROUP].strip().splitlines())
    assert declared == BUILTINS
    installed = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)
                 if ep.value.startswith("moderation.")}
    assert installed and all(BUILTINS.get(name) == module for name, module in installed.items())
    pm = plugin_app().extensions["plugins"]
    for name, module in BUILTINS.items():
        assert pm.get_plugin(name).__name__ == module


@pytest.mark.parametrize("allow", ["other", "other,another"])
def test_the_allow_list_excludes_other_plugins_but_not_the_built_ins(allow, with_fixture, plugin_app,
                                                                       monkeypatch):
    monkeypatch.setenv("MODERATION_PLUGINS", allow)
    app = plugin_app()
    pm = app.extensions["plugins"]
    assert not pm.has_plugin("fixture")
    assert all(pm.has_plugin(name) for name in BUILTINS)
    service = app.extensions["moderation"]
    dialogue = seed_dialogue(service)
    with pytest.raises(CommandError) as refused:
        run(service, "agenda.add_item", {"dialogue_id": dialogue["dialogue_id"], "item_type": "side_event"})
    assert refused.value.code == "invalid_payload"
    run(service, "agenda.add_item", {"dialogue_id": dialogue["dialogue_id"], "item_type": "briefing"})
    assert app.test_client().get(f"/plugins/fixture/d/{dialogue['dialogue_id']}/whoami").status_code == 404


@pytest.mark.parametrize("allow", ["fixture", "other, fixture", "*", ""])  # empty counts as unset: all
def test_the_allow_list_admits_the_plugins_it_names(allow, with_fixture, plugin_app, monkeypatch):
    monkeypatch.setenv("MODERATION_PLUGINS", allow)
    pm = plugin_app().extensions["plugins"]
    assert pm.has_plugin("fixture") and all(pm.has_plugin(name) for name in BUILTINS)


def test_a_plugin_that_fails_to_load_stops_the_app_unless_left_out(install, plugin_app, monkeypatch):
    install("moderation-broken-plugin", {"broken": "moderation_no_such_module"})
    with pytest.raises(PluginError) as failed:
        plugin_app()
    assert "'broken'" in str(failed.value) and "moderation_no_such_module" in str(failed.value)
    monkeypatch.setenv("MODERATION_PLUGINS", "fixture")
    assert not plugin_app().extensions["plugins"].has_plugin("broken")


# -- agenda_item_types ---------------------------------------------------------------------
def test_an_installed_plugin_adds_an_agenda_item_type(with_fixture, plugin_app):
    service = plugin_app().extensions["moderation"]
    dialogue = seed_dialogue(service)
    item_id = run(service, "agenda.add_item", {"dialogue_id": dialogue["dialogue_id"], "item_type": "side_event",
                                               "title": "Survivor-led organizations: a side event"})["item_id"]
    snapshot = service.snapshot(dialogue["principals"]["participant0"], dialogue["dialogue_id"])
    item = next(i for i in snapshot["sections"]["agenda"]["items"] if i["id"] == item_id)
    assert item["type"] == "side_event"
    assert item["type_label"] == "Side event"
    assert item["shows"] == ["panel"]
    assert item["planned_seconds"] == 25 * 60  # the type's default duration
    with pytest.raises(CommandError) as unknown:
        run(service, "agenda.add_item", {"dialogue_id": dialogue["dialogue_id"], "item_type": "no_such_type"})
    assert "side_event" in unknown.value.details[0]["message"]


def test_two_plugins_offering_the_same_type_stop_the_app(install, plugin_app):
    install("moderation-fixture-plugin", fixture_entry_points())
    install("moderation-fixture-twin", {"twin": f"{PACKAGE}.twin"})
    with pytest.raises(PluginError) as clash:
        plugin_app()
    message = str(clash.value)
    assert "'side_event'" in message and "'fixture'" in message and "'twin'" in message


class _Offers:
    """A plugin object offering one named thing under a built-in's name."""

    def __init__(self, hook: str, offer):
        setattr(self, hook, hookimpl(lambda: [offer]))
        getattr(self, hook).__name__ = hook


CLASHES = {
    "agenda_item_types": (AgendaItemType("briefing", "Briefing (again)", 5), "agenda-item type", "agenda_types"),
    "queue_policies": (QueuePolicy("first_come_first_served", "Again", "", lambda e, b, c, r: e),
                       "queue policy", "queue_policies"),
    "input_filters": (InputFilter("exact_duplicate", "Again", lambda draft, session: None),
                      "input filter", "input_filters"),
    "summary_exporters": (Exporter("md", "Again", "md", "text/markdown", lambda document: b""),
                          "export format", "exporters"),
    "similarity_backends": (types.SimpleNamespace(name="tfidf", label="Again", per_text=False),
                            "similarity backend", "similarity"),
}


@pytest.mark.parametrize("hook", sorted(CLASHES))
def test_a_name_offered_twice_stops_the_app_whatever_the_hook(hook, plugin_app):
    offer, what, builtin = CLASHES[hook]
    with pytest.raises(PluginError) as clash:
        plugin_app(PLUGIN_OBJECTS=[_Offers(hook, offer)])
    message = str(clash.value)
    assert message.startswith(f"{what} {offer.name!r} is offered by both")
    assert f"'{builtin}'" in message


# -- register_blueprints -----------------------------------------------------------------------
def test_an_installed_plugin_mounts_its_blueprint(with_fixture, plugin_app):
    app = plugin_app()
    dialogue = seed_dialogue(app.extensions["moderation"])
    client = app.test_client()
    path = f"/plugins/fixture/d/{dialogue['dialogue_id']}/whoami"
    assert client.get(path).status_code == 403  # no role yet
    assert client.get(f"/l/{dialogue['tokens']['moderator']}").status_code == 302
    response = client.get(path)
    assert response.status_code == 200
    assert response.get_json()["roles"] == ["moderator"]
    assert "Content-Security-Policy" in response.headers  # the app's headers apply to plugin routes too


# -- dialogue_changed --------------------------------------------------------------------------
def test_dialogue_changed_is_called_after_the_commit(with_fixture, plugin_app):
    app = plugin_app()
    service = app.extensions["moderation"]
    dialogue = seed_dialogue(service)
    calls_before = len(fixture_state(app)["changes"])
    outcome = service.dispatch(dialogue["principals"]["moderator"], "agenda.advance",
                               {"dialogue_id": dialogue["dialogue_id"]}, "advance-once-0001")
    calls = fixture_state(app)["changes"][calls_before:]
    assert calls == [{"command": "agenda.advance", "dialogue_id": dialogue["dialogue_id"],
                      "version": outcome.version, "committed_version": outcome.version,
                      "result": {"current_item_id": dialogue["item_ids"][0]}, "touched": sorted(outcome.touched)}]
    assert "agenda" in calls[0]["touched"]

    # A replayed command changes nothing, so the hook is not called again.
    replay = service.dispatch(dialogue["principals"]["moderator"], "agenda.advance",
                              {"dialogue_id": dialogue["dialogue_id"]}, "advance-once-0001")
    assert replay.replayed and len(fixture_state(app)["changes"]) == calls_before + 1
    # A refused command commits nothing and is not reported either.
    with pytest.raises(CommandError):
        run(service, "agenda.resume_item", {"dialogue_id": dialogue["dialogue_id"]},
            dialogue["principals"]["moderator"])
    assert len(fixture_state(app)["changes"]) == calls_before + 1


def test_an_exception_in_dialogue_changed_is_logged_and_changes_nothing(with_fixture, plugin_app, caplog):
    app = plugin_app(FIXTURE_PLUGIN_FAIL=True)
    service = app.extensions["moderation"]
    dialogue = seed_dialogue(service)
    moderator = dialogue["principals"]["moderator"]
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="moderation"):
        outcome = service.dispatch(moderator, "agenda.advance", {"dialogue_id": dialogue["dialogue_id"]})
    assert outcome.result == {"current_item_id": dialogue["item_ids"][0]}
    failures = [r for r in caplog.records if "dialogue_changed" in r.getMessage()]
    assert failures and failures[0].exc_info[0] is RuntimeError
    assert "agenda.advance" in failures[0].getMessage()
    snapshot = service.snapshot(moderator, dialogue["dialogue_id"])
    assert snapshot["version"] == outcome.version
    assert snapshot["sections"]["agenda"]["current_item_id"] == dialogue["item_ids"][0]
    # The same through an adapter: the HTTP API acknowledges the change.
    client = app.test_client()
    response = client.post(f"/api/v1/dialogues/{dialogue['dialogue_id']}/agenda/advance",
                           headers={"Authorization": f"Bearer {dialogue['tokens']['api_moderator']}"})
    assert response.status_code == 200 and response.get_json()["version"] == outcome.version + 1


# -- queue_policies --------------------------------------------------------------------------
def test_an_installed_plugin_adds_a_queue_policy(with_fixture, plugin_app):
    service = plugin_app().extensions["moderation"]
    dialogue = seed_dialogue(service)
    dialogue_id, principals = dialogue["dialogue_id"], dialogue["principals"]
    run(service, "agenda.advance", {"dialogue_id": dialogue_id}, principals["moderator"])
    snapshot = service.snapshot(principals["moderator"], dialogue_id)
    offered = {p["name"] for p in snapshot["sections"]["queue_staff"]["available_policies"]}
    assert "fixture_last_come_first_served" in offered
    run(service, "queue.configure", {"dialogue_id": dialogue_id, "policies": ["fixture_last_come_first_served"]},
        principals["moderator"])
    first = run(service, "queue.request_floor", {"dialogue_id": dialogue_id}, principals["participant0"])
    second = run(service, "queue.request_floor", {"dialogue_id": dialogue_id}, principals["participant1"])
    queue = service.snapshot(principals["moderator"], dialogue_id)["sections"]["queue"]
    assert queue["policies"] == ["fixture_last_come_first_served"]
    assert [entry["id"] for entry in queue["waiting"]] == [second["entry_id"], first["entry_id"]]


# -- input_filters ---------------------------------------------------------------------------
def test_an_installed_plugin_filters_inputs(with_fixture, plugin_app):
    from moderation_fixture_plugin import FLAG_MARKER, HOLD_MARKER, REFUSE_MARKER

    app = plugin_app()
    service = app.extensions["moderation"]
    dialogue = seed_dialogue(service)
    dialogue_id, principals = dialogue["dialogue_id"], dialogue["principals"]
    participant = principals["participant0"]
    run(service, "agenda.advance", {"dialogue_id": dialogue_id}, principals["moderator"])  # the session is live

    def submit(text: str) -> dict:
        return run(service, "inputs.submit", {"dialogue_id": dialogue_id, "text": text}, participant)

    with pytest.raises(CommandError) as refused:
        submit(f"Protect victims first {REFUSE_MARKER}")
    assert refused.value.code == "invalid_payload"
    assert refused.value.message == "The fixture plugin refuses this text."
    assert refused.value.details[0]["filter"] == "fixture_markers"

    flagged = submit(f"Fund shelters in every region {FLAG_MARKER}")
    held = submit(f"Name the recruiters {HOLD_MARKER}")
    plain = submit("Train labour inspectors to recognise forced labour")
    assert (flagged["status"], held["status"], plain["status"]) == ("published", "pending", "published")
    with app.extensions["db"].session() as session:
        stored = dict(session.execute(select(Input.id, Input.flagged).where(Input.dialogue_id == dialogue_id)).all())
    assert len(stored) == 3, "a refused input is not stored"
    assert stored[flagged["input_id"]] == "The fixture plugin flags this text."
    assert stored[plain["input_id"]] == ""


# -- summary_exporters ------------------------------------------------------------------------
def test_an_installed_plugin_adds_a_summary_format(with_fixture, plugin_app):
    app = plugin_app()
    service = app.extensions["moderation"]
    dialogue = seed_dialogue(service)
    dialogue_id = dialogue["dialogue_id"]
    run(service, "agenda.add_item", {"dialogue_id": dialogue_id, "item_type": "side_event",
                                     "title": "Survivor-led organizations"})
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {dialogue['tokens']['api_moderator']}"}
    formats = client.get("/api/v1/export-formats", headers=bearer).get_json()["formats"]
    assert {"name": "fixture_agenda", "label": "Agenda titles (fixture)", "extension": "txt",
            "media_type": "text/plain; charset=utf-8"} in formats

    response = client.get(f"/api/v1/dialogues/{dialogue_id}/summary/export?format=fixture_agenda", headers=bearer)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.headers["Content-Disposition"].endswith('.txt"')
    lines = response.get_data(as_text=True).splitlines()
    assert len(lines) == 1 + 5
    assert lines[-1] == "5. [Side event] Survivor-led organizations"
    assert lines[1].startswith("1. [Briefing on the review process] ")
    again = client.get(f"/api/v1/dialogues/{dialogue_id}/summary/export?format=fixture_agenda", headers=bearer)
    assert again.get_data() == response.get_data()


# -- similarity_backends ------------------------------------------------------------------------
def test_an_installed_plugin_adds_a_similarity_backend(with_fixture, plugin_app):
    """The plugin's backend is the default (plugins before the built-ins): new
    inputs get its vectors stored, and the assistant's suggestions use it;
    ASSIST_BACKEND chooses another."""
    app = plugin_app(ASSIST_BACKEND=None, INPUT_RATE_BURST=1000, INPUT_RATE_PER_MINUTE=1000)
    assistant = app.extensions["assistant"]
    assert assistant.backend.name == "fixture_words"
    service = app.extensions["moderation"]
    dialogue = seed_dialogue(service)
    dialogue_id = dialogue["dialogue_id"]
    run(service, "agenda.start_item", {"dialogue_id": dialogue_id, "item_id": dialogue["item_ids"][3]})
    texts = ["Marking of firearms at import should be mandatory",
             "Mandatory should be marking of firearms at import",
             "Victims need legal aid in their own language"]
    ids = [run(service, "inputs.submit", {"dialogue_id": dialogue_id, "text": text},
               dialogue["principals"][f"participant{n % 2}"])["input_id"] for n, text in enumerate(texts)]
    assistant.store_missing(dialogue_id)  # the follow-up's task may have stored some or all of them first
    assert assistant.store_missing(dialogue_id) == 0
    with app.extensions["db"].session() as session:
        stored = dict(session.execute(select(InputVector.input_id, InputVector.backend)).all())
    assert stored == dict.fromkeys(ids, "fixture_words")
    found = service.read(dialogue["principals"]["rapporteur"], dialogue_id, "assist.duplicates", {"input_id": ids[0]})
    assert found["backend"]["name"] == "fixture_words"
    best = found["items"][0]["candidates"][0]
    assert best["input_id"] == ids[1] and best["score"] == pytest.approx(1.0, abs=1e-3) and best["likely"]

    chosen = plugin_app(ASSIST_BACKEND="tfidf")
    assert chosen.extensions["assistant"].backend.name == "tfidf"
    with pytest.raises(RuntimeError, match="not a similarity backend"):
        plugin_app(ASSIST_BACKEND="nonesuch")


# -- every hook is documented and tested ---------------------------------------------------
# Each hook in hookspecs.py and the tests that exercise it through a real
# plugin. A new hook without an entry here makes the next test fail.
HOOK_TESTS = {
    "agenda_item_types": [test_an_installed_plugin_adds_an_agenda_item_type,
                          test_two_plugins_offering_the_same_type_stop_the_app],
    "register_blueprints": [test_an_installed_plugin_mounts_its_blueprint],
    "dialogue_changed": [test_dialogue_changed_is_called_after_the_commit,
                         test_an_exception_in_dialogue_changed_is_logged_and_changes_nothing],
    "queue_policies": [test_an_installed_plugin_adds_a_queue_policy],
    "input_filters": [test_an_installed_plugin_filters_inputs],
    "summary_exporters": [test_an_installed_plugin_adds_a_summary_format],
    "similarity_backends": [test_an_installed_plugin_adds_a_similarity_backend,
                            test_a_name_offered_twice_stops_the_app_whatever_the_hook],
}


def test_every_hook_is_exercised_by_a_test():
    assert set(HOOK_TESTS) == hook_names(), "map each hook in hookspecs.py to the tests that exercise it"
    module = sys.modules[__name__]
    for hook, tests in HOOK_TESTS.items():
        assert tests, hook
        for test in tests:
            assert test.__name__.startswith("test_") and getattr(module, test.__name__) is test


def test_the_fixture_plugin_implements_every_hook():
    source = (FIXTURE / PACKAGE / "__init__.py").read_text(encoding="utf-8")
    for hook in hook_names():
        assert re.search(rf"@hookimpl\s+def {hook}\(", source), hook


def doc_sections() -> dict[str, str]:
    """The docs' second-level sections by heading (code spans and a call's
    parentheses removed: ``## `dialogue_changed(app, outcome)` `` -> dialogue_changed)."""
    text = DOCS.read_text(encoding="utf-8")
    sections: dict[str, str] = {}
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, _, body = part.partition("\n")
        name = re.sub(r"\(.*\)", "", heading.replace("`", "")).strip()
        sections[name] = body
    return sections


@pytest.mark.parametrize("hook", sorted(hook_names()))
def test_every_hook_is_documented(hook):
    sections = doc_sections()
    assert hook in sections, f"docs/plugins.md needs a '## {hook}' section"
    body = sections[hook]
    spec = getattr(hookspecs, hook)
    for argument in inspect.signature(spec).parameters:
        assert f"`{argument}`" in body, f"the {hook} section should describe its argument {argument!r}"
    assert re.search(r"^Called\b|\bcalled\b", body, re.M), f"say when {hook} is called"
    assert re.search(r"[Rr]eturn", body), f"say what {hook} returns"
    example = re.search(r"```python\n(.*?)```", body, re.S)
    assert example and re.search(rf"@hookimpl\s+def {hook}\(", example.group(1)), f"give an example of {hook}"


def test_the_docs_describe_discovery_the_allow_list_and_the_built_ins():
    text = DOCS.read_text(encoding="utf-8")
    assert ENTRY_POINT_GROUP in text
    assert "MODERATION_PLUGINS" in text
    assert "entry_points" in text or "entry-points" in text
    for name, module in BUILTINS.items():
        assert name in text and module in text, name


def test_the_docs_examples_are_working_plugins(plugin_app):
    """Every Python example in docs/plugins.md runs as a plugin: the app
    starts with it, and each hook it implements answers."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= len(hook_names())
    for index, source in enumerate(blocks):
        module = types.ModuleType(f"docs_example_{index}")
        exec(compile(source, f"docs/plugins.md example {index}", "exec"), module.__dict__)
        app = plugin_app(PLUGIN_OBJECTS=[module])
        pm = app.extensions["plugins"]
        implemented = [name for name in hook_names() if callable(getattr(module, name, None))]
        assert implemented, f"example {index} implements no hook"
        for name in implemented:
            callers = [impl.plugin for impl in getattr(pm.hook, name).get_hookimpls()]
            assert module in callers, f"example {index}: {name} is not registered"
