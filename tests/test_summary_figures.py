"""The summary's figures, computed by hand, in every export format.

A dialogue is played through the real commands with the command layer's
clock set by hand (tests/command_clock.py), so that every time and duration
is known: items that overran their plan and one that did not, a paused item
and a paused speaker, four interventions with known speaking times, a
request withdrawn, inputs published, merged, hidden, withdrawn, waiting for
moderation and refused in moderation, check-ins and connections.

The expected figures below are written out by hand from that script (the
arithmetic is in the comments), never computed by the code under test; each
export is read back with an independent reader (python-docx, openpyxl, the
csv module, markdown-it and lxml for Markdown and HTML) and must show the same
figures and leave out the same inputs.
"""
from __future__ import annotations

import csv
import io
import json

import pytest
from command_clock import command_clock
from conftest import run, seed_dialogue
from lxml import html as lxml_html
from markdown_it import MarkdownIt

from moderation.core.auth import SYSTEM

PEOPLE = (("Amina Okafor", "room", "ngo"), ("Jonas Lindqvist", "online", "academia"),
          ("Chen Wei", "room", "state_party"), ("Priya Raman", "online", "ngo_ecosoc"),
          ("Tomas Silva", "room", "igo"))
A, B, C, D, E = (f"participant{i}" for i in range(5))

# Texts that must never reach the summary's narrative formats.
HIDDEN = "HIDDEN advert for a private clinic."
WITHDRAWN = "WITHDRAWN second thoughts."
PENDING = "PENDING still waiting for approval."
REFUSED = "REFUSED held and then refused."
DUPLICATE = "Shelters need funding that lasts."
LEFT_OUT = (HIDDEN, WITHDRAWN, PENDING, REFUSED)


def play(service) -> dict:
    """The dialogue, minute by minute (Vienna time, 3 June 2026)."""
    d = seed_dialogue(service, participants=PEOPLE)
    did, p = d["dialogue_id"], d["principals"]
    chair, rapporteur = p["moderator"], p["rapporteur"]
    # The items: briefing 20 min, working group update 15, panel 60, input collection 45.

    def cmd(name, payload, who=SYSTEM):
        return run(service, name, {"dialogue_id": did, **payload}, who)

    def submit(at, who, text, **extra):
        clock.at(at)
        return cmd("inputs.submit", {"text": text, **extra}, p[who])["input_id"]

    def moderate(input_id, action, reason=""):
        cmd("inputs.moderate", {"input_id": input_id, "action": action, "reason": reason}, chair)

    def speak(who, kind, start, end, pause=None):
        clock.at(start)
        entry = cmd("queue.request_floor", {"intervention_type": kind}, p[who])["entry_id"]
        cmd("queue.call_speaker", {"entry_id": entry}, chair)
        if pause:
            clock.at(pause[0])
            cmd("queue.pause_speaker", {}, chair)
            clock.at(pause[1])
            cmd("queue.resume_speaker", {}, chair)
        clock.at(end)
        cmd("queue.end_speaker", {}, chair)

    ids = {}
    with command_clock("09:30:00") as clock:
        # Attendance: Amina and Tomas checked in at the door; Jonas and Chen
        # connected (Chen was registered for the room but followed online);
        # Priya neither.
        cmd("participants.check_in", {"participant_id": d["participant_ids"][0]})
        cmd("participants.check_in", {"participant_id": d["participant_ids"][4]})
        cmd("attendance.record_connections", {"participant_ids": [d["participant_ids"][1], d["participant_ids"][2]]})
        themes = {name: cmd("inputs.create_theme", {"name": name}, rapporteur)["theme_id"]
                  for name in ("Protection", "Data")}

        clock.at("10:00:00")
        cmd("agenda.advance", {}, chair)                                  # item 1 starts at 10:00
        speak(A, "statement", "10:01:00", "10:04:30")                     # 210 s
        speak(B, "question", "10:05:00", "10:06:30")                      # 90 s
        ids["published"] = submit("10:10:00", A, "Shelters for victims need stable funding.")
        ids["duplicate"] = submit("10:11:00", B, DUPLICATE)
        ids["hidden"] = submit("10:12:00", B, HIDDEN)
        moderate(ids["hidden"], "hide", "Advertising.")
        ids["withdrawn"] = submit("10:13:00", A, WITHDRAWN)
        cmd("inputs.withdraw", {"input_id": ids["withdrawn"]}, p[A])
        ids["anonymous"] = submit("10:14:00", C, "Data should be shared across borders.", named=False)
        ids["suggestion"] = submit("10:15:00", B, "Adopt a national referral mechanism.", kind="suggestion")
        cmd("inputs.endorse", {"input_id": ids["published"]}, p[C])
        cmd("inputs.tag", {"input_id": ids["published"], "theme_ids": [themes["Protection"]]}, rapporteur)
        cmd("inputs.tag", {"input_id": ids["anonymous"], "theme_ids": [themes["Data"]]}, rapporteur)
        cmd("inputs.merge", {"target_id": ids["published"], "source_ids": [ids["duplicate"]]}, rapporteur)

        clock.at("10:16:00")
        cmd("inputs.configure", {"moderation_mode": "pre"})            # from now on inputs wait for approval
        ids["pending"] = submit("10:16:30", A, PENDING)
        ids["refused"] = submit("10:17:00", C, REFUSED)
        moderate(ids["refused"], "hide", "Off topic.")
        ids["question"] = submit("10:18:00", B, "How is survivor input collected?", kind="question", named=False)
        moderate(ids["question"], "approve")

        clock.at("10:25:00")
        cmd("agenda.advance", {}, chair)                                  # item 1 ends (25 min), item 2 starts
        speak(A, "statement", "10:26:00", "10:28:36", pause=("10:27:00", "10:27:30"))  # 60 + 66 = 126 s
        speak(C, "question", "10:29:00", "10:29:48")                      # 48 s
        clock.at("10:30:00")
        withdrawn = cmd("queue.request_floor", {}, p[D])["entry_id"]
        cmd("queue.withdraw_request", {"entry_id": withdrawn}, p[D])      # never spoke: not counted
        clock.at("10:31:00")
        cmd("agenda.pause_item", {}, chair)
        clock.at("10:36:00")
        cmd("agenda.resume_item", {}, chair)                              # 5 minutes paused
        ids["item2"] = submit("10:40:00", D, "Fund survivor-led organizations.")
        moderate(ids["item2"], "approve")
        ids["general"] = submit("10:41:00", A, "On the process as a whole.", attach_to="dialogue")
        moderate(ids["general"], "approve")
        clock.at("10:47:00")
        cmd("agenda.advance", {}, chair)                                  # item 2 ends: 6 + 11 = 17 min running
        clock.at("11:40:00")
        cmd("agenda.end_item", {}, chair)                                 # item 3: 53 min; item 4 never starts
        clock.at("12:00:00")
        documents = {name: service.export(SYSTEM, did, name)[1]
                     for name in ("json", "md", "html", "docx", "inputs_csv", "inputs_xlsx", "interventions_csv")}
    return {"ids": ids, "documents": documents, "dialogue": d}


