"""What the rapporteur's assistant's commands refuse, through the HTTP API
under /api/v1: nested assignments checked as strictly as any payload, a
deleted theme never confused with the next one, and an idempotency key that
never answers for another dialogue. A refusal changes nothing."""
from __future__ import annotations

import pytest
from conftest import run, seed_dialogue
from sqlalchemy import select
from test_assist import app  # noqa: F401 - the fixture: an app without input rate limits

from moderation.models import AuditEntry, IdempotencyRecord, InputTheme, Theme

TEXTS = ["States parties should require the marking of every firearm at import.",
         "Online marketplaces sell gun parts without any checks on the buyer.",
         "Victims of trafficking need legal aid and interpretation in their own language."]


@pytest.fixture
def world(app):
    service = app.extensions["moderation"]
    seeded = seed_dialogue(service)
    did = seeded["dialogue_id"]
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": seeded["item_ids"][3]})
    ids = [run(service, "inputs.submit", {"dialogue_id": did, "text": text, "attach_to": "dialogue"},
               seeded["principals"][f"participant{n % 2}"])["input_id"] for n, text in enumerate(TEXTS)]
    rapporteur_api = run(service, "access.issue_api_token", {"dialogue_id": did, "role": "rapporteur"})["token"]
    return {"service": service, "did": did, "ids": ids, "client": app.test_client(), "seeded": seeded,
            "bearer": {"Authorization": f"Bearer {rapporteur_api}"}}


def state(service):
    """Everything a refused assist command must leave as it was."""
    with service.db.session() as session:
        return (sorted((t.id, t.dialogue_id, t.name) for t in session.scalars(select(Theme))),
                sorted((r.input_id, r.theme_id) for r in session.scalars(select(InputTheme))),
                len(list(session.scalars(select(AuditEntry)))),
                len(list(session.scalars(select(IdempotencyRecord)))))


def post(world, path, body, key=None):
    headers = dict(world["bearer"])
    if key is not None:
        headers["Idempotency-Key"] = key
    return world["client"].post(f"/api/v1/dialogues/{world['did']}{path}", json=body, headers=headers)


def create_theme(world, name):
    answer = post(world, "/themes", {"name": name})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["result"]["theme_id"]


# The items of assist.accept_themes refuse coercion (true is not input 1,
# "7" is not theme 7) and unknown fields, as every payload does.
@pytest.mark.parametrize("assignment", [
    {"input_id": True, "theme_id": "THEME"},          # a boolean as an id: input 1
    {"input_id": "FIRST", "theme_id": "THEME_STR"},   # a string as an id
    {"input_id": "FIRST_FLOAT", "theme_id": "THEME"},  # a float as an id
    {"input_id": "FIRST", "theme_id": "THEME", "note": "an unknown field"},
], ids=["bool-id", "string-id", "float-id", "unknown-field"])
def test_accept_themes_refuses_wrong_types_and_unknown_fields_in_an_assignment(world, assignment):
    theme = create_theme(world, "Marking")
    values = {"THEME": theme, "THEME_STR": str(theme), "FIRST": world["ids"][0], "FIRST_FLOAT": float(world["ids"][0])}
    body = {"assignments": [{k: values.get(v, v) if isinstance(v, str) else v for k, v in assignment.items()}]}
    before = state(world["service"])
    answer = post(world, "/assist/themes/accept", body)
    assert answer.status_code == 422 and answer.get_json()["error"]["code"] == "invalid_payload", answer.get_json()
    assert state(world["service"]) == before, "a refused payload changed nothing"
    # As every other command does with the same values:
    tag = post(world, "/inputs/tag", {"input_id": True, "theme_ids": [theme]})
    assert tag.status_code == 422


# A deleted theme's id is not given to the next theme (SQLite included, see
# migration 0012): a suggestion accepted for it is not found.
@pytest.mark.parametrize("command,body", [
    ("/assist/clusters/accept", lambda theme, ids: {"input_ids": ids[:2], "theme_id": theme}),
    ("/assist/themes/accept", lambda theme, ids: {"assignments": [{"input_id": ids[0], "theme_id": theme}]}),
], ids=["accept_cluster", "accept_themes"])
def test_accepting_into_a_deleted_theme_is_not_found_even_after_another_theme_is_created(world, command, body):
    deleted = create_theme(world, "Marking")
    assert post(world, "/themes/update", {"theme_id": deleted, "delete": True}).status_code == 200
    other = create_theme(world, "Somebody else's new theme")
    before = state(world["service"])
    answer = post(world, command, body(deleted, world["ids"]))
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "not_found", (
        f"accepted into deleted theme {deleted}: {answer.get_json()} (the new theme is {other})")
    assert state(world["service"]) == before


# The same secretariat key sent in another dialogue is a conflict: the stored
# answer (the first dialogue's version and theme) would say that a write was
# done that never was.
def test_a_key_used_in_one_dialogue_is_a_conflict_in_another(world):
    service = world["service"]
    site = run(service, "access.issue_site_api_token", {"label": "Integration"})["token"]
    other = seed_dialogue(service)
    run(service, "agenda.start_item", {"dialogue_id": other["dialogue_id"], "item_id": other["item_ids"][3]})
    other_input = run(service, "inputs.submit", {"dialogue_id": other["dialogue_id"], "text": TEXTS[0],
                                                 "attach_to": "dialogue"}, other["principals"]["participant0"])["input_id"]
    client, headers = world["client"], {"Authorization": f"Bearer {site}", "Idempotency-Key": "accept-cluster-0001"}
    first = client.post(f"/api/v1/dialogues/{world['did']}/assist/clusters/accept", headers=headers,
                        json={"input_ids": [world["ids"][0]], "name": "Marking"}).get_json()
    assert first["ok"] and not first["replayed"]
    second = client.post(f"/api/v1/dialogues/{other['dialogue_id']}/assist/clusters/accept", headers=headers,
                         json={"input_ids": [other_input], "name": "Marking"}).get_json()
    with service.db.session() as session:
        themes_of_other = list(session.scalars(select(Theme).where(Theme.dialogue_id == other["dialogue_id"])))
    assert not second["ok"] and second["error"]["code"] == "conflict", second
    assert themes_of_other == []
