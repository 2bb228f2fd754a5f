"""The summary's participation figures, drawn with matplotlib for the exports.

Four horizontal bar charts from the summary document: interventions and
speaking time by channel and by stakeholder category, inputs by category and
by theme. ``figures(document)`` says what each one shows (its numbers are
the table that goes beside it); ``svg`` and ``png`` draw one.

Drawing never touches pyplot or a GUI: a ``Figure`` on the Agg canvas, set
explicitly. The output is deterministic, for golden files and reviews alike:
a fixed size and resolution, the bundled DejaVu Sans, ``svg.hashsalt`` for
the SVG's ids, and no date or software version in the metadata. Labels are
drawn as plain text (``parse_math=False``): a theme called ``$x$`` shows as
``$x$``. The colours are from the Okabe–Ito palette (safe for colour-blind
readers): blue for the channels, orange for the categories, bluish green for
the inputs; every bar carries its value, so no colour is needed to read it.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

BLUE, ORANGE, GREEN = "#0072B2", "#E69F00", "#009E73"
CHANNEL_ORDER = ["room", "online"]
WIDTH_INCHES, DPI = 6.5, 110
RC = {"svg.hashsalt": "moderation-summary", "svg.fonttype": "none", "font.family": "DejaVu Sans",
      "font.size": 10, "axes.titlesize": 11, "path.simplify": True}


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    heading: str         # the table's column of labels
    unit: str            # the table's column of numbers
    rows: list[tuple[str, str, float]]  # (group, label, value); group: "channel", "category", "input"
    empty: str           # said instead of the figure when it has no data

    @property
    def has_data(self) -> bool:
        return any(value for _group, _label, value in self.rows)

    @property
    def table(self) -> tuple[list[str], list[list[Any]]]:
        return [self.heading, self.unit], [[label, _number(value)] for _group, label, value in self.rows]

    def description(self) -> str:
        """The figure in words, for alt text: every bar with its value."""
        return f"{self.title}: " + "; ".join(f"{label} {_number(value)}" for _g, label, value in self.rows) + "."


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 1)


def figures(document: dict[str, Any]) -> list[Figure]:
    """The four figures of the summary document, in order."""
    stats = document["statistics"]
    participation = document.get("participation") or {"inputs_by_category": [], "inputs_by_theme": []}
    # The room first, then online; the categories in their usual order.
    channels = sorted(stats["by_channel"], key=lambda r: CHANNEL_ORDER.index(r["key"])
                      if r["key"] in CHANNEL_ORDER else len(CHANNEL_ORDER))
    order = [r["key"] for r in participation["inputs_by_category"]]
    categories = sorted(stats["by_category"], key=lambda r: order.index(r["key"]) if r["key"] in order else len(order))
    speaking = [("channel", r["label"], r) for r in channels] + [("category", r["label"], r) for r in categories]
    return [
        Figure("interventions", "Interventions by channel and by category",
               "Channel / category", "Interventions",
               [(g, label, r["interventions"]) for g, label, r in speaking], "No interventions yet."),
        Figure("speaking_time", "Speaking time by channel and by category (minutes)",
               "Channel / category", "Minutes",
               [(g, label, r["minutes"]) for g, label, r in speaking], "No interventions yet."),
        Figure("inputs_by_category", "Written inputs by category", "Category", "Inputs",
               [("input", r["label"], r["inputs"]) for r in participation["inputs_by_category"]],
               "No inputs yet."),
        Figure("inputs_by_theme", "Written inputs by theme", "Theme", "Inputs",
               [("input", r["label"], r["inputs"]) for r in participation["inputs_by_theme"]],
               "No inputs tagged with a theme yet."),
    ]


def _draw(figure: Figure):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    rows = figure.rows
    labels = [_short(label) for _g, label, _v in rows]
    values = [float(v) for _g, _l, v in rows]
    colours = [{"channel": BLUE, "category": ORANGE}.get(g, GREEN) for g, _l, _v in rows]
    height = 0.9 + 0.32 * len(rows)
    fig = MplFigure(figsize=(WIDTH_INCHES, height), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    positions = list(range(len(rows)))
    ax.barh(positions, values, color=colours, height=0.7)
    ax.set_yticks(positions, labels)
    for tick in ax.get_yticklabels():
        tick.set_parse_math(False)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # the first row on top, no empty band
    top = max(values) or 1.0
    ax.set_xlim(0, top * 1.18)
    for position, value in zip(positions, values, strict=True):
        ax.text(value + top * 0.015, position, str(_number(value)), va="center", fontsize=9, parse_math=False)
    ax.set_title(figure.title, loc="left", parse_math=False)
    ax.xaxis.set_visible(False)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    # Margins from the labels' length, not tight_layout: that draws the
    # figure once more just to measure it (half the time of an export).
    label_inches = max((len(label) for label in labels), default=1) * 0.6 * 10 / 72 + 0.2
    fig.subplots_adjust(left=min(0.6, label_inches / WIDTH_INCHES), right=0.97,
                        top=1 - 0.42 / height, bottom=0.12 / height)
    return fig


def _short(label: str, limit: int = 42) -> str:
    """One line of at most ``limit`` characters (the table has it whole)."""
    line = " ".join(str(label).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def svg(figure: Figure) -> str:
    """The figure as an ``<svg>`` element (no XML prolog), to put inline."""
    import matplotlib

    with matplotlib.rc_context(RC):
        buffer = io.StringIO()
        _draw(figure).savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):].strip()
    # Inline in a page with other figures: no metadata, no style sheet (its
    # ``*`` rule would reach the whole page), and ids of this figure's own.
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r'\s*<style type="text/css">.*?</style>', "", text, flags=re.S)
    return re.sub(r'(\bid="|url\(#|href="#)', lambda m: f"{m.group(1)}{figure.key}-", text)


def png(figure: Figure) -> bytes:
    import matplotlib

    with matplotlib.rc_context(RC):
        buffer = io.BytesIO()
        _draw(figure).savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
