"""Built-in summary exporters: DOCX (the format the editors work in),
Markdown, a print-ready HTML page, JSON (everything, for archiving), CSV and
XLSX of the inputs, and CSV of the interventions.

Every exporter takes the document from ``moderation.features.summary.commands.build_summary``
and escapes user text for its own format. Registered through the
``moderation.plugins`` entry point like any third-party plugin.
"""
from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from moderation.core.csv import neutralize, write_csv
from moderation.plugins import figures as charts
from moderation.plugins.hookspecs import Exporter, hookimpl


def _item_heading(number: int, title: str) -> str:
    return f"{number}. {title}"


def _citation(point: dict[str, Any]) -> str:
    cited = ", ".join(f"#{i}" for i in point["inputs"])
    orgs = f"; {', '.join(point['organizations'])}" if point.get("organizations") else ""
    return f"(input{'s' if len(point['inputs']) > 1 else ''} {cited}{orgs})"


def _has_content(part: dict[str, Any]) -> bool:
    return bool(part.get("narrative") or part["themes"] or part["other_points"] or part["suggestions"]
                or part["questions"])


# -- walking the document once, for the text formats ------------------------------------------------
class Writer:
    """What a text format knows how to write; ``render`` walks the document
    in one order for Markdown and HTML alike."""

    def heading(self, level: int, text: str) -> None: ...
    def paragraph(self, text: str) -> None: ...
    def meta(self, pairs: list[tuple[str, str]]) -> None: ...
    def points(self, points: list[dict[str, Any]]) -> None: ...
    def table(self, header: list[str], rows: list[list[Any]]) -> None: ...

    def figure(self, number: int, figure: charts.Figure) -> None:
        """A figure with its numbers: in a text-only format, the caption and the table."""
        self.paragraph(f"Figure {number}. {figure.title}")
        self.table(*figure.table)


def render(document: dict[str, Any], out: Writer) -> None:
    d = document["dialogue"]
    out.heading(1, d["title"])
    meta = [("Date", d["date"] or "to be set"), ("Venue", d["venue"] or "—"), ("Format", d["format"])]
    if d["chairs"]:
        meta.append(("Chairs", d["chairs"]))
    if d.get("preparation_day"):
        meta.append(("Preceded by", f"{d['preparation_day']['title']} ({d['preparation_day']['date'] or ''})"))
    out.meta(meta)
    if document["introduction"]:
        out.heading(2, "Introduction")
        out.paragraph(document["introduction"])
    out.heading(2, "Attendance")
    att = document["attendance"]
    out.table(["Category", "In the room", "Online", "Total"],
              [[r["label"], r["room"], r["online"], r["total"]] for r in att["rows"]]
              + [["Total", att["totals"]["room"], att["totals"]["online"], att["totals"]["total"]]])
    if att.get("note"):
        out.paragraph(att["note"])
    out.heading(2, "Agenda")
    out.table(["No.", "Item", "Planned start", "Planned (min)", "Started", "Ended", "Actual (min)"],
              [[a["position"], a["title"], a["planned_start"] or "", a["planned_minutes"] or "",
                a["actual_start"] or "", a["actual_end"] or "", "" if a["actual_minutes"] is None
                else a["actual_minutes"]] for a in document["agenda"]])
    stats = document["statistics"]
    out.heading(2, "Interventions")
    out.paragraph(f"{stats['interventions']} interventions, {stats['minutes']} minutes of speaking time.")
    _statistics_tables(out, stats)
    _participation(out, document)
    for number, part in enumerate(document["items"], start=1):
        out.heading(2, _item_heading(number, part["title"]))
        if part["presenters"]:
            out.meta([("Panellists and presenters", "; ".join(part["presenters"]))])
        if part["narrative"]:
            out.paragraph(part["narrative"])
        if part["statistics"]["interventions"]:
            out.paragraph(f"{part['statistics']['interventions']} interventions, "
                          f"{part['statistics']['minutes']} minutes of speaking time.")
            _statistics_tables(out, part["statistics"])
        _grouped(out, part)
    general = document["general"]
    if general["themes"] or general["other_points"] or general["suggestions"] or general["questions"]:
        out.heading(2, "On the dialogue as a whole")
        _grouped(out, general)
    if document["conclusions"]:
        out.heading(2, "Conclusions")
        out.paragraph(document["conclusions"])
    out.heading(2, "Annex I. Inputs received")
    annex = document["annex"]["inputs"]
    if annex:
        out.table(["No.", "Item", "Type", "From", "Themes", "Endorsements", "Text"],
                  [[f"#{i['id']}", i["item"], i["kind_label"],
                    ", ".join(x for x in (i["author"], i["organization"]) if x),
                    ", ".join(i["themes"]), i["endorsements"], i["text"]] for i in annex])
    else:
        out.paragraph("No inputs were published.")
    organizations = document["annex"]["organizations"]
    if organizations is not None:
        out.heading(2, "Annex II. Participating organizations")
        out.table(["Organization", "Category"], [[o["name"], o["category"]] for o in organizations])


