/**
 * Participation balance as four small bar charts, live: interventions and
 * speaking time by channel and by stakeholder category (the "statistics"
 * section), written inputs by category and by theme (the "participation"
 * section). Staff pages only: the moderator's statistics panel and the
 * rapporteur's workspace include templates/_participation_charts.html.
 *
 * The bars are SVG built with DOM methods; every text (a theme's name is
 * user text) goes in with textContent, never as markup. Each chart has its
 * numbers as a table under "Numbers", and the picture's label says them too.
 * The exported summary draws the same figures with matplotlib
 * (moderation/plugins/figures.py).
 */
import { subscribe } from "./live.js";
import { labelsFrom } from "./statistics.js";
import { formatDuration } from "./timer.js";
import { el, setText } from "./util.js";

const SVG = "http://www.w3.org/2000/svg";
const CHANNELS = { room: "In the room", online: "Online" };
// Okabe–Ito: safe for colour-blind readers; each bar carries its value too.
const COLOURS = { channel: "#0072B2", category: "#C17A00", input: "#009E73" };
const WIDTH = 320;
const LABEL = 136;   // the labels' column: LABEL_CHARS at 12 px
const ROW = 24;
const LABEL_CHARS = 24;

function svgEl(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

function short(text) {
  const line = String(text).split(/\s+/).filter(Boolean).join(" ");
  return line.length <= LABEL_CHARS ? line : `${line.slice(0, LABEL_CHARS - 1)}…`;
}

/** The four charts' rows: {group, key, label, value, shown}. */
export function chartRows(statistics, participation, categoryLabels) {
  const dialogue = (statistics && statistics.dialogue) || { by_channel: {}, by_category: {} };
  const order = Object.keys(categoryLabels);
  const used = Object.keys(dialogue.by_category || {}).sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const speaking = [
    ...Object.entries(CHANNELS).map(([key, label]) => ({ group: "channel", key, label,
      slot: (dialogue.by_channel || {})[key] })),
    ...used.map((key) => ({ group: "category", key, label: categoryLabels[key] || key,
      slot: dialogue.by_category[key] })),
  ];
  const inputs = (rows) => (rows || []).map((r) => ({ group: "input", key: String(r.key), label: r.label,
    value: r.inputs, shown: String(r.inputs) }));
  return {
    interventions: speaking.map((r) => {
      const value = (r.slot && r.slot.interventions) || 0;
      return { group: r.group, key: r.key, label: r.label, value, shown: String(value) };
    }),
    speaking_time: speaking.map((r) => {
      const value = Math.round((r.slot && r.slot.seconds) || 0);
      return { group: r.group, key: r.key, label: r.label, value, shown: formatDuration(value) };
    }),
    inputs_by_category: inputs(participation && participation.inputs_by_category),
    inputs_by_theme: inputs(participation && participation.inputs_by_theme),
  };
}

function drawBars(svg, rows) {
  const top = Math.max(1, ...rows.map((r) => r.value));
  const span = WIDTH - LABEL - 46;
  const height = rows.length * ROW + 4;
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${height}`);
  svg.setAttribute("height", String(height));
  const nodes = [];
  rows.forEach((row, index) => {
    const y = index * ROW + 2;
    const width = row.value ? Math.max(2, (row.value / top) * span) : 0;
    const g = svgEl("g", { class: "chart-row", "data-group": row.group });
    const label = svgEl("text", { x: LABEL - 6, y: y + ROW / 2, class: "chart-label",
      "text-anchor": "end", "dominant-baseline": "central" });
    label.textContent = short(row.label);
    const full = svgEl("title");
    full.textContent = `${row.label}: ${row.shown}`;
    const bar = svgEl("rect", { x: LABEL, y: y + 4, width: width.toFixed(1), height: ROW - 8,
      class: "bar", fill: COLOURS[row.group] || COLOURS.input, "data-key": row.key, "data-value": row.value });
    bar.dataset.label = row.label;
    const value = svgEl("text", { x: (LABEL + width + 5).toFixed(1), y: y + ROW / 2, class: "chart-value",
      "dominant-baseline": "central" });
    value.textContent = row.shown;
    g.append(full, label, bar, value);
    nodes.push(g);
  });
  svg.replaceChildren(...nodes);
  for (const label of svg.querySelectorAll(".chart-label")) fit(label, LABEL - 10);
}

/** Shorten a label that is wider than its column (the table and the
 *  tooltip have it whole). A hidden chart measures 0: it is fitted when
 *  shown (see the toggle listener below). */
function fit(label, width) {
  let text = label.textContent;
  while (label.getComputedTextLength() > width && text.length > 3) {
    text = text.slice(0, -1).trimEnd();
    label.textContent = `${text}…`;
  }
}

function fillTable(body, rows) {
  body.replaceChildren(...rows.map((row) => el("tr", {}, el("th", { scope: "row", dir: row.group === "input" ? "auto" : null }, row.label),
    el("td", {}, row.shown))));
}

/** Paint one chart (figure[data-chart]) with its rows. */
function renderChart(figure, rows) {
  const svg = figure.querySelector("svg");
  const empty = figure.querySelector(".chart-empty");
  const numbers = figure.querySelector(".chart-numbers");
  const hasData = rows.some((r) => r.value);
  figure.toggleAttribute("data-empty", !hasData);
  if (empty) empty.hidden = hasData;
  svg.toggleAttribute("hidden", !hasData); // an SVG element has no .hidden property
  if (numbers) numbers.hidden = !hasData;
  const title = figure.querySelector("figcaption").textContent;
  const described = rows.map((r) => `${r.label} ${r.shown}`).join("; ");
  const label = hasData ? `${title}: ${described}.` : title;
  if (svg.getAttribute("aria-label") !== label) svg.setAttribute("aria-label", label);
  drawBars(svg, hasData ? rows : []);
  fillTable(figure.querySelector("tbody"), hasData ? rows : []);
}

export function renderCharts(root, statistics, participation) {
  const all = chartRows(statistics, participation, labelsFrom(root));
  for (const figure of root.querySelectorAll("figure[data-chart]")) {
    const rows = all[figure.dataset.chart];
    if (rows) renderChart(figure, rows);
  }
  const interventions = (statistics && statistics.dialogue && statistics.dialogue.interventions) || 0;
  const inputs = (participation && participation.inputs) || 0;
  setText(document.getElementById("participation-totals"),
    `${interventions} intervention${interventions === 1 ? "" : "s"} · ${inputs} input${inputs === 1 ? "" : "s"}`);
}

const root = document.getElementById("participation");
if (root) {
  let latest = null;
  subscribe((state, changed) => {
    latest = state.sections;
    if (!changed.includes("statistics") && !changed.includes("participation")) return;
    renderCharts(root, latest.statistics, latest.participation);
  });
  // Drawn while folded away, the labels could not be measured: draw again when opened.
  const toggle = document.getElementById("participation-toggle");
  if (toggle) {
    toggle.addEventListener("toggle", () => {
      if (toggle.open && latest) renderCharts(root, latest.statistics, latest.participation);
    });
  }
}
