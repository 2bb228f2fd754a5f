"""The built-in exporters, from one fixed document.

The document is built with ``build_summary`` from a dialogue seeded on a fresh
SQLite file through the real commands, with the command layer's clock set by
hand (tests/command_clock.py) and a fixed ``generated_at``: every time and
duration in it is decided by the script below, so the files are byte-stable
without overwriting any figure. (tests/test_summary_figures.py checks those
figures against hand-computed values in every format.)

Golden files: ``tests/golden/summary.md`` and ``tests/golden/summary.json``.
After an intended change of the document or of an exporter, regenerate them
with ``UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_exporters.py``
(the run writes them and fails, so that an update never passes unnoticed),
review the diff, and run again without ``UPDATE_GOLDEN``.
"""
from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import os
import sys
from pathlib import Path

import pytest
from command_clock import command_clock
from conftest import make_app, run, seed_dialogue
from lxml import html as lxml_html

from moderation.core.auth import SYSTEM
from moderation.features.summary.commands import build_summary
from moderation.models import Dialogue
from moderation.plugins import summary_exporters
from moderation.plugins.exporters import md_escape, neutralize

GOLDEN = Path(__file__).parent / "golden"
FIXED = dt.datetime(2026, 6, 3, 8, 30, tzinfo=dt.UTC)  # 10:30 in Vienna, 3 minutes into item 2
HOSTILE = "<script>alert(1)</script> *bold* _u_ `code` | pipe &amp;\n# heading\n1. item\n- dash\n[link](x)"


def _build(service, dialogue_id):
    with service.db.session() as session:
        return build_summary(session, session.get(Dialogue, dialogue_id), service.plugins, FIXED)


@pytest.fixture(scope="module")
def fixed_document(tmp_path_factory):
    """One dialogue with every part filled in (see the module docstring)."""
    tmp = tmp_path_factory.mktemp("golden")
    app = make_app(tmp, f"sqlite:///{tmp / 'golden.sqlite3'}")
    service = app.extensions["moderation"]
    try:
        with command_clock("09:50:00") as clock:
            d = seed_dialogue(service)
            p, dlg = d["principals"], d["dialogue_id"]
            run(service, "summary.configure", {"dialogue_id": dlg, "attribution": True, "list_organizations": True,
                                               "chairs": "H.E. Ms. A. Chair; Mr. B. Chair"}, SYSTEM)
            run(service, "agenda.update_item", {"dialogue_id": dlg, "item_id": d["item_ids"][0],
                                                "title": "Opening", "presenters": "UNODC Secretariat\nDr. C. Expert"})
            clock.at("10:00:00")
            run(service, "agenda.advance", {"dialogue_id": dlg}, p["moderator"])
            speakers = (("participant0", "10:01:00", "10:03:30"), ("participant1", "10:04:00", "10:05:00"))
            for who, called, ended in speakers:
                run(service, "queue.request_floor", {"dialogue_id": dlg}, p[who])
                clock.at(called)
                run(service, "queue.call_next", {"dialogue_id": dlg}, p["moderator"])
                clock.at(ended)
                run(service, "queue.end_speaker", {"dialogue_id": dlg}, p["moderator"])

            def submit(who, text, at, **extra):
                clock.at(at)
                return run(service, "inputs.submit", {"dialogue_id": dlg, "text": text, **extra}, p[who])["input_id"]

            named = submit("participant0", "Shelters for victims need stable funding.", "10:06:00")
            anonymous = submit("participant1", "Data should be shared across borders.", "10:07:00", named=False)
            duplicate = submit("participant1", "Shelters need lasting funding.", "10:08:00")
            submit("participant0", "Adopt a national referral mechanism.", "10:09:00", kind="suggestion")
            submit("participant1", "How is survivor input collected?", "10:10:00", kind="question", named=False)
            submit("participant0", "Thanks to the organizers.", "10:11:00", attach_to="dialogue")
            submit("participant1", "=HYPERLINK(\"http://x\")", "10:12:00")
            themes = [run(service, "inputs.create_theme", {"dialogue_id": dlg, "name": n, "description": ""},
                          p["rapporteur"])["theme_id"] for n in ("Protection", "Data")]
            run(service, "inputs.tag", {"dialogue_id": dlg, "input_id": named, "theme_ids": [themes[0]]},
                p["rapporteur"])
            run(service, "inputs.tag", {"dialogue_id": dlg, "input_id": anonymous, "theme_ids": [themes[1]]},
                p["rapporteur"])
            run(service, "inputs.merge", {"dialogue_id": dlg, "target_id": named, "source_ids": [duplicate]},
                p["rapporteur"])
            for key, text in (("introduction", "The dialogue was opened by the chairs."),
                              (f"item:{d['item_ids'][0]}", "The secretariat briefed participants."),
                              ("conclusions", "The chairs thanked the participants.")):
                run(service, "summary.save_section", {"dialogue_id": dlg, "key": key, "text": text,
                                                      "base_revision": 0}, p["rapporteur"])
            clock.at("10:27:00")
            run(service, "agenda.advance", {"dialogue_id": dlg}, p["moderator"])  # the first item ran 27 min
        first, second = _build(service, dlg), _build(service, dlg)
        return {"document": first, "raw": (first, second),
                "ids": {"named": named, "anonymous": anonymous, "duplicate": duplicate}}
    finally:
        app.extensions["db"].dispose()