def _statistics_tables(out: Writer, stats: dict[str, Any]) -> None:
    rows = [[r["label"], r["interventions"], r["minutes"]] for r in stats["by_channel"]] \
        + [[r["label"], r["interventions"], r["minutes"]] for r in stats["by_category"]]
    if rows:
        out.table(["Channel / category", "Interventions", "Minutes"], rows)


def _participation(out: Writer, document: dict[str, Any]) -> None:
    """The participation balance: four figures, each with its table; a figure
    without data is a sentence instead."""
    out.heading(2, "Participation balance")
    number = 0
    for figure in charts.figures(document):
        if figure.has_data:
            number += 1
            out.figure(number, figure)
        else:
            out.paragraph(f"{figure.title}: {figure.empty}")


def _grouped(out: Writer, part: dict[str, Any]) -> None:
    if part["themes"] or part["other_points"]:
        out.heading(3, "Key points")
        for theme in part["themes"]:
            out.heading(4, theme["name"])
            out.points(theme["points"])
        if part["other_points"]:
            if part["themes"]:
                out.heading(4, "Other points")
            out.points(part["other_points"])
    if part["suggestions"]:
        out.heading(3, "Suggestions and recommendations to States parties")
        out.points(part["suggestions"])
    if part["questions"]:
        out.heading(3, "Questions raised")
        out.points(part["questions"])


# -- Markdown -----------------------------------------------------------------------------------------
# User text goes into Markdown in three kinds of place, each escaped for its
# own: a line of its own (a heading, the first line of a list item), lines
# kept together in one block (a paragraph, a list item, a meta value), and a
# table cell. Line breaks are what let text start a block of its own (a
# heading, a list, a table row): a single-line place gets none, a block's
# lines are escaped each at their start and joined by hard breaks, and
# blank lines end a paragraph only where the writer says so.
MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>|~&])")
MARKDOWN_LINE_START = re.compile(r"^(\s*)([#+=-]|\d+(?=[.)]))")
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def lines_of(text: Any) -> list[str]:
    """The text's non-blank lines (CR LF, CR and LF all end a line)."""
    return [line for line in LINE_BREAK.split(str(text)) if line.strip()]


def md_escape(text: Any, *, line_start: bool = True) -> str:
    """One line of user text as Markdown that shows exactly that text:
    characters that make emphasis, code, links, HTML, tables or entities
    are escaped anywhere, those that start a heading or a list or underline
    a heading at the start of the line (``line_start``). Line breaks become
    spaces."""
    escaped = MARKDOWN_INLINE.sub(r"\\\1", " ".join(LINE_BREAK.split(str(text))))
    if line_start:
        escaped = MARKDOWN_LINE_START.sub(
            lambda m: m.group(1) + (m.group(2) + "\\" if m.group(2)[0].isdigit() else "\\" + m.group(2)), escaped)
    return escaped


