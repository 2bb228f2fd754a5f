"""User text in every summary export shows as that text and never becomes
markup of the format: no heading, list, table, link, code, emphasis or HTML
in Markdown; no tag in HTML; no formula in a spreadsheet; no paragraph of
its own in DOCX. Single-line fields that already hold a line break (stored
before they were refused at entry) and multi-line fields (the chairs' text,
narratives, inputs) alike.

The oracle does not know the exporters' escaping: each export of hostile
text is parsed by an independent reader (markdown-it-py, a CommonMark
parser; html.parser; python-docx; csv and openpyxl) and compared with the
export of a *twin* document whose user text has the same line breaks and
spaces but only letters. Markup that user text could inject would make the
two differ."""
from __future__ import annotations

import copy
import csv
import io
import re
from collections import Counter
from html.parser import HTMLParser

import pytest
from conftest import run, seed_dialogue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from test_exporters import export, fixed_document  # noqa: F401 - the fixture

from moderation.models import AgendaItem, Dialogue

PIECES = ["#", "##", "*", "**", "_", "`", "```", "~~", "[", "]", "(", ")", "![x](y)", "[a](javascript:alert(1))",
          "<b>", "</p>", "<script>", "&amp;", "&#35;", "\\", "|", "| a | b |", "|---|", "-", "+", "=", "---", "===",
          "1.", "2)", ">", "    ", "\t", " ", "\n", "\n\n", "\r", "\r\n", "\n# ", "\r# ", "\n- ", "\n1. ", "\n> ",
          "\n    ", "\n===", "\n---", "\n|x|", ":", "<https://evil.example>", "www.evil.example", "a", "é"]
texts = st.lists(st.sampled_from(PIECES), min_size=1, max_size=12).map("".join).filter(lambda t: t.strip())


def twin(text: str) -> str:
    """The same line breaks and spaces, every other character a letter."""
    return re.sub(r"[^\s]", "x", text)


def inject(document: dict, text: str) -> dict:
    """``text`` in every place of the document that holds user text."""
    doc = copy.deepcopy(document)
    d = doc["dialogue"]
    d["title"] = d["venue"] = d["chairs"] = text
    doc["introduction"] = doc["conclusions"] = text
    for row in doc["agenda"]:
        row["title"] = text
    for part in doc["items"]:
        part["title"] = part["narrative"] = text
        part["presenters"] = [text, text]
        for theme in part["themes"]:
            theme["name"] = text
            for point in theme["points"]:
                point["text"] = text
                point["organizations"] = [text]
        for point in part["other_points"] + part["suggestions"] + part["questions"]:
            point["text"] = text
    for row in doc["annex"]["inputs"]:
        row.update(item=text, author=text, organization=text, themes=[text], text=text)
    for row in doc["annex"]["organizations"] or []:
        row["name"] = text
    for row in doc["inputs"]:
        row.update(text=text, author=text, organization=text, agenda_item=text, themes=[text])
    for row in doc["interventions"]:
        row.update(name=text, organization=text, agenda_item=text)
    return doc


# -- Markdown ------------------------------------------------------------------------------------------
COMMONMARK = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def markdown_shape(data: bytes) -> list[tuple]:
    """Every block and inline element the parser finds, in order (text left out)."""
    shape = []
    for token in COMMONMARK.parse(data.decode()):
        if token.type != "inline":
            shape.append((token.type, token.tag))
        for child in token.children or ():
            if child.type not in ("text", "softbreak", "hardbreak"):
                shape.append((child.type, child.tag, child.content if child.type == "html_inline" else ""))
    return shape


def markdown_text(data: bytes) -> str:
    """The text a reader sees, spaces and line breaks collapsed."""
    words = []
    for token in COMMONMARK.parse(data.decode()):
        for child in token.children or ():
            if child.type == "text":
                words.append(child.content)
    return " ".join(" ".join(words).split())


def shown(text: str) -> list[str]:
    return [" ".join(line.split()) for line in re.split(r"\r\n|\r|\n", text) if line.strip()]


