"""The draft summary built from what really happened: every part comes from
real commands (agenda, speaker queue, inputs, themes, merges, settings), on
SQLite and PostgreSQL; the rapporteurs' narratives per section with their
conflicts; who may export, through the service, the JSON API and the CLI."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import run

from moderation.cli import main
from moderation.core.auth import SYSTEM, Principal
from moderation.core.errors import CommandError

FORMATS = {"docx", "md", "html", "json", "inputs_csv", "inputs_xlsx", "interventions_csv"}


def document(service, principal=SYSTEM, dialogue_id=None):
    _exporter, data, _name = service.export(principal, dialogue_id, "json")
    return json.loads(data)


def play(service, d):
    """Run item 1 with two interventions and five inputs (named, anonymous,
    a suggestion, a question, a duplicate merged in), two themes."""
    p, dlg = d["principals"], d["dialogue_id"]
    run(service, "agenda.advance", {"dialogue_id": dlg}, p["moderator"])
    for who, kind in (("participant0", "statement"), ("participant1", "question")):
        run(service, "queue.request_floor", {"dialogue_id": dlg, "intervention_type": kind}, p[who])
        run(service, "queue.call_next", {"dialogue_id": dlg}, p["moderator"])
        run(service, "queue.end_speaker", {"dialogue_id": dlg}, p["moderator"])

    def submit(who, text, **extra):
        return run(service, "inputs.submit", {"dialogue_id": dlg, "text": text, **extra}, p[who])["input_id"]

    ids = {
        "named": submit("participant0", "Shelters for victims need stable funding."),
        "anonymous": submit("participant1", "Data on trafficking should be shared.", named=False),
        "duplicate": submit("participant1", "Shelters need funding that lasts.", named=True),
        "untagged": submit("participant0", "Thanks to the panel."),
        "suggestion": submit("participant0", "Adopt a national referral mechanism.", kind="suggestion"),
        "question": submit("participant1", "How is survivor input collected?", kind="question", named=False),
        "general": submit("participant1", "On the process as a whole.", attach_to="dialogue"),
    }
    themes = {name: run(service, "inputs.create_theme", {"dialogue_id": dlg, "name": name},
                        p["rapporteur"])["theme_id"] for name in ("Protection", "Data")}
    run(service, "inputs.tag", {"dialogue_id": dlg, "input_id": ids["named"],
                                "theme_ids": [themes["Protection"]]}, p["rapporteur"])
    run(service, "inputs.tag", {"dialogue_id": dlg, "input_id": ids["anonymous"],
                                "theme_ids": [themes["Data"]]}, p["rapporteur"])
    run(service, "inputs.merge", {"dialogue_id": dlg, "target_id": ids["named"],
                                  "source_ids": [ids["duplicate"]]}, p["rapporteur"])
    return ids, themes


def test_document_parts_come_from_the_commands(service, dialogue):
    d = dialogue
    ids, _themes = play(service, d)
    doc = document(service, dialogue_id=d["dialogue_id"])

    head = doc["dialogue"]
    assert head["title"] == "Summary of the Constructive Dialogue on Trafficking in Persons"
    assert head["date"] == "3 June 2026" and head["local_start"].startswith("2026-06-03T10:00")

    rows = {r["category"]: r for r in doc["attendance"]["rows"]}
    assert (rows["ngo"]["room"], rows["ngo"]["online"]) == (1, 0)
    assert (rows["academia"]["room"], rows["academia"]["online"]) == (0, 1)
    assert doc["attendance"]["totals"] == {"room": 1, "online": 1, "total": 2}

    agenda = doc["agenda"]
    assert [a["position"] for a in agenda] == [1, 2, 3, 4]
    assert [a["planned_start"] for a in agenda] == ["10:00", "10:20", "10:35", "11:35"]
    assert [a["planned_minutes"] for a in agenda] == [20, 15, 60, 45]
    assert agenda[0]["actual_start"] is not None and agenda[1]["actual_start"] is None

    first = doc["items"][0]
    assert first["key"] == f"item:{d['item_ids'][0]}"
    stats = first["statistics"]
    assert stats["interventions"] == 2
    assert {r["key"]: r["interventions"] for r in stats["by_channel"]} == {"room": 1, "online": 1}
    assert {r["key"]: r["interventions"] for r in stats["by_category"]} == {"ngo": 1, "academia": 1}
    assert doc["statistics"]["interventions"] == 2
    assert [i["name"] for i in doc["interventions"]] == ["Amina Okafor", "Jonas Lindqvist"]

    by_theme = {t["name"]: t["points"] for t in first["themes"]}
    assert list(by_theme) == ["Protection", "Data"]
    protection = by_theme["Protection"][0]
    assert protection["inputs"] == [ids["named"], ids["duplicate"]]  # cites the merged duplicate
    assert protection["organizations"] == []  # attribution is off by default
    assert [p["inputs"] for p in by_theme["Data"]] == [[ids["anonymous"]]]
    assert [p["inputs"] for p in first["other_points"]] == [[ids["untagged"]]]
    assert [p["text"] for p in first["suggestions"]] == ["Adopt a national referral mechanism."]
    assert [p["text"] for p in first["questions"]] == ["How is survivor input collected?"]
    assert [p["inputs"] for p in doc["general"]["other_points"]] == [[ids["general"]]]

    annex = {i["id"]: i for i in doc["annex"]["inputs"]}
    assert ids["duplicate"] not in annex  # merged: only the kept input is listed
    assert annex[ids["named"]]["author"] == "Amina Okafor"
    assert annex[ids["named"]]["organization"] == "Amina Okafor Organization"
    assert annex[ids["named"]]["merged"] == [ids["duplicate"]]
    assert annex[ids["anonymous"]]["author"] == "A participant"
    assert annex[ids["anonymous"]]["organization"] == ""
    assert doc["annex"]["organizations"] is None
    assert doc["settings"] == {"attribution": False, "list_organizations": False}
    spreadsheet = {r["id"]: r for r in doc["inputs"]}
    assert spreadsheet[ids["duplicate"]]["merged_into"] == ids["named"]
    assert spreadsheet[ids["anonymous"]]["author"] == "A participant"


def test_attribution_and_organization_list_are_switchable(service, dialogue):
    d = dialogue
    ids, _ = play(service, d)
    dlg = d["dialogue_id"]
    run(service, "summary.configure", {"dialogue_id": dlg, "attribution": True, "list_organizations": True,
                                       "chairs": "H.E. Chair One"}, d["principals"]["rapporteur"])
    doc = document(service, dialogue_id=dlg)
    points = {t["name"]: t["points"] for t in doc["items"][0]["themes"]}
    assert points["Protection"][0]["organizations"] == ["Amina Okafor Organization", "Jonas Lindqvist Organization"]
    assert points["Data"][0]["organizations"] == []  # anonymous stays anonymous
    assert [o["name"] for o in doc["annex"]["organizations"]] == [
        "Amina Okafor Organization", "Jonas Lindqvist Organization"]
    assert all(o["category"] for o in doc["annex"]["organizations"])
    assert doc["dialogue"]["chairs"] == "H.E. Chair One"
    _, md, _ = service.export(SYSTEM, dlg, "md")
    assert "Annex II. Participating organizations" in md.decode()

    run(service, "summary.configure", {"dialogue_id": dlg, "attribution": False, "list_organizations": False},
        d["principals"]["rapporteur"])
    doc = document(service, dialogue_id=dlg)
    assert all(not p["organizations"] for t in doc["items"][0]["themes"] for p in t["points"])
    assert doc["annex"]["organizations"] is None
    _, md, _ = service.export(SYSTEM, dlg, "md")
    assert "Annex II" not in md.decode()


def test_two_rapporteurs_keep_their_sections_and_the_same_section_conflicts(service, dialogue):
    d = dialogue
    dlg, item = d["dialogue_id"], d["item_ids"][1]
    second = run(service, "access.issue_link", {"dialogue_id": dlg, "role": "rapporteur", "label": "Second"})
    one, two = d["principals"]["rapporteur"], Principal(credential_id=second["credential_id"])

    assert run(service, "summary.save_section", {"dialogue_id": dlg, "key": "introduction", "text": "Intro A",
                                                 "base_revision": 0}, one) == {"key": "introduction", "revision": 1}
    run(service, "summary.save_section", {"dialogue_id": dlg, "key": f"item:{item}", "text": "Item B",
                                          "base_revision": 0}, two)
    doc = document(service, dialogue_id=dlg)
    assert doc["introduction"] == "Intro A"
    assert doc["items"][1]["narrative"] == "Item B"

    # The second rapporteur started from revision 0 of the introduction too: refused, with what is there now.
    with pytest.raises(CommandError) as raised:
        run(service, "summary.save_section", {"dialogue_id": dlg, "key": "introduction", "text": "Intro B",
                                              "base_revision": 0}, two)
    assert raised.value.code == "conflict"
    assert raised.value.details["revision"] == 1 and raised.value.details["text"] == "Intro A"
    assert raised.value.details["updated_by"]
    assert document(service, dialogue_id=dlg)["introduction"] == "Intro A"

    # A stale revision on a part nobody has written yet is a conflict too, not a crash.
    with pytest.raises(CommandError) as raised:
        run(service, "summary.save_section", {"dialogue_id": dlg, "key": "conclusions", "text": "X",
                                              "base_revision": 3}, two)
    assert raised.value.code == "conflict" and raised.value.details["revision"] == 0

    with pytest.raises(CommandError) as raised:
        run(service, "summary.save_section", {"dialogue_id": dlg, "key": "item:999999", "text": "X",
                                              "base_revision": 0}, one)
    assert raised.value.code == "not_found"
    with pytest.raises(CommandError) as raised:
        run(service, "summary.save_section", {"dialogue_id": dlg, "key": "annex", "text": "X",
                                              "base_revision": 0}, one)
    assert raised.value.code == "invalid_payload"

    # Regenerating after more happened keeps the text.
    play(service, d)
    run(service, "summary.save_section", {"dialogue_id": dlg, "key": "introduction", "text": "Intro A2",
                                          "base_revision": 1}, two)
    doc = document(service, dialogue_id=dlg)
    assert doc["introduction"] == "Intro A2"
    assert doc["items"][1]["narrative"] == "Item B"
    assert doc["items"][0]["themes"]
    assert "Intro A2" in service.export(SYSTEM, dlg, "md")[1].decode()


def test_empty_dialogue_exports_every_format(service):
    dlg = run(service, "dialogue.create", {"topic": "trafficking_in_persons",
                                           "local_start": "2026-06-03T10:00:00"})["dialogue_id"]
    for name in FORMATS:
        _exporter, data, filename = service.export(SYSTEM, dlg, name)
        assert data and filename.endswith("." + _exporter.extension)
    doc = document(service, dialogue_id=dlg)
    assert doc["items"] == [] and doc["annex"]["inputs"] == [] and doc["interventions"] == []
    md = service.export(SYSTEM, dlg, "md")[1].decode()
    assert "No inputs were published." in md
    assert md.startswith("# Summary of the Constructive Dialogue on Trafficking in Persons")


def test_who_may_export_through_the_service(service, dialogue):
    d = dialogue
    dlg = d["dialogue_id"]
    secretariat = run(service, "access.issue_api_token", {"dialogue_id": dlg, "role": "secretariat"})
    allowed = [d["principals"]["moderator"], d["principals"]["rapporteur"],
               Principal(credential_id=secretariat["credential_id"])]
    for principal in allowed:
        assert service.export(principal, dlg, "md")[1].startswith(b"# Summary")
    for role in ("participant0", "display"):
        with pytest.raises(CommandError) as raised:
            service.export(d["principals"][role], dlg, "md")
        assert raised.value.code == "forbidden"
    with pytest.raises(CommandError) as raised:
        service.export(Principal(), dlg, "md")
    assert raised.value.code == "unauthenticated"
    with pytest.raises(CommandError) as raised:
        service.export(SYSTEM, dlg, "pdf")
    assert raised.value.code == "not_found" and set(raised.value.details["formats"]) >= FORMATS
    with pytest.raises(CommandError) as raised:
        service.export(SYSTEM, 987654, "md")
    assert raised.value.code == "not_found"


def test_export_through_the_api(app, service, dialogue):
    d = dialogue
    dlg = d["dialogue_id"]
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {d['tokens']['api_moderator']}"}

    response = client.get(f"/api/v1/dialogues/{dlg}/summary/export?format=md", headers=bearer)
    assert response.status_code == 200
    assert response.mimetype == "text/markdown"
    assert f'filename="summary-dialogue-{dlg}.md"' in response.headers["Content-Disposition"]
    assert response.get_data().startswith(b"# Summary of the Constructive Dialogue")

    response = client.get(f"/api/v1/dialogues/{dlg}/summary/export?format=inputs_xlsx", headers=bearer)
    assert response.status_code == 200 and response.get_data()[:2] == b"PK"

    response = client.get(f"/api/v1/dialogues/{dlg}/summary/export?format=pdf", headers=bearer)
    assert response.status_code == 404
    body = response.get_json()
    assert body["ok"] is False and body["error"]["code"] == "not_found"
    assert set(body["error"]["details"]["formats"]) >= FORMATS

    for role, status in (("rapporteur", 200), ("secretariat", 200), ("display", 403)):
        token = run(service, "access.issue_api_token", {"dialogue_id": dlg, "role": role})["token"]
        response = client.get(f"/api/v1/dialogues/{dlg}/summary/export?format=json",
                              headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == status, (role, response.get_data()[:200])
    # A participant's access link is no API token.
    response = client.get(f"/api/v1/dialogues/{dlg}/summary/export?format=md",
                          headers={"Authorization": f"Bearer {d['tokens']['participant0']}"})
    assert response.status_code == 401
    assert client.get(f"/api/v1/dialogues/{dlg}/summary/export?format=md").status_code == 401

    formats = client.get("/api/v1/export-formats", headers=bearer).get_json()
    assert formats["ok"] is True
    listed = {f["name"]: f for f in formats["formats"]}
    assert set(listed) >= FORMATS
    assert listed["docx"]["extension"] == "docx" and listed["md"]["media_type"].startswith("text/markdown")


def test_export_through_the_cli(monkeypatch, tmp_path, database_url, service, dialogue):
    dlg = dialogue["dialogue_id"]
    play(service, dialogue)
    monkeypatch.setenv("MODERATION_DATABASE_URL", database_url)
    monkeypatch.setenv("MODERATION_INSTANCE_PATH", str(tmp_path / "cli-instance"))
    for name in ("MODERATION_CONFIG", "MODERATION_PLUGINS", "MODERATION_MESSAGE_QUEUE"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    target = tmp_path / "summary.md"
    result = runner.invoke(main, ["export", "--dialogue", str(dlg), "--format", "md", "-o", str(target)],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# Summary of the Constructive Dialogue on Trafficking in Persons")
    assert "Shelters for victims need stable funding." in text

    result = runner.invoke(main, ["export", "--dialogue", str(dlg), "--format", "json", "-o", "-"],
                           catch_exceptions=False)
    assert result.exit_code == 0
    assert json.loads(result.stdout_bytes)["dialogue"]["id"] == dlg

    result = runner.invoke(main, ["export", "--dialogue", str(dlg), "--format", "pdf", "-o", "-"])
    assert result.exit_code == 1
    assert "Unknown export format 'pdf'" in result.output and "inputs_xlsx" in result.output
    result = runner.invoke(main, ["export", "--dialogue", "987654", "--format", "md", "-o", "-"])
    assert result.exit_code == 1 and "does not exist" in result.output