def md_block(text: Any, indent: str = "") -> str:
    """Lines of user text kept in one block: each line escaped, joined by
    hard line breaks (and ``indent``, to stay inside a list item)."""
    return ("  \n" + indent).join(md_escape(line.strip()) for line in lines_of(text))


class MarkdownWriter(Writer):
    def __init__(self):
        self.lines: list[str] = []

    def heading(self, level, text):
        # Every # escaped: trailing ones would close the heading and vanish.
        self.lines += ["#" * level + " " + md_escape(text, line_start=False).replace("#", "\\#"), ""]

    def paragraph(self, text):
        for block in re.split(r"(?:\r\n|\r|\n)[ \t]*(?:\r\n|\r|\n)", str(text)):
            if block.strip():
                self.lines += [md_block(block), ""]

    def meta(self, pairs):
        self.lines += [f"- **{md_escape(k)}:** {md_block(v, '  ')}" for k, v in pairs] + [""]

    def points(self, points):
        for number, point in enumerate(points, start=1):
            self.lines.append(f"{number}. {md_block(point['text'], '   ')} {md_escape(_citation(point))}")
        self.lines.append("")

    def table(self, header, rows):
        cell = lambda v: "<br>".join(md_escape(line.strip(), line_start=False)  # noqa: E731 - <br> is ours
                                     for line in lines_of(v))
        self.lines += ["| " + " | ".join(cell(h) for h in header) + " |",
                       "|" + "---|" * len(header)]
        self.lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
        self.lines.append("")


def export_markdown(document: dict[str, Any]) -> bytes:
    out = MarkdownWriter()
    render(document, out)
    return ("\n".join(out.lines).rstrip() + "\n").encode("utf-8")


# -- HTML -----------------------------------------------------------------------------------------------
PRINT_CSS = """
body { font-family: "Times New Roman", Georgia, serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem;
       color: #111; line-height: 1.45; }
h1 { font-size: 1.6rem; text-align: center; } h2 { font-size: 1.25rem; margin-top: 2rem; }
h3 { font-size: 1.1rem; } h4 { font-size: 1rem; font-style: italic; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .92rem; }
th, td { border: 1px solid #888; padding: .25rem .45rem; text-align: left; vertical-align: top; }
th { background: #eee; } dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.meta dt { font-weight: bold; } ol.points li { margin-bottom: .4rem; } .cite { color: #444; font-size: .9em; }
figure { margin: 1rem 0 1.5rem; } figure svg { display: block; max-width: 100%; height: auto; }
figcaption { font-weight: bold; margin-bottom: .3rem; } caption { text-align: left; font-style: italic; padding: .2rem 0; }
@media print { figure { break-inside: avoid; }
  body { margin: 0; max-width: none; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"""


def h(text: Any) -> str:
    """Escape user text and keep its line breaks (CR LF, CR or LF)."""
    return "<br>\n".join(html.escape(line) for line in LINE_BREAK.split(str(text)))