@pytest.fixture
def played(service):
    return play(service)


# -- the expected figures, by hand --------------------------------------------------------------
AGENDA = [  # position, planned start, planned minutes, started, ended, actual minutes
    (1, "10:00", 20, "10:00", "10:25", 25),   # overran by 5
    (2, "10:20", 15, "10:25", "10:47", 17),   # 10:25-10:31 and 10:36-10:47 running; overran by 2
    (3, "10:35", 60, "10:47", "11:40", 53),   # under its plan
    (4, "11:35", 45, None, None, None),       # never started
]
ATTENDANCE = {  # category: (room, online)
    "ngo_ecosoc": (0, 0),   # Priya: registered online, never connected
    "ngo": (1, 0),          # Amina: checked in
    "academia": (0, 1),     # Jonas: connected
    "private_sector": (0, 0),
    "state_party": (0, 1),  # Chen: registered for the room, not checked in, connected
    "igo": (1, 0),          # Tomas: checked in
    "other": (0, 0),
}
ATTENDANCE_TOTALS = {"room": 2, "online": 2, "total": 4}
# Speaking time: A 210 s + B 90 s on item 1; A 126 s + C 48 s on item 2.
DIALOGUE_SPEAKING = {"interventions": 4, "minutes": 7.9,             # 474 s
                     "by_channel": {"room": (3, 6.4), "online": (1, 1.5)},          # 384 s, 90 s
                     "by_category": {"ngo": (2, 5.6), "academia": (1, 1.5), "state_party": (1, 0.8)},
                     "by_type": {"statement": (2, 5.6), "question": (2, 2.3)}}      # 336 s, 138 s
