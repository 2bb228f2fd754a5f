"""Every one-line text field refuses line breaks and control characters.

A name with ``\\r\\nBcc: ...`` in it made e-mail invitations fail after their
links were issued; the same text in a title makes a Markdown heading, in a
CSV row a new row. So every text field of every command payload is
``storable.SingleLine`` unless it is listed below as deliberately
multi-line: the walk over the command registry finds every text field
(nested models and lists included), so a field added later without the type
fails here."""
from __future__ import annotations

import types
import typing

import pytest
from conftest import run
from pydantic import BaseModel, ValidationError
from test_command_layer import db_state

from moderation.core.commands import REGISTRY
from moderation.core.errors import CommandError, validation_details
from moderation.core.storable import NOT_ONE_LINE
from moderation.features import load_features

load_features()

# Multi-line on purpose: what people write in paragraphs or one per line.
MULTI_LINE = {
    ("agenda.add_item", "description"), ("agenda.update_item", "description"),
    ("agenda.add_item", "presenters"), ("agenda.update_item", "presenters"),          # one per line
    ("inputs.submit", "text"), ("inputs.edit", "text"), ("inputs.correct", "text"), ("inputs.record_oral", "text"),
    ("inputs.moderate", "reason"),
    ("inputs.create_theme", "description"), ("inputs.update_theme", "description"),
    ("queue.request_floor", "note"), ("queue.add_speaker", "note"),
    ("summary.save_section", "text"), ("summary.configure", "chairs"),
    ("applications.submit", "organization.expertise"), ("applications.update", "organization.expertise"),
    ("applications.accept_late", "organization.expertise"),
    ("applications.decide", "reason"), ("travel.request", "note"), ("travel.decide", "note"),
    ("delegates.import_csv", "csv"),                                                   # rows checked one by one
}
# Never shown, sent or exported, and documented as "any characters".
SECRETS = {("user.create", "password"), ("user.set_password", "password")}
BAD = ["Mallory\r\nBcc: victim@evil.example", "a\nb", "a\rb", "a\tb", "a\x0bb", "a\x0cb", "a\x85b", "a\u2028b",
       "a\u2029b", "a\x1bb", "a\x9bb", "a\x7fb",
       # invisible: a reversed rest of the line, a name that looks empty or like another
       "Ana\u202eLima", "a\u2066b\u2069", "\u200b", "\ufeffAna", "An\u2060a"]
# Scripts and emoji need these: the right-to-left mark, the zero-width joiner and non-joiner.
GOOD = ["\u0646\u0648\u0631\u200f ABC", "\u0915\u094d\u200d\u0937", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"]


def _unwrap(annotation):
    """(kind, inner): kind is "text", "model", "list" or None."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds = [_unwrap(a) for a in typing.get_args(annotation) if a is not type(None)]
        return next((k for k in kinds if k[0] is not None), (None, None))
    if origin is list:
        return "list", typing.get_args(annotation)[0]
    if annotation is str:
        return "text", None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model", annotation
    return None, None


def text_fields(model: type[BaseModel], prefix: tuple = ()) -> list[tuple[tuple, typing.Any]]:
    """Every text field's location, lists as index 0."""
    found = []
    for name, field in model.model_fields.items():
        location = prefix + (name,)
        kind, inner = _unwrap(field.annotation)
        while kind == "list":
            location += (0,)
            kind, inner = _unwrap(inner)
        if kind == "text":
            found.append(location)
        elif kind == "model":
            found += text_fields(inner, location)
    return found


def put(location: tuple, value) -> dict:
    """A payload holding only ``value`` at ``location``."""
    for part in reversed(location):
        value = [value] if isinstance(part, int) else {part: value}
    return value


def dotted(location: tuple) -> str:
    return ".".join(str(p) for p in location if not isinstance(p, int))


FIELDS = sorted((name, location) for name, spec in REGISTRY.items() for location in text_fields(spec.payload))


def test_the_walk_finds_the_fields_and_the_exceptions_exist():
    found = {(name, dotted(location)) for name, location in FIELDS}
    assert ("applications.submit", "participants.name") in found and ("dialogue.update", "venue") in found
    assert MULTI_LINE | SECRETS <= found, f"listed but gone: {sorted((MULTI_LINE | SECRETS) - found)}"


@pytest.mark.parametrize("name,location", FIELDS, ids=[f"{n}:{dotted(loc)}" for n, loc in FIELDS])
def test_every_text_field_is_one_line_unless_listed(name, location):
    payload = REGISTRY[name].payload

    def problems_at(value) -> list[str]:
        """The messages a person reads for the field, as every adapter says them."""
        try:
            payload.model_validate(put(location, value))
        except ValidationError as exc:
            return [d["message"] for d in validation_details(exc) if d["field"] == ".".join(map(str, location))]
        return []

    if (name, dotted(location)) in MULTI_LINE | SECRETS:
        assert NOT_ONE_LINE not in problems_at("line one\nline two")
        return
    for bad in BAD:
        assert problems_at(bad), f"{name}: {dotted(location)} accepts {bad!r}"
    # Said in words, unless the field's own stricter format refuses it first.
    assert any(problems_at(v) in ([NOT_ONE_LINE], ["Not in the expected format."])
               for v in ("Ana\nBcc: x@y", "Ana Lima\nBcc: ana@example.org"))
    assert NOT_ONE_LINE not in problems_at(" trimmed\r\n")
    for good in GOOD:
        assert NOT_ONE_LINE not in problems_at(good), f"{name}: {dotted(location)} refuses {good!r}"


def test_a_refused_line_break_changes_nothing_and_names_the_field(service, dialogue):
    did = dialogue["dialogue_id"]
    before = db_state(service)
    cases = [("participant.register", {"dialogue_id": did, "name": "Mallory\r\nBcc: victim@evil.example"}, "name"),
             ("dialogue.update", {"dialogue_id": did, "venue": "Vienna\n# Heading"}, "venue"),
             ("agenda.add_item", {"dialogue_id": did, "title": "Item\u2028two"}, "title"),
             ("delegates.add", {"dialogue_id": did, "name": "Ana", "delegation": "Aus\x85tria",
                                "category": "state_party"}, "delegation")]
    for name, body, field in cases:
        with pytest.raises(CommandError) as caught:
            run(service, name, body)
        assert caught.value.code == "invalid_payload"
        assert {"field": field, "message": NOT_ONE_LINE} in caught.value.details
    assert db_state(service) == before
    # Surrounding white space is trimmed as before: a trailing line break is no line break.
    pid = run(service, "participant.register", {"dialogue_id": did, "name": "  Ana Lima\r\n"})["participant_id"]
    assert pid


def test_csv_rows_with_a_line_break_in_a_cell_are_refused(service, dialogue):
    did = dialogue["dialogue_id"]
    before = db_state(service)
    text = ('name,email,delegation,category,channel\n"Mallory\r\nBcc: victim@evil.example",m@evil.example,Austria,'
            'state_party,room\nAna Lima,ana@example.org,"Mexico\tCity",state_party,online\n')
    with pytest.raises(CommandError) as caught:
        run(service, "delegates.import_csv", {"dialogue_id": did, "csv": text})
    problems = {(d["row"], d["column"], d["message"]) for d in caught.value.details}
    assert problems == {(2, "name", NOT_ONE_LINE), (3, "delegation", NOT_ONE_LINE)}
    assert db_state(service) == before