class HtmlWriter(Writer):
    def __init__(self):
        self.parts: list[str] = []

    def heading(self, level, text):
        self.parts.append(f"<h{level}>{h(text)}</h{level}>")

    def paragraph(self, text):
        self.parts += [f"<p>{h(block)}</p>" for block in str(text).split("\n\n")]

    def meta(self, pairs):
        self.parts.append('<dl class="meta">' + "".join(f"<dt>{h(k)}</dt><dd>{h(v)}</dd>" for k, v in pairs)
                          + "</dl>")

    def points(self, points):
        self.parts.append('<ol class="points">' + "".join(
            f'<li>{h(p["text"])} <span class="cite">{h(_citation(p))}</span></li>' for p in points) + "</ol>")

    def table(self, header, rows):
        head = "".join(f"<th scope=\"col\">{h(c)}</th>" for c in header)
        body = "".join("<tr>" + "".join(f"<td>{h(v)}</td>" for v in row) + "</tr>" for row in rows)
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def figure(self, number, figure):
        # The picture is matplotlib's SVG (its text escaped by matplotlib);
        # what it shows is said in the label and in the table beside it.
        picture = charts.svg(figure).replace(
            "<svg ", f'<svg role="img" aria-label="{html.escape(figure.description(), quote=True)}" ', 1)
        header, rows = figure.table
        head = f'<th scope="col">{h(header[0])}</th><th scope="col">{h(header[1])}</th>'
        body = "".join(f'<tr><th scope="row">{h(label)}</th><td>{h(value)}</td></tr>' for label, value in rows)
        caption = f"Figure {number}. {figure.title}"
        self.parts.append(
            f'<figure class="chart" id="figure-{figure.key}"><figcaption>{h(caption)}</figcaption>{picture}'
            f"<table><caption>{h(caption)}: the numbers</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></figure>")


def export_html(document: dict[str, Any]) -> bytes:
    out = HtmlWriter()
    render(document, out)
    title = html.escape(" ".join(str(document["dialogue"]["title"]).split()))  # the tab's title: text only
    page = ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{PRINT_CSS}</style></head><body>\n"
            + "\n".join(out.parts)
            + f"\n<footer><p class=\"cite\">Draft generated {h(document['generated_at'])}.</p></footer>"
            + "\n</body></html>\n")
    return page.encode("utf-8")