ITEM_SPEAKING = [
    {"interventions": 2, "minutes": 5.0, "by_channel": {"room": (1, 3.5), "online": (1, 1.5)},
     "by_category": {"ngo": (1, 3.5), "academia": (1, 1.5)},
     "by_type": {"statement": (1, 3.5), "question": (1, 1.5)}},
    {"interventions": 2, "minutes": 2.9, "by_channel": {"room": (2, 2.9)},
     "by_category": {"ngo": (1, 2.1), "state_party": (1, 0.8)},
     "by_type": {"statement": (1, 2.1), "question": (1, 0.8)}},
    {"interventions": 0, "minutes": 0.0, "by_channel": {}, "by_category": {}, "by_type": {}},
    {"interventions": 0, "minutes": 0.0, "by_channel": {}, "by_category": {}, "by_type": {}},
]
INTERVENTIONS = [  # name, item, channel, type, start, end, seconds
    ("Amina Okafor", 0, "room", "statement", "10:01:00", "10:04:30", 210.0),
    ("Jonas Lindqvist", 0, "online", "question", "10:05:00", "10:06:30", 90.0),
    ("Amina Okafor", 1, "room", "statement", "10:26:00", "10:28:36", 126.0),
    ("Chen Wei", 1, "room", "question", "10:29:00", "10:29:48", 48.0),
]
CATEGORY_LABEL = {"ngo_ecosoc": "NGO with ECOSOC consultative status", "ngo": "NGO without ECOSOC status",
                  "academia": "Academia", "private_sector": "Private sector", "state_party": "State party",
                  "igo": "Intergovernmental organization", "other": "Other"}


def stats_view(stats: dict) -> dict:
    return {"interventions": stats["interventions"], "minutes": stats["minutes"],
            **{key: {r["key"]: (r["interventions"], r["minutes"]) for r in stats[key]}
               for key in ("by_channel", "by_category", "by_type")}}


def published_ids(ids: dict) -> list[int]:
    """The inputs the summary lists, in the order they were written."""
    return [ids[k] for k in ("published", "anonymous", "suggestion", "question", "item2", "general")]


# -- the document -------------------------------------------------------------------------------
def test_the_documents_figures_are_what_happened(played):
    doc = json.loads(played["documents"]["json"])
    ids = played["ids"]
    assert doc["generated_at"] == "2026-06-03T10:00:00+00:00"  # 12:00 in Vienna

    assert [(a["position"], a["planned_start"], a["planned_minutes"], a["actual_start"], a["actual_end"],
             a["actual_minutes"]) for a in doc["agenda"]] == AGENDA
    assert [a["status"] for a in doc["agenda"]] == ["done", "done", "done", "pending"]

    rows = {r["category"]: (r["room"], r["online"]) for r in doc["attendance"]["rows"]}
    assert rows == ATTENDANCE
    assert all(r["total"] == r["room"] + r["online"] for r in doc["attendance"]["rows"])
    assert doc["attendance"]["totals"] == ATTENDANCE_TOTALS
    assert doc["attendance"]["source"] == {"room": "checked_in", "online": "connected"}

    assert stats_view(doc["statistics"]) == DIALOGUE_SPEAKING
    assert [stats_view(part["statistics"]) for part in doc["items"]] == ITEM_SPEAKING
    assert [(i["name"], i["agenda_item"], i["channel"], i["type"], i["start"], i["end"], i["seconds"])
            for i in doc["interventions"]] == [
        (name, doc["items"][item]["title"], channel, kind, f"2026-06-03T{start}+02:00",
         f"2026-06-03T{end}+02:00", seconds) for name, item, channel, kind, start, end, seconds in INTERVENTIONS]

    first, second = doc["items"][0], doc["items"][1]
    assert [(t["name"], [pt["inputs"] for pt in t["points"]]) for t in first["themes"]] == [
        ("Protection", [[ids["published"], ids["duplicate"]]]), ("Data", [[ids["anonymous"]]])]
    assert first["other_points"] == []
    assert [pt["inputs"] for pt in first["suggestions"]] == [[ids["suggestion"]]]
    assert [pt["inputs"] for pt in first["questions"]] == [[ids["question"]]]
    # Amina's input, endorsed by Chen, with Jonas's duplicate merged in: Jonas endorses it too.
    assert first["themes"][0]["points"][0]["endorsements"] == 2
    assert [pt["inputs"] for pt in second["other_points"]] == [[ids["item2"]]]
    assert second["themes"] == second["suggestions"] == second["questions"] == []
    assert [pt["inputs"] for pt in doc["general"]["other_points"]] == [[ids["general"]]]
    assert [i["id"] for i in doc["annex"]["inputs"]] == published_ids(ids)

    # What the summary leaves out: nowhere in its parts, whatever the path.
    summary_parts = json.dumps({k: v for k, v in doc.items() if k not in ("inputs",)})
    for text in LEFT_OUT + (DUPLICATE,):
        assert text not in summary_parts, text
    # The inputs table (a working file) lists every input but the withdrawn,
    # each with its real status.
    statuses = {r["id"]: r["status"] for r in doc["inputs"]}
    assert statuses == {ids["published"]: "published", ids["duplicate"]: "merged", ids["hidden"]: "hidden",
                        ids["anonymous"]: "published", ids["suggestion"]: "published", ids["pending"]: "pending",
                        ids["refused"]: "hidden", ids["question"]: "published", ids["item2"]: "published",
                        ids["general"]: "published"}
    assert [r["time"] for r in doc["inputs"]][:2] == ["2026-06-03T10:10:00+02:00", "2026-06-03T10:11:00+02:00"]


