"""Input filters: the built-in ones (``moderation/plugins/input_filters.py``)
as plain functions, and every filter through the ``input_filters`` hook, in a
real app: the order they run in (built-ins first, then plugins in
registration order) and how verdicts combine (the first refusal wins, nothing
is stored; otherwise hold beats flag)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import make_app, run, seed_dialogue
from sqlalchemy import func, select

from moderation.core.errors import CommandError
from moderation.models import Input
from moderation.plugins import filters_in_order, make_plugin_manager
from moderation.plugins.hookspecs import FilterVerdict, InputDraft, InputFilter, hookimpl
from moderation.plugins.input_filters import (
    DUPLICATE,
    FORBIDDEN,
    LENGTH,
    _exact_duplicate,
    _length_and_characters,
    normalized,
)

ROOT = Path(__file__).resolve().parent.parent


def draft(text: str, *, kind: str = "comment", max_chars: int = 50, max_words: int = 10,
          participant_id: int | None = 1, dialogue_id: int = 1, input_id: int | None = None) -> InputDraft:
    return InputDraft(dialogue_id=dialogue_id, participant_id=participant_id, kind=kind, text=text,
                      max_chars=max_chars, max_words=max_words, input_id=input_id)


# -- the built-ins as functions ------------------------------------------------------------
def test_normalized_folds_white_space_case_and_unicode_forms():
    assert normalized("  Protect\tvictims \n FIRST ") == "protect victims first"
    assert normalized("Cafe\u0301") == normalized("Café")          # decomposed and composed é
    assert normalized("Straße") == normalized("STRASSE")           # casefold, not lower
    assert normalized("victims first") != normalized("victims, first")


def test_empty_text_is_refused():
    for text in ("", "   ", "\n\t \n"):
        verdict = _length_and_characters(draft(text), None)
        assert (verdict.action, verdict.code) == ("refuse", "invalid_payload")
        assert "empty" in verdict.message


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x08", "\x0b", "\x0c", "\x0e", "\x1b", "\x1f", "\x7f",
                                  "\u202a", "\u202e", "\u2066", "\u2069"])
def test_control_and_direction_override_characters_are_refused(char):
    verdict = _length_and_characters(draft(f"plain {char} text"), None)
    assert verdict.action == "refuse" and "control characters" in verdict.message


def test_tabs_line_breaks_and_other_scripts_are_fine():
    for text in ("line one\nline two", "a\ttab", "Привет, 你好, مرحبا", "emoji 🙂 ok"):
        assert _length_and_characters(draft(text), None) is None, text
    assert not FORBIDDEN.search("\t\n")


def test_comments_are_limited_in_characters_statements_in_words():
    assert _length_and_characters(draft("x" * 50), None) is None
    verdict = _length_and_characters(draft("x" * 51), None)
    assert verdict.action == "refuse" and "up to 50 characters" in verdict.message and "51" in verdict.message
    long_statement = " ".join(["wordy"] * 10)                       # 59 characters, 10 words
    assert _length_and_characters(draft(long_statement, kind="statement"), None) is None
    verdict = _length_and_characters(draft(long_statement + " more", kind="statement"), None)
    assert verdict.action == "refuse" and "up to 10 words" in verdict.message and "11" in verdict.message


def test_the_built_in_plugin_offers_both_filters_in_order():
    import moderation.plugins.input_filters as builtin

    assert builtin.input_filters() == [LENGTH, DUPLICATE]
    assert [f.name for f in builtin.input_filters()] == ["length_and_characters", "exact_duplicate"]


@pytest.fixture
def filtered_app(tmp_path, sqlite_url):
    """An app with two plugin filters registered after the built-ins, in the
    order First, Second. Each reacts to words in the text: ``first-refuse``,
    ``first-hold``, ``first-flag`` (and the same for ``second-``)."""
    calls: list[str] = []

    def plugin(name: str):
        class Plugin:
            @hookimpl
            def input_filters(self):
                def check(d, session):
                    calls.append(name)
                    for action in ("refuse", "hold", "flag"):
                        if f"{name}-{action}" in d.text:
                            return FilterVerdict(action, f"{name} says {action}",
                                                 code="conflict" if action == "refuse" else "invalid_payload")
                    return None if name == "first" else FilterVerdict("accept")
                return [InputFilter(name, name.title(), check)]
        return Plugin()

    application = make_app(tmp_path, sqlite_url, PLUGIN_OBJECTS=[plugin("first"), plugin("second")],
                           INPUT_RATE_BURST=1000, INPUT_RATE_PER_MINUTE=1000)
    service = application.extensions["moderation"]
    seeded = seed_dialogue(service)
    run(service, "agenda.advance", {"dialogue_id": seeded["dialogue_id"]}, seeded["principals"]["moderator"])
    application.calls = calls
    application.seeded = seeded
    yield application
    application.extensions["db"].dispose()


def submit(app, text: str, who: str = "participant0") -> dict:
    seeded = app.seeded
    return run(app.extensions["moderation"], "inputs.submit", {"dialogue_id": seeded["dialogue_id"], "text": text},
               seeded["principals"][who])


def stored(app, input_id: int) -> tuple[str, str]:
    """(status, flagged) of a stored input."""
    with app.extensions["db"].session() as s:
        row = s.get(Input, input_id)
        return row.status, row.flagged


def count(app) -> int:
    with app.extensions["db"].session() as s:
        return s.scalar(select(func.count()).select_from(Input))


def refusal(app, text: str) -> CommandError:
    before = count(app)
    with pytest.raises(CommandError) as caught:
        submit(app, text)
    assert count(app) == before, "a refused input was stored"
    return caught.value


def test_filters_run_built_ins_first_then_plugins_in_registration_order(filtered_app):
    pm = filtered_app.extensions["moderation"].plugins
    assert [f.name for f in filters_in_order(pm)] == ["length_and_characters", "exact_duplicate", "first",
                                                      "second"]
    filtered_app.calls.clear()
    submit(filtered_app, "nothing special")
    assert filtered_app.calls == ["first", "second"]
    # Registration order, not alphabetical or any other.
    pm = make_plugin_manager(extra=(named_filter("zeta"), named_filter("alpha")))
    assert [f.name for f in filters_in_order(pm)] == ["length_and_characters", "exact_duplicate", "zeta", "alpha"]


def named_filter(name: str):
    class Plugin:
        @hookimpl
        def input_filters(self):
            return [InputFilter(name, name, lambda d, session: None)]
    return Plugin()


def test_the_first_refusal_wins_and_stops_the_rest(filtered_app):
    error = refusal(filtered_app, "first-refuse and second-refuse")
    assert (error.code, error.message) == ("conflict", "first says refuse")
    assert error.details == [{"field": "text", "message": "first says refuse", "filter": "first"}]
    filtered_app.calls.clear()
    error = refusal(filtered_app, "hidden \u202e first-refuse")  # a built-in refuses before any plugin runs
    assert (error.code, error.details[0]["filter"]) == ("invalid_payload", "length_and_characters")
    assert filtered_app.calls == []
    error = refusal(filtered_app, "first-hold then second-refuse")  # a refusal beats an earlier hold
    assert error.message == "second says refuse"


def test_a_duplicate_is_refused_before_the_plugins_see_it(filtered_app):
    submit(filtered_app, "Once only")
    filtered_app.calls.clear()
    error = refusal(filtered_app, "ONCE   only")
    assert (error.code, error.details[0]["filter"]) == ("conflict", "exact_duplicate")
    assert filtered_app.calls == []


HOLD_AND_FLAG = [
    ("second-flag", "published", "second says flag"),
    ("first-flag second-flag", "published", "first says flag"),      # equal strength: the first stays
    ("first-flag second-hold", "pending", "second says hold"),       # hold beats flag ...
    ("first-hold second-flag", "pending", "first says hold"),        # ... whatever the order
    ("first-hold second-hold", "pending", "first says hold"),
    ("nothing to say", "published", ""),                             # None and "accept" change nothing
]


def test_hold_beats_flag(filtered_app):
    for text, status, flagged in HOLD_AND_FLAG:
        input_id = submit(filtered_app, text)["input_id"]
        assert stored(filtered_app, input_id) == (status, flagged), text


def test_filters_see_the_cleaned_text_and_the_limits(filtered_app, tmp_path):
    seen = []

    class Spy:
        @hookimpl
        def input_filters(self):
            return [InputFilter("spy", "Spy", lambda d, session: seen.append(d))]

    application = make_app(tmp_path / "spy", f"sqlite:///{tmp_path / 'spy.sqlite3'}", PLUGIN_OBJECTS=[Spy()])
    service = application.extensions["moderation"]
    seeded = seed_dialogue(service)
    run(service, "inputs.configure", {"dialogue_id": seeded["dialogue_id"], "max_chars": 300})
    run(service, "agenda.advance", {"dialogue_id": seeded["dialogue_id"]}, seeded["principals"]["moderator"])
    result = run(service, "inputs.submit", {"dialogue_id": seeded["dialogue_id"], "text": "  one  \r\ntwo\r\n",
                                            "kind": "question"}, seeded["principals"]["participant1"])
    [d] = seen
    assert (d.text, d.kind, d.max_chars, d.max_words, d.input_id, d.participant_id, d.dialogue_id) == (
        "one\ntwo", "question", 300, 1500, None, seeded["participant_ids"][1], seeded["dialogue_id"])
    run(service, "inputs.edit", {"dialogue_id": seeded["dialogue_id"], "input_id": result["input_id"],
                                 "text": "three"}, seeded["principals"]["participant1"])
    assert seen[-1].input_id == result["input_id"] and seen[-1].text == "three"
    application.extensions["db"].dispose()


# -- the duplicate check against the database ------------------------------------------------
def test_the_duplicate_check_compares_with_the_participants_own_inputs(filtered_app):
    service = filtered_app.extensions["moderation"]
    seeded = filtered_app.seeded
    dialogue_id = seeded["dialogue_id"]
    amina, jonas = seeded["participant_ids"]
    first = submit(filtered_app, "Shelters  need funding")["input_id"]
    withdrawn = submit(filtered_app, "Changed my mind")["input_id"]
    run(service, "inputs.withdraw", {"dialogue_id": dialogue_id, "input_id": withdrawn},
        seeded["principals"]["participant0"])
    with filtered_app.extensions["db"].session() as s:
        def check(text, **kw):
            return _exact_duplicate(draft(text, dialogue_id=dialogue_id, **kw), s)

        verdict = check("shelters need FUNDING", participant_id=amina)
        assert (verdict.action, verdict.code) == ("refuse", "conflict")
        assert check("shelters need funding", participant_id=jonas) is None       # someone else's
        assert check("shelters need funding", participant_id=None) is None        # no participant (oral)
        assert check("shelters need funding", participant_id=amina, input_id=first) is None  # itself
        assert check("changed my mind", participant_id=amina) is None             # withdrawn
        assert _exact_duplicate(draft("shelters need funding", dialogue_id=dialogue_id + 1,
                                      participant_id=amina), s) is None           # another dialogue
    # The same check runs through the hook (DUPLICATE is what the plugin offers).
    assert DUPLICATE.check is _exact_duplicate and LENGTH.check is _length_and_characters


def test_submissions_work_when_the_built_in_plugin_module_was_imported_first(tmp_path):
    """A third-party plugin may import the built-in module (to reuse
    ``normalized``) before anything imports ``moderation.features.inputs.commands``: the
    package name ``moderation.plugins.input_filters`` is then the module, not
    the function. Submissions must still pass the filters."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        import moderation.plugins.input_filters  # first, before moderation.features.inputs.commands
        from conftest import make_app, run, seed_dialogue
        from pathlib import Path
        app = make_app(Path({str(tmp_path)!r}), "sqlite:///{tmp_path / 'first.sqlite3'}")
        service = app.extensions["moderation"]
        seeded = seed_dialogue(service)
        run(service, "agenda.advance", {{"dialogue_id": seeded["dialogue_id"]}}, seeded["principals"]["moderator"])
        payload = {{"dialogue_id": seeded["dialogue_id"], "text": "hello"}}
        print(run(service, "inputs.submit", payload, seeded["principals"]["participant0"])["status"])
        try:
            run(service, "inputs.submit", payload, seeded["principals"]["participant0"])
        except Exception as exc:
            print(exc.code)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["published", "conflict"], result.stdout + result.stderr[-3000:]