def without_paragraphs(shape: list[tuple]) -> list[tuple]:
    """The shape without paragraphs and line breaks (a table cell's lines
    are joined by the exporter's own <br>)."""
    return [part for part in shape if part[0] not in ("paragraph_open", "paragraph_close")
            and part != ("html_inline", "", "<br>")]


def test_markdown_shows_user_text_and_nothing_else(fixed_document):  # noqa: F811
    one_line = export("md", inject(fixed_document["document"], "x"))

    @settings(max_examples=80, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(text=texts)
    def check(text):
        document = fixed_document["document"]
        hostile, plain = export("md", inject(document, text)), export("md", inject(document, twin(text)))
        assert markdown_shape(hostile) == markdown_shape(plain), text
        # Whatever its line breaks, user text adds no heading, list item, table row or cell.
        assert without_paragraphs(markdown_shape(hostile)) == without_paragraphs(markdown_shape(one_line)), text
        seen = markdown_text(hostile)
        for line in shown(text):
            assert line in seen, (text, line)

    check()


@pytest.mark.parametrize("text", ["Opening\n# Injected heading", "Opening\r# Injected", "Opening\r\n## Injected",
                                  "Hall A\n- a list\n1. and more", "Chairs\n\n# Heading after a blank line",
                                  "Title ##", "x\n| a | b |\n|---|---|", "[a](javascript:alert(1))",
                                  "<img src=x onerror=alert(1)>"])
def test_markdown_line_breaks_and_markup_never_make_structure(fixed_document, text):  # noqa: F811
    document = fixed_document["document"]
    hostile = export("md", inject(document, text))
    assert markdown_shape(hostile) == markdown_shape(export("md", inject(document, twin(text))))
    headings = heading_texts(hostile)
    assert "Injected heading" not in headings and "Heading after a blank line" not in headings
    assert not [t for t in COMMONMARK.parse(hostile.decode()) if t.type == "html_block"]


def heading_texts(data: bytes) -> list[str]:
    """Each heading as a reader sees it."""
    tokens = COMMONMARK.parse(data.decode())
    return ["".join(c.content for c in tokens[i + 1].children if c.type == "text")
            for i, t in enumerate(tokens) if t.type == "heading_open"]


# -- HTML ----------------------------------------------------------------------------------------------
class Tags(HTMLParser):
    def __init__(self, data: bytes):
        super().__init__(convert_charrefs=True)
        self.tags: Counter = Counter()
        self.text: list[str] = []
        self.title = ""
        self._in_title = False
        self.feed(data.decode())

    def handle_starttag(self, tag, attrs):
        self.tags[(tag, tuple(sorted(attrs)))] += 1
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_title:
            self.title += data


def test_html_shows_user_text_and_nothing_else(fixed_document):  # noqa: F811
    @settings(max_examples=80, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(text=texts)
    def check(text):
        document = fixed_document["document"]
        page = export("html", inject(document, text))
        hostile, plain = Tags(page), Tags(export("html", inject(document, twin(text))))
        assert hostile.tags == plain.tags, text
        seen = " ".join(" ".join(hostile.text).split())
        for line in shown(text):
            assert line in seen, (text, line)
        raw_title = re.search(rb"<title>(.*?)</title>", page, re.S).group(1)
        assert b"<" not in raw_title, text   # a title is text (RCDATA): a <br> there would show as "<br>"

    check()


def test_html_keeps_every_kind_of_line_break(fixed_document):  # noqa: F811
    doc = copy.deepcopy(fixed_document["document"])
    doc["introduction"] = "one\rtwo\r\nthree\nfour"
    assert b"<p>one<br>\ntwo<br>\nthree<br>\nfour</p>" in export("html", doc)


# -- DOCX ----------------------------------------------------------------------------------------------
def docx_shape(data: bytes) -> list[tuple[str, int]]:
    from docx import Document
    word = Document(io.BytesIO(data))
    return [(p.style.name, len(p.runs)) for p in word.paragraphs] + [(f"table {len(t.rows)}x{len(t.columns)}", 0)
                                                                      for t in word.tables]


def test_docx_keeps_user_text_inside_its_paragraphs(fixed_document):  # noqa: F811
    @settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(text=texts)
    def check(text):
        document = fixed_document["document"]
        assert docx_shape(export("docx", inject(document, text))) == docx_shape(export("docx", inject(document,
                                                                                                       twin(text))))

    check()


# -- spreadsheets --------------------------------------------------------------------------------------
FORMULA = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
formulas = st.tuples(st.sampled_from(["", " ", "\t", "\r", "\n", " \t", "\r\n"]), st.sampled_from(FORMULA),
                     st.sampled_from(["1+1", "SUM(A1:A9)", "HYPERLINK(\"http://evil.example\")", "cmd|' /C calc'!A0"])
                     ).map("".join)


def runs_as_formula(cell: str) -> bool:
    """What a spreadsheet program may evaluate: a cell whose text, after
    leading white space, starts with a formula character (full-width ones
    included: some locales take them)."""
    return cell.lstrip(" \t\r\n").startswith(FORMULA) or cell.startswith(("\t", "\r"))


def test_no_spreadsheet_cell_runs_as_a_formula(fixed_document):  # noqa: F811
    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(text=formulas)
    def check(text):
        from openpyxl import load_workbook
        doc = inject(fixed_document["document"], text)
        for name in ("inputs_csv", "interventions_csv"):
            rows = list(csv.reader(io.StringIO(export(name, doc).decode("utf-8-sig"))))
            cells = [cell for row in rows[1:] for cell in row]
            assert text in "".join(cells) or f"'{text}" in "".join(cells)
            assert not [cell for cell in cells if runs_as_formula(cell)], (name, text)
        sheet = load_workbook(io.BytesIO(export("inputs_xlsx", doc)))["Inputs"]
        for row in list(sheet.iter_rows())[1:]:
            for cell in row:
                assert cell.data_type != "f" and not (isinstance(cell.value, str) and runs_as_formula(cell.value))

    check()


def test_the_accreditation_exports_neutralize_formulas_too(sqlite_app):
    """The participants and travel exports and the invitations list use the same rule."""
    from moderation.core.csv import csv_safe
    for text in ("=1+1", " =1+1", "\uff1dSUM(A1)", "\r\n@x", "\t-1"):
        assert not runs_as_formula(csv_safe(text)), text
    assert csv_safe("plain") == "plain" and csv_safe(None) == "" and csv_safe(3) == "3"


# -- text already stored, through the API ------------------------------------------------------------------
def test_line_breaks_already_stored_in_single_line_fields_are_safe_in_every_export(sqlite_app):
    """Titles and venues stored with line breaks before entry refused them:
    written straight to the database, then exported over the API."""
    service = sqlite_app.extensions["moderation"]
    seeded = seed_dialogue(service)
    did = seeded["dialogue_id"]
    token = run(service, "access.issue_api_token", {"dialogue_id": did, "role": "secretariat"})["token"]
    with service.db.session() as s, s.begin():
        dialogue = s.get(Dialogue, did)
        dialogue.venue = "Vienna\n# Venue heading"
        dialogue.chairs = "Ms. A\r\n## Chairs heading\n- item"
        s.get(AgendaItem, seeded["item_ids"][0]).title = "Opening\r# Item heading"
    client = sqlite_app.test_client()
    md = client.get(f"/api/v1/dialogues/{did}/summary/export?format=md",
                    headers={"Authorization": f"Bearer {token}"}).get_data()
    headings = heading_texts(md)
    assert "1. Opening # Item heading" in headings
    assert not [h for h in headings if h.endswith(("Venue heading", "Chairs heading", "Item heading"))
                and not h.startswith("1. Opening")], headings
    assert "Venue heading" in markdown_text(md) and "Chairs heading" in markdown_text(md)
    page = Tags(client.get(f"/api/v1/dialogues/{did}/summary/export?format=html",
                           headers={"Authorization": f"Bearer {token}"}).get_data())
    assert not [tag for (tag, _), n in page.tags.items() if tag in ("h1", "h2", "h3") and n > 30]