# -- each format read back ------------------------------------------------------------------------
def html_tables(root) -> dict[tuple[str, ...], list[list[str]]]:
    """Every table of an HTML tree by its header row: the body rows' cell texts."""
    tables = {}
    for table in root.iter("table"):
        header = tuple(th.text_content().strip() for th in table.iter("th"))
        tables.setdefault(header, []).append([[td.text_content().strip() for td in tr.iter("td")]
                                              for tr in table.iter("tr") if tr.find("td") is not None])
    return tables


def docx_tables(data: bytes) -> tuple[dict[tuple[str, ...], list[list[list[str]]]], str]:
    from docx import Document

    word = Document(io.BytesIO(data))
    tables = {}
    for table in word.tables:
        rows = [[cell.text.strip() for cell in row.cells] for row in table.rows]
        tables.setdefault(tuple(rows[0]), []).append(rows[1:])
    text = "\n".join([p.text for p in word.paragraphs]
                     + [cell.text for t in word.tables for row in t.rows for cell in row.cells])
    return tables, text


def markdown_tree(data: bytes):
    rendered = MarkdownIt("commonmark").enable("table").render(data.decode("utf-8"))
    return lxml_html.fromstring(f"<div>{rendered}</div>")


def number(text: str) -> float | None:
    return float(text) if text else None


AGENDA_HEADER = ("No.", "Item", "Planned start", "Planned (min)", "Started", "Ended", "Actual (min)")
ATTENDANCE_HEADER = ("Category", "In the room", "Online", "Total")
SPEAKING_HEADER = ("Channel / category", "Interventions", "Minutes")
ANNEX_HEADER = ("No.", "Item", "Type", "From", "Themes", "Endorsements", "Text")


def check_narrative_format(tables: dict, text: str, ids: dict) -> None:
    """The figures and omissions every narrative format (DOCX, Markdown,
    HTML) must show, from its tables and its whole text."""
    [agenda] = tables[AGENDA_HEADER]
    assert [(int(r[0]), r[2], int(r[3]), r[4] or None, r[5] or None, None if r[6] == "" else int(r[6]))
            for r in agenda] == AGENDA
    [attendance] = tables[ATTENDANCE_HEADER]
    assert {r[0]: tuple(int(x) for x in r[1:]) for r in attendance} == {
        **{CATEGORY_LABEL[k]: (room, online, room + online) for k, (room, online) in ATTENDANCE.items()},
        "Total": (2, 2, 4)}
    speaking = tables[SPEAKING_HEADER]
    # the dialogue's table, then one per item that had interventions
    assert len(speaking) == 3
    expected = [DIALOGUE_SPEAKING, ITEM_SPEAKING[0], ITEM_SPEAKING[1]]
    for rows, figures in zip(speaking, expected, strict=False):
        shown = {r[0]: (int(r[1]), float(r[2])) for r in rows}
        wanted = {**{("In the room" if k == "room" else "Online"): v for k, v in figures["by_channel"].items()},
                  **{CATEGORY_LABEL[k]: v for k, v in figures["by_category"].items()}}
        assert shown == wanted
    assert "4 interventions, 7.9 minutes of speaking time." in text
    assert "2 interventions, 5.0 minutes of speaking time." in text
    assert "2 interventions, 2.9 minutes of speaking time." in text
    [annex] = tables[ANNEX_HEADER]
    assert [r[0] for r in annex] == [f"#{i}" for i in published_ids(ids)]
    for text_left_out in LEFT_OUT:
        assert text_left_out not in text, text_left_out
    assert DUPLICATE not in text  # merged: cited by number under the kept input


def test_docx_shows_the_figures(played):
    tables, text = docx_tables(played["documents"]["docx"])
    check_narrative_format(tables, text, played["ids"])