def export(name: str, doc: dict) -> bytes:
    from moderation.plugins.exporters import summary_exporters as builtins
    return {e.name: e for e in builtins()}[name].export(doc)


def check_golden(name: str, data: bytes) -> None:
    """Compare with the golden file; with ``UPDATE_GOLDEN=1`` write it and
    fail (a file compared with itself proves nothing)."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        changed = not path.exists() or path.read_bytes() != data
        path.write_bytes(data)
        pytest.fail(f"{path} {'rewritten' if changed else 'unchanged'} (UPDATE_GOLDEN=1): review the diff, "
                    "then run again without UPDATE_GOLDEN", pytrace=False)
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to create it"
    assert data.decode("utf-8") == path.read_text(encoding="utf-8")


def test_updating_a_golden_file_never_passes(tmp_path, monkeypatch):
    """UPDATE_GOLDEN=1 writes the file and fails, changed or not; without
    it a difference fails."""
    monkeypatch.setattr(sys.modules[__name__], "GOLDEN", tmp_path)
    monkeypatch.setenv("UPDATE_GOLDEN", "1")
    for attempt in ("new", "unchanged"):
        with pytest.raises(pytest.fail.Exception, match="rewritten" if attempt == "new" else "unchanged"):
            check_golden("x.md", b"one\n")
        assert (tmp_path / "x.md").read_bytes() == b"one\n"
    monkeypatch.delenv("UPDATE_GOLDEN")
    check_golden("x.md", b"one\n")
    with pytest.raises(AssertionError):
        check_golden("x.md", b"two\n")


def test_same_data_gives_the_same_document(fixed_document):
    first, second = fixed_document["raw"]
    assert first == second
    assert export("md", first) == export("md", second)


def test_markdown_golden(fixed_document):
    check_golden("summary.md", export("md", fixed_document["document"]))


def test_json_golden(fixed_document):
    data = export("json", fixed_document["document"])
    check_golden("summary.json", data)
    assert json.loads(data) == fixed_document["document"]


def test_docx_structure(fixed_document):
    from docx import Document

    doc = fixed_document["document"]
    word = Document(io.BytesIO(export("docx", doc)))
    paragraphs = [(p.style.name, p.text) for p in word.paragraphs]
    headings = [(s, t) for s, t in paragraphs if s == "Title" or s.startswith("Heading")]
    assert headings[0] == ("Title", "Summary of the Constructive Dialogue on Trafficking in Persons")
    assert ("Heading 1", "Attendance") in headings and ("Heading 1", "1. Opening") in headings
    assert ("Heading 2", "Key points") in headings and ("Heading 3", "Protection") in headings
    assert ("Heading 1", "Annex II. Participating organizations") in headings
    assert word.core_properties.title == doc["dialogue"]["title"]

    numbered = [t for s, t in paragraphs if s == "List Number"]
    assert numbered and all("(input" in t for t in numbered)
    protection = paragraphs.index(("Heading 3", "Protection"))
    style, text = paragraphs[protection + 1]
    ids = fixed_document["ids"]
    assert style == "List Number"
    assert text.startswith("Shelters for victims need stable funding. (inputs ")
    assert f"#{ids['named']}, #{ids['duplicate']}" in text

    tables = {tuple(c.text for c in t.rows[0].cells): t for t in word.tables}
    attendance = tables[("Category", "In the room", "Online", "Total")]
    rows = {r.cells[0].text: [c.text for c in r.cells[1:]] for r in attendance.rows[1:]}
    assert rows["Total"] == ["1", "1", "2"]
    speaking = tables[("Channel / category", "Interventions", "Minutes")]
    speaking_rows = {r.cells[0].text: r.cells[1].text for r in speaking.rows[1:]}
    assert speaking_rows["In the room"] == "1" and speaking_rows["Online"] == "1"
    assert ("No.", "Item", "Planned start", "Planned (min)", "Started", "Ended", "Actual (min)") in tables


def test_xlsx_structure_and_formulas(fixed_document):
    from openpyxl import load_workbook

    doc = fixed_document["document"]
    sheet = load_workbook(io.BytesIO(export("inputs_xlsx", doc)))["Inputs"]
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == ["id", "agenda item", "type", "text", "themes", "author", "organization",
                                          "organization category", "channel", "status", "merged into",
                                          "endorsements", "source", "time"]
    assert len(rows) == 1 + len(doc["inputs"])
    formula = [r[3] for r in rows[1:] if "HYPERLINK" in str(r[3].value)]
    assert len(formula) == 1
    assert formula[0].data_type == "s" and not str(formula[0].value).startswith("=")
    assert formula[0].value.endswith('=HYPERLINK("http://x")')
    anonymous = [r for r in rows[1:] if r[0].value == fixed_document["ids"]["anonymous"]][0]
    assert anonymous[5].value == "A participant" and anonymous[6].value in ("", None)
    assert rows[1][0].data_type == "n"


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_csv_neutralizes_formulas(fixed_document, start):
    doc = copy.deepcopy(fixed_document["document"])
    doc["inputs"][0]["text"] = f"{start}1+cmd|' /C calc'!A0"
    doc["interventions"][0]["name"] = f"{start}SUM(A1:A9)"
    for name, column in (("inputs_csv", "text"), ("interventions_csv", "name")):
        data = export(name, doc).decode("utf-8")
        assert data.startswith("\ufeff")
        rows = list(csv.DictReader(io.StringIO(data[1:])))
        value = rows[0][column]
        assert value.startswith("'" + start), (name, value)
    assert neutralize(start + "x") == "'" + start + "x"
    assert neutralize("a" + start) == "a" + start and neutralize(-3) == -3


def _hostile(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc["items"][0]["themes"][0]["points"][0]["text"] = HOSTILE
    doc["annex"]["inputs"][0]["text"] = HOSTILE
    doc["introduction"] = HOSTILE
    doc["dialogue"]["chairs"] = "<b>Chair</b>"
    return doc


def test_markdown_escapes_user_text(fixed_document):
    md = export("md", _hostile(fixed_document["document"])).decode()
    assert "<script>" not in md and "<b>" not in md
    assert "\\<script\\>" in md and "\\*bold\\*" in md and "\\_u\\_" in md and "\\`code\\`" in md
    assert "\\[link\\](x)" in md and "\\&amp;" in md and "\\|" in md
    lines = md.splitlines()
    # The user's "# heading" / "1. item" / "- dash" lines never start a heading or list.
    assert not any(line.startswith("# heading") or line.startswith("1. item") or line.startswith("- dash")
                   for line in lines)
    assert "\\# heading" in md and "1\\. item" in md and "\\- dash" in md
    # Inside a numbered point the continuation lines are escaped too.
    assert any(line.strip().startswith("\\# heading") for line in lines if line.startswith("   "))
    assert md_escape("2) x") == "2\\) x" and md_escape("+ x") == "\\+ x"


def test_html_escapes_user_text(fixed_document):
    page = export("html", _hostile(fixed_document["document"])).decode()
    assert "<script" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&amp;amp;" in page and "&lt;b&gt;Chair&lt;/b&gt;" in page
    assert page.count("<h1>") == 1


def test_exporters_are_plugins(fixed_document):
    from moderation.plugins import make_plugin_manager
    names = set(summary_exporters(make_plugin_manager()))
    assert names >= {"docx", "md", "html", "json", "inputs_csv", "inputs_xlsx", "interventions_csv"}


# -- the participation figures (moderation/plugins/figures.py) ---------------------------------------
def test_docx_has_the_figures_as_pictures_with_their_tables(fixed_document):
    """Four PNG pictures, each with a caption, an alternative text and a
    table of the same numbers under it."""
    from docx import Document

    word = Document(io.BytesIO(export("docx", fixed_document["document"])))
    assert len(word.inline_shapes) == 4
    blobs = [word.part.related_parts[s._inline.graphic.graphicData.pic.blipFill.blip.embed].blob
             for s in word.inline_shapes]
    assert all(blob.startswith(b"\x89PNG") for blob in blobs)
    descriptions = [s._inline.docPr.get("descr") for s in word.inline_shapes]
    assert descriptions[2].startswith("Written inputs by category:") and "Academia 4" in descriptions[2]
    captions = [p.text for p in word.paragraphs if p.style.name == "Caption"]
    assert captions == ["Figure 1. Interventions by channel and by category",
                        "Figure 2. Speaking time by channel and by category (minutes)",
                        "Figure 3. Written inputs by category", "Figure 4. Written inputs by theme"]
    tables = {tuple(c.text for c in t.rows[0].cells): {r.cells[0].text: r.cells[1].text for r in t.rows[1:]}
              for t in word.tables}
    assert tables[("Channel / category", "Interventions")] == {
        "In the room": "1", "Online": "1", "NGO without ECOSOC status": "1", "Academia": "1"}
    assert tables[("Channel / category", "Minutes")]["In the room"] == "2.5"
    by_category = tables[("Category", "Inputs")]
    assert by_category["NGO without ECOSOC status"] == "3" and by_category["Academia"] == "4"
    assert by_category["State party"] == "0"
    assert tables[("Theme", "Inputs")] == {"Protection": "1", "Data": "1"}
    # Each table comes right after its caption, which comes right after its picture.
    body = [child.tag.rsplit("}", 1)[1] for child in word.element.body]
    kinds = []
    for child in word.element.body:
        if child.tag.endswith("}tbl"):
            kinds.append("table")
        elif child.xpath(".//pic:pic"):
            kinds.append("picture")
        elif child.xpath("./w:pPr/w:pStyle[@w:val='Caption']"):
            kinds.append("caption")
    assert "tbl" in body
    figures = "".join("P" if k == "picture" else "C" if k == "caption" else "T" for k in kinds)
    assert figures.count("PCT") == 4


def test_html_has_the_figures_as_inline_svg_with_their_tables(fixed_document):
    page = export("html", fixed_document["document"]).decode()
    tree = lxml_html.fromstring(page)
    figures = tree.xpath("//figure[@class='chart']")
    assert [f.get("id") for f in figures] == ["figure-interventions", "figure-speaking_time",
                                              "figure-inputs_by_category", "figure-inputs_by_theme"]
    for figure in figures:
        svg = figure.xpath(".//svg")
        assert len(svg) == 1 and svg[0].get("role") == "img" and svg[0].get("aria-label")
        caption = figure.xpath(".//table/caption")
        assert caption and caption[0].text_content().startswith(figure.xpath("./figcaption")[0].text_content())
    themes = figures[3].xpath(".//table//tr[th[@scope='row']]")
    assert [(r.xpath("./th")[0].text_content(), r.xpath("./td")[0].text_content()) for r in themes] == [
        ("Protection", "1"), ("Data", "1")]
    assert "Academia 4" in figures[2].xpath(".//svg")[0].get("aria-label")
    # No external file: no <img src>, no link, no script.
    assert not tree.xpath("//img | //script | //link | //*[@href and not(starts-with(@href, '#'))]")
    # The figures are the same every time (golden files and reviews stay stable).
    assert export("html", fixed_document["document"]) == page.encode()


def test_a_figure_without_data_is_a_sentence(fixed_document):
    doc = copy.deepcopy(fixed_document["document"])
    doc["statistics"].update(interventions=0, minutes=0, by_channel=[], by_category=[])
    for row in doc["participation"]["inputs_by_theme"]:
        row["inputs"] = 0
    page = export("html", doc).decode()
    assert page.count("<figure") == 1 and "No interventions yet." in page
    assert "No inputs tagged with a theme yet." in page
    md = export("md", doc).decode()
    assert "Figure 1. Written inputs by category" in md and "No interventions yet." in md


def test_theme_names_in_figures_stay_text(fixed_document):
    """A theme's name is user text: matplotlib draws it as it is (no
    mathtext), the SVG and the table escape it."""
    from docx import Document

    doc = copy.deepcopy(fixed_document["document"])
    doc["participation"]["inputs_by_theme"][0]["label"] = "$x^2$ <script>alert(1)</script> & \"q\""
    page = export("html", doc).decode()
    assert "<script" not in page
    figure = lxml_html.fromstring(page).xpath("//figure[@id='figure-inputs_by_theme']")[0]
    texts = [t.text_content() for t in figure.xpath(".//svg//text")]
    assert any(t.startswith("$x^2$ <script>") for t in texts)
    assert figure.xpath(".//tbody/tr/th")[0].text_content() == "$x^2$ <script>alert(1)</script> & \"q\""
    word = Document(io.BytesIO(export("docx", doc)))
    assert len(word.inline_shapes) == 4