# -- JSON -------------------------------------------------------------------------------------------------
def export_json(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# -- spreadsheets -------------------------------------------------------------------------------------------
INPUT_COLUMNS: list[tuple[str, Callable[[dict], Any]]] = [
    ("id", lambda r: r["id"]), ("agenda item", lambda r: r["agenda_item"]), ("type", lambda r: r["type_label"]),
    ("text", lambda r: r["text"]), ("themes", lambda r: "; ".join(r["themes"])), ("author", lambda r: r["author"]),
    ("organization", lambda r: r["organization"]), ("organization category", lambda r: r["category_label"]),
    ("channel", lambda r: r["channel"]), ("status", lambda r: r["status"]),
    ("merged into", lambda r: r["merged_into"] or ""), ("endorsements", lambda r: r["endorsements"]),
    ("source", lambda r: r["source"]), ("time", lambda r: r["time"]),
]
INTERVENTION_COLUMNS: list[tuple[str, Callable[[dict], Any]]] = [
    ("id", lambda r: r["id"]), ("agenda item", lambda r: r["agenda_item"]), ("name", lambda r: r["name"]),
    ("organization", lambda r: r["organization"]), ("category", lambda r: r["category_label"]),
    ("channel", lambda r: r["channel"]), ("type", lambda r: r["type_label"]), ("start", lambda r: r["start"] or ""),
    ("end", lambda r: r["end"] or ""), ("duration (s)", lambda r: r["seconds"]),
]


def _csv(columns, rows: Iterable[dict]) -> bytes:
    return write_csv(([get(row) for _, get in columns] for row in rows), [name for name, _ in columns]).encode("utf-8")


def export_inputs_csv(document: dict[str, Any]) -> bytes:
    return _csv(INPUT_COLUMNS, document["inputs"])


def export_interventions_csv(document: dict[str, Any]) -> bytes:
    return _csv(INTERVENTION_COLUMNS, document["interventions"])


def export_inputs_xlsx(document: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Inputs")
    sheet.freeze_panes = "A2"
    for index, width in enumerate((7, 28, 18, 80, 24, 20, 28, 24, 9, 11, 8, 8, 10, 20), start=1):
        sheet.column_dimensions[chr(64 + index)].width = width
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    header = []
    for name, _ in INPUT_COLUMNS:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in document["inputs"]:
        cells = []
        for name, get in INPUT_COLUMNS:
            value = get(row)
            cell = WriteOnlyCell(sheet, value=neutralize(value))
            if isinstance(value, str):
                cell.data_type = "s"  # text, never a formula
            if name == "text":
                cell.alignment = wrap
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# -- DOCX -----------------------------------------------------------------------------------------------------
def export_docx(document: dict[str, Any]) -> bytes:
    """Real headings, continuously numbered paragraphs for the points (as UN
    documents number them), tables for attendance, agenda and speaking time,
    and the participation figures as pictures, each with its table."""
    from docx import Document
    from docx.shared import Inches, Pt

    doc = Document()
    doc.core_properties.title = document["dialogue"]["title"]
    doc.styles["Normal"].font.name = "Times New Roman"
    doc.styles["Normal"].font.size = Pt(11)

    list_number = doc.styles["List Number"].style_id

    class DocxWriter(Writer):
        def heading(self, level, text):
            doc.add_heading(str(text), level=0 if level == 1 else level - 1)

        def paragraph(self, text):
            for block in str(text).split("\n\n"):
                doc.add_paragraph(block)

        def meta(self, pairs):
            for key, value in pairs:
                paragraph = doc.add_paragraph()
                paragraph.add_run(f"{key}: ").bold = True
                paragraph.add_run(str(value))

        def points(self, points):
            for point in points:
                # Style by id: python-docx looks a style name up again on every paragraph (slow).
                paragraph = doc.add_paragraph(point["text"])
                paragraph._p.style = list_number
                paragraph.add_run(" " + _citation(point)).italic = True

        def table(self, header, rows):
            table = doc.add_table(rows=1, cols=len(header))
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, header, strict=False):
                cell.text = ""
                cell.paragraphs[0].add_run(str(text)).bold = True
            # Rows are built as XML: python-docx's cell API re-reads the grid
            # for every cell, which takes seconds for a 2,000-row annex.
            for row in rows:
                table._tbl.append(_docx_row(row))
            doc.add_paragraph()

        def figure(self, number, figure):
            doc.add_picture(io.BytesIO(charts.png(figure)), width=Inches(6))
            # The picture's alternative text: what it shows, in words.
            doc.inline_shapes[-1]._inline.docPr.set("descr", figure.description())
            caption = doc.add_paragraph(f"Figure {number}. {figure.title}", style="Caption")
            caption.paragraph_format.keep_with_next = True
            self.table(*figure.table)

    render(document, DocxWriter())
    doc.add_paragraph(f"Draft generated {document['generated_at']}.").runs[0].italic = True
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _docx_row(values: list[Any]):
    """One table row of plain-text cells (line breaks kept) as a ``w:tr`` element."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tr = OxmlElement("w:tr")
    for value in values:
        tc = OxmlElement("w:tc")
        paragraph = OxmlElement("w:p")
        run = OxmlElement("w:r")
        for index, line in enumerate(str(value).split("\n")):
            if index:
                run.append(OxmlElement("w:br"))
            text = OxmlElement("w:t")
            text.text = line
            text.set(qn("xml:space"), "preserve")
            run.append(text)
        paragraph.append(run)
        tc.append(paragraph)
        tr.append(tc)
    return tr


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@hookimpl
def summary_exporters():
    return [
        Exporter("docx", "Word document (DOCX)", "docx", DOCX, export_docx),
        Exporter("md", "Markdown", "md", "text/markdown; charset=utf-8", export_markdown),
        Exporter("html", "Web page for printing (HTML)", "html", "text/html; charset=utf-8", export_html),
        Exporter("json", "Everything, for archiving (JSON)", "json", "application/json", export_json),
        Exporter("inputs_csv", "Inputs (CSV)", "csv", "text/csv; charset=utf-8", export_inputs_csv),
        Exporter("inputs_xlsx", "Inputs (Excel)", "xlsx", XLSX, export_inputs_xlsx),
        Exporter("interventions_csv", "Interventions (CSV)", "csv", "text/csv; charset=utf-8",
                 export_interventions_csv),
    ]