def test_markdown_shows_the_figures(played):
    tree = markdown_tree(played["documents"]["md"])
    check_narrative_format(html_tables(tree), tree.text_content(), played["ids"])


def test_html_shows_the_figures(played):
    tree = lxml_html.fromstring(played["documents"]["html"])
    check_narrative_format(html_tables(tree), tree.text_content(), played["ids"])


def read_csv(data: bytes) -> list[dict[str, str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_interventions_csv_shows_the_times(played):
    rows = read_csv(played["documents"]["interventions_csv"])
    titles = [a["title"] for a in json.loads(played["documents"]["json"])["agenda"]]
    assert [(r["name"], r["agenda item"], r["channel"], r["type"], r["start"], r["end"], float(r["duration (s)"]))
            for r in rows] == [
        (name, titles[item], channel, {"statement": "Statement", "question": "Question to the panel"}[kind],
         f"2026-06-03T{start}+02:00", f"2026-06-03T{end}+02:00", seconds)
        for name, item, channel, kind, start, end, seconds in INTERVENTIONS]


def expected_input_rows(ids: dict) -> list[tuple[int, str]]:
    """(id, status) of every input but the withdrawn one, in the order written."""
    order = ["published", "duplicate", "hidden", "anonymous", "suggestion", "pending", "refused", "question",
             "item2", "general"]
    status = {"duplicate": "merged", "hidden": "hidden", "refused": "hidden", "pending": "pending"}
    return [(ids[k], status.get(k, "published")) for k in order]


def test_inputs_csv_and_xlsx_list_each_input_with_its_status(played):
    from openpyxl import load_workbook

    ids = played["ids"]
    rows = read_csv(played["documents"]["inputs_csv"])
    assert [(int(r["id"]), r["status"]) for r in rows] == expected_input_rows(ids)
    assert WITHDRAWN not in played["documents"]["inputs_csv"].decode()
    merged = next(r for r in rows if int(r["id"]) == ids["duplicate"])
    assert merged["merged into"] == str(ids["published"])
    assert next(r for r in rows if int(r["id"]) == ids["published"])["endorsements"] == "2"
    assert rows[0]["time"] == "2026-06-03T10:10:00+02:00"

    sheet = load_workbook(io.BytesIO(played["documents"]["inputs_xlsx"]))["Inputs"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    header = values[0]
    column = {name: header.index(name) for name in ("id", "status", "endorsements", "time", "text")}
    assert [(r[column["id"]], r[column["status"]]) for r in values[1:]] == expected_input_rows(ids)
    assert WITHDRAWN not in [r[column["text"]] for r in values[1:]]
    assert values[1][column["endorsements"]] == 2
    assert values[1][column["time"]] == "2026-06-03T10:10:00+02:00"


def test_an_item_and_a_speaker_still_running_count_up_to_the_export(service):
    """Exported during the dialogue: the running item shows the minutes it
    has run so far (pauses left out), the current speaker the seconds so far."""
    d = seed_dialogue(service)
    did, chair = d["dialogue_id"], d["principals"]["moderator"]
    with command_clock("10:00:00") as clock:
        run(service, "agenda.advance", {"dialogue_id": did}, chair)
        clock.at("10:05:00")
        run(service, "agenda.pause_item", {"dialogue_id": did}, chair)
        clock.at("10:07:00")
        run(service, "agenda.resume_item", {"dialogue_id": did}, chair)
        clock.at("10:08:00")
        entry = run(service, "queue.request_floor", {"dialogue_id": did}, d["principals"][A])["entry_id"]
        run(service, "queue.call_speaker", {"dialogue_id": did, "entry_id": entry}, chair)
        clock.at("10:12:00")
        doc = json.loads(service.export(SYSTEM, did, "json")[1])
        rows = read_csv(service.export(SYSTEM, did, "interventions_csv")[1])
    first = doc["agenda"][0]
    assert (first["status"], first["actual_start"], first["actual_end"], first["actual_minutes"]) == \
        ("running", "10:00", None, 10)  # 10:00-10:05 and 10:07-10:12
    assert [(i["name"], i["start"], i["end"], i["seconds"]) for i in doc["interventions"]] == [
        ("Amina Okafor", "2026-06-03T10:08:00+02:00", None, 240.0)]
    assert [(r["end"], r["duration (s)"]) for r in rows] == [("", "240.0")]
    # Not finished, so not yet in the speaking statistics.
    assert doc["statistics"]["interventions"] == 0
