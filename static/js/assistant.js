/**
 * The assistant in the rapporteur's workspace: possible duplicates, theme
 * suggestions for untagged inputs, themes found from scratch. Suggestions
 * are reads ("assist.duplicates", "assist.theme_suggestions",
 * "assist.theme_clusters"); nothing changes until the rapporteur acts, with
 * a command: inputs.merge, assist.dismiss_duplicate, assist.accept_themes,
 * assist.accept_cluster. Splitting, merging and rejecting a theme found from
 * scratch change only this list until it is accepted.
 *
 * The duplicates list, once shown, is read again shortly after inputs arrive.
 */
import { connectionState, notify, query, subscribe } from "./live.js";
import { sendFor } from "./input_cards.js";
import { el, setAttr, setText } from "./util.js";

const $ = (id) => document.getElementById(id);
const REREAD_MS = 2500;
const BATCH = 500; // assignments per assist.accept_themes

const inputs = new Map(); // id -> input view, from the answers
let duplicatesShown = false;
let rereadTimer = null;
let themeItems = [];
let clusters = []; // [{key, label, input_ids, central_input_id}]
let clusterKeys = 0;

function excerpt(text, length = 180) {
  const flat = String(text || "").replace(/\s+/g, " ").trim();
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat;
}

function percent(score) {
  return `${Math.round(Math.max(0, score) * 100)} %`;
}

/** One input, as a line: its kind, its words, who sent it. */
function inputLine(id) {
  const view = inputs.get(id);
  if (!view) return el("div", { class: "assist-input" }, `Input #${id}`);
  const who = [view.author, view.organization].filter(Boolean).join(", ");
  return el("div", { class: "assist-input" },
    el("span", { class: "assist-kind" }, view.kind_label || view.kind), " ",
    el("span", { class: "assist-text", dir: "auto" }, excerpt(view.text)), " ",
    el("span", { class: "assist-who" }, `#${id}`, who ? " · " : "", who ? el("bdi", {}, who) : null));
}

function remember(answer) {
  for (const view of answer.inputs || []) inputs.set(view.id, view);
  if (answer.backend) setText($("assist-backend"), `Compared by ${answer.backend.label}`);
}

async function ask(statusNode, event, data) {
  // Cut off, the read waits for the connection (and is sent once it is back): say so.
  setText(statusNode, connectionState() === "connected" ? "Working…" : "Waiting for the connection to the server…");
  try {
    const answer = await query(event, data);
    remember(answer);
    return answer;
  } catch (error) {
    setText(statusNode, (error && error.message) || "The suggestions could not be read.");
    return null;
  }
}

// -- the focus, when a list is drawn again ------------------------------------------------------------
// Acting on a suggestion draws its list again, and a control that goes takes
// the focus with it (to <body>). The focus goes instead to the same control
// of the row now at that place (the next one), or, when the list is empty, to
// the part's status or heading.

const FOCUSABLE = "button, select, input, summary, a[href]";

function usable(node) {
  return Boolean(node && node.isConnected && !node.disabled && !node.closest("[hidden]") && node.getClientRects().length);
}

/** Which control of which row: {index, kind, nth}. */
function spotOf(list, rowSelector, control) {
  const row = control.closest(rowSelector);
  if (!row || !list.contains(row)) return null;
  let kind = control.tagName.toLowerCase();
  if (control.dataset.dup) kind = `button[data-dup="${control.dataset.dup}"]`;
  else if (control.dataset.cluster) kind = `button[data-cluster="${control.dataset.cluster}"]`;
  else if (control.dataset.themeId) kind = "button[data-theme-id]";
  return { index: [...list.querySelectorAll(rowSelector)].indexOf(row), kind,
    nth: [...row.querySelectorAll(kind)].indexOf(control) };
}

/** Where the focus goes when the list has no row left. */
function fallbackOf(part) {
  const status = part.querySelector(".assist-status");
  const target = status && status.textContent.trim() && !status.hidden ? status : part.querySelector("h3, .similar-heading");
  if (target && !target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
  return target;
}

/** Run `draw` (which fills `list` again, and its status), keeping the focus in the part. */
function redraw(list, rowSelector, draw) {
  const part = list.closest(".assist-part, .similar-panel");
  const active = document.activeElement;
  const spot = active && list.contains(active) ? spotOf(list, rowSelector, active) : null;
  const inPart = Boolean(active && part && part.contains(active));
  draw();
  if (!inPart || (!spot && usable(active))) return; // the focus was elsewhere, or is still there
  const current = document.activeElement;
  if (current && current !== document.body && current !== active && !list.contains(current)) return; // moved on meanwhile
  let target = null;
  if (spot) {
    const rows = list.querySelectorAll(rowSelector);
    const row = rows[Math.min(spot.index, rows.length - 1)];
    if (row) {
      const same = [...row.querySelectorAll(spot.kind)].filter(usable);
      target = same[Math.min(Math.max(spot.nth, 0), same.length - 1)] || [...row.querySelectorAll(FOCUSABLE)].find(usable);
    }
  }
  target = target || fallbackOf(part);
  if (target && target !== document.activeElement) target.focus();
}

// -- possible duplicates -----------------------------------------------------------------------------
async function findDuplicates() {
  const answer = await ask($("dup-status"), "assist.duplicates", { max_items: 30 });
  if (!answer) return;
  duplicatesShown = true;
  renderDuplicates(answer);
}

function renderDuplicates(answer) {
  redraw($("dup-list"), ".dup-candidate", () => drawDuplicates(answer));
}

function drawDuplicates(answer) {
  const seen = new Set();
  const rows = [];
  for (const item of answer.items) {
    // A pair shows once: under the input of the two listed first.
    const candidates = item.candidates.filter((c) => !seen.has(`${c.input_id}:${item.input_id}`));
    for (const c of candidates) seen.add(`${item.input_id}:${c.input_id}`);
    if (candidates.length) rows.push(duplicateRow(item.input_id, candidates));
  }
  $("dup-list").replaceChildren(...rows);
  const pairs = seen.size;
  const more = answer.items.length < answer.total ? " (the most likely; act on them to see more)" : "";
  setText($("dup-status"), pairs
    ? `${pairs} possible duplicate${pairs === 1 ? "" : "s"}${more}, the most similar first.`
    : "No possible duplicates.");
}

function duplicateRow(inputId, candidates, { canMerge = true } = {}) {
  return el("li", { class: "dup-row", dataset: { key: inputId } },
    inputLine(inputId),
    el("ul", { class: "dup-candidates", "aria-label": `Possible duplicates of input #${inputId}` },
      ...candidates.map((c) => {
        const keep = Math.min(inputId, c.input_id);
        const drop = Math.max(inputId, c.input_id);
        return el("li", { class: "dup-candidate", dataset: { key: c.input_id, likely: c.likely ? "yes" : "no" } },
          el("div", { class: "dup-score" },
            el("span", { class: "score" }, `${percent(c.score)} similar`),
            c.likely ? el("span", { class: "badge likely" }, "Likely duplicate") : null),
          inputLine(c.input_id),
          el("div", { class: "dup-actions" },
            !canMerge ? null : el("button", { type: "button", class: "button small", "data-dup": "merge", "data-keep": keep,
              "data-drop": drop, "aria-label": `Merge into #${keep} (input #${drop})` }, `Merge into #${keep}`),
            el("button", { type: "button", class: "button small secondary", "data-dup": "dismiss",
              "data-first": inputId, "data-second": c.input_id,
              "aria-label": `Not a duplicate: inputs #${inputId} and #${c.input_id}` }, "Not a duplicate")));
      })));
}

/** Merge or dismiss, from a button made by duplicateRow; true once done. */
async function duplicateAction(button) {
  let ack;
  if (button.dataset.dup === "merge") {
    const keep = Number(button.dataset.keep);
    const drop = Number(button.dataset.drop);
    ack = await sendFor(button, "inputs.merge", { target_id: keep, source_ids: [drop] });
    if (ack) notify(`Merged #${drop} into #${keep}.`, { kind: "info" });
  } else {
    ack = await sendFor(button, "assist.dismiss_duplicate",
      { input_id: Number(button.dataset.first), other_id: Number(button.dataset.second) });
    if (ack) notify("Not proposed again.", { kind: "info" });
  }
  return Boolean(ack);
}

async function onDuplicateAction(event) {
  const button = event.target.closest("button[data-dup]");
  if (button && await duplicateAction(button)) findDuplicates();
}

// Five, not three: a duplicate missed among the first three is most often 4th to 8th (bench/assist.py).
const SIMILAR_LIMIT = 5;

/** One input's most similar inputs, for its card ("Similar…"): a panel that
 *  fills itself, with the same Merge and Not a duplicate (`canMerge` false:
 *  the moderator's console, where merging is left to the rapporteurs). */
export function similarPanel(inputId, { canMerge = true } = {}) {
  const status = el("p", { class: "assist-status muted small", "aria-live": "polite" });
  const list = el("ul", { class: "similar-list" });
  const panel = el("div", { class: "similar-panel" },
    el("p", { class: "similar-heading" }, `Most similar to #${inputId}`), status, list);
  const fill = async () => {
    const answer = await ask(status, "assist.duplicates", { input_id: inputId, limit: SIMILAR_LIMIT });
    if (!answer) return;
    const item = answer.items[0];
    redraw(list, ".dup-candidate", () => {
      setText(status, item && item.candidates.length ? `Compared by ${answer.backend.label}.` : "No other input to compare.");
      list.replaceChildren(...(item && item.candidates.length ? [duplicateRow(inputId, item.candidates, { canMerge })] : []));
      const first = list.querySelector(".dup-row > .assist-input");
      if (first) first.hidden = true; // the card above shows the input itself
    });
  };
  list.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-dup]");
    if (button && await duplicateAction(button)) fill();
  });
  fill();
  return panel;
}

function rereadSoon() {
  if (!duplicatesShown || rereadTimer) return;
  rereadTimer = setTimeout(() => {
    rereadTimer = null;
    findDuplicates();
  }, REREAD_MS);
}

// -- theme suggestions ---------------------------------------------------------------------------------
async function suggestThemes() {
  const answer = await ask($("themes-status"), "assist.theme_suggestions", {});
  if (!answer) return;
  themeItems = answer.items.filter((item) => item.themes.length);
  redraw($("suggest-list"), ".suggest-row", () => drawSuggestions(answer));
}

function drawSuggestions(answer) {
  $("suggest-list").replaceChildren(...themeItems.map(suggestionRow));
  const acceptAll = $("suggest-accept-all");
  acceptAll.hidden = !themeItems.length;
  setText(acceptAll, `Accept every first suggestion (${themeItems.length})`);
  if (!answer.themes_with_examples.length) {
    setText($("themes-status"), "Tag a few inputs with each theme first (three per theme is enough to start).");
  } else {
    const none = answer.total - themeItems.length;
    const rest = none ? ` ${none} fit${none === 1 ? "s" : ""} none of the themes yet: tag by hand, or find themes from scratch.` : "";
    setText($("themes-status"), answer.total
      ? `${themeItems.length} untagged input${themeItems.length === 1 ? "" : "s"} with a likely theme, the most likely first.${rest}`
      : "Every input has a theme.");
  }
}

function suggestionRow(item) {
  return el("li", { class: "suggest-row", dataset: { key: item.input_id } },
    inputLine(item.input_id),
    el("div", { class: "suggest-actions" },
      ...item.themes.map((theme, index) => el("button", {
        type: "button", class: `button small${index ? " secondary" : ""}`, "data-theme-id": theme.theme_id, dir: "auto",
        "aria-label": `${theme.name}: tag input #${item.input_id}${index ? "" : " (most likely)"}` },
      theme.name))));
}

/** " 2 inputs left out: hidden, withdrawn or merged since." (empty when none). */
function leftOut(skipped) {
  const count = (skipped || []).length;
  return count ? ` ${count} input${count === 1 ? "" : "s"} left out: hidden, withdrawn or merged since.` : "";
}

async function acceptThemes(button, assignments) {
  let added = 0;
  const skipped = [];
  for (let start = 0; start < assignments.length; start += BATCH) {
    const ack = await sendFor(button, "assist.accept_themes", { assignments: assignments.slice(start, start + BATCH) });
    if (!ack) return;
    added += ack.result.added;
    skipped.push(...(ack.result.skipped || []));
  }
  notify(`${added} theme${added === 1 ? "" : "s"} added.${leftOut(skipped)}`, { kind: "info" });
  suggestThemes();
}

function onSuggestionAction(event) {
  const button = event.target.closest("button[data-theme-id]");
  if (!button) return;
  const row = button.closest(".suggest-row");
  acceptThemes(button, [{ input_id: Number(row.dataset.key), theme_id: Number(button.dataset.themeId) }]);
}

// -- themes from scratch -----------------------------------------------------------------------------
function keyed(found) {
  return found.map((cluster) => ({ ...cluster, key: `c${clusterKeys += 1}` }));
}

async function findThemes() {
  const answer = await ask($("clusters-status"), "assist.theme_clusters", {});
  if (!answer) return;
  clusters = keyed(answer.clusters);
  renderClusters();
}

function renderClusters() {
  redraw($("cluster-list"), ".cluster-row", () => {
    $("cluster-list").replaceChildren(...clusters.map(clusterRow));
    setText($("clusters-status"), clusters.length
      ? `${clusters.length} possible theme${clusters.length === 1 ? "" : "s"} among the untagged inputs. Rename, split, merge or reject them; accept to tag.`
      : "Not enough untagged inputs to group.");
  });
}

function clusterRow(cluster) {
  const nameId = `cluster-name-${cluster.key}`;
  const others = clusters.filter((c) => c.key !== cluster.key);
  const mergeSelect = el("select", { class: "cluster-merge-with", "aria-label": `Merge “${cluster.label}” with` },
    el("option", { value: "" }, "Merge with…"),
    ...others.map((c) => el("option", { value: c.key, dir: "auto" }, `${c.label} (${c.input_ids.length})`)));
  return el("li", { class: "cluster-row", dataset: { key: cluster.key } },
    el("div", { class: "field cluster-name" },
      el("label", { for: nameId }, `Theme of ${cluster.input_ids.length} input${cluster.input_ids.length === 1 ? "" : "s"}`),
      el("input", { type: "text", id: nameId, value: cluster.label, maxlength: 200, autocomplete: "off", dir: "auto" })),
    el("p", { class: "cluster-central-label" }, "Most typical:"),
    inputLine(cluster.central_input_id),
    el("details", { class: "cluster-members" },
      el("summary", {}, `All ${cluster.input_ids.length} inputs`),
      el("ul", {}, ...cluster.input_ids.map((id) => el("li", {}, inputLine(id))))),
    el("div", { class: "cluster-actions" },
      el("button", { type: "button", class: "button small", "data-cluster": "accept" }, "Accept"),
      el("button", { type: "button", class: "button small secondary", "data-cluster": "split",
        disabled: cluster.input_ids.length < 4 ? true : null }, "Split"),
      others.length ? mergeSelect : null,
      others.length ? el("button", { type: "button", class: "button small secondary", "data-cluster": "merge" }, "Merge") : null,
      el("button", { type: "button", class: "button small danger", "data-cluster": "reject" }, "Reject")));
}

async function onClusterAction(event) {
  const button = event.target.closest("button[data-cluster]");
  if (!button) return;
  const row = button.closest(".cluster-row");
  const index = clusters.findIndex((c) => c.key === row.dataset.key);
  const cluster = clusters[index];
  if (!cluster) return;
  const action = button.dataset.cluster;
  if (action === "reject") {
    clusters.splice(index, 1);
    renderClusters();
  } else if (action === "merge") {
    const other = clusters.find((c) => c.key === row.querySelector(".cluster-merge-with").value);
    if (!other) {
      notify("Choose the theme to merge with.", { kind: "info" });
      return;
    }
    cluster.input_ids = [...new Set([...cluster.input_ids, ...other.input_ids])].sort((a, b) => a - b);
    clusters = clusters.filter((c) => c.key !== other.key);
    renderClusters();
  } else if (action === "split") {
    setAttr(button, "aria-busy", "true");
    const answer = await ask($("clusters-status"), "assist.theme_clusters", { input_ids: cluster.input_ids, k: 2 });
    setAttr(button, "aria-busy", null);
    if (!answer) return;
    clusters.splice(clusters.indexOf(cluster), 1, ...keyed(answer.clusters));
    renderClusters();
  } else if (action === "accept") {
    const name = row.querySelector("input[type=text]").value.trim();
    if (!name) {
      notify("Give the theme a name.", { kind: "info" });
      return;
    }
    const ack = await sendFor(button, "assist.accept_cluster", { name, input_ids: cluster.input_ids });
    if (!ack) return;
    notify(`Theme “${name}” given to ${ack.result.added} input${ack.result.added === 1 ? "" : "s"}.${leftOut(ack.result.skipped)}`,
      { kind: "info" });
    clusters = clusters.filter((c) => c.key !== cluster.key);
    renderClusters();
  }
}

export function initAssistant() {
  if (!$("assist-panel")) return;
  $("dup-find").addEventListener("click", findDuplicates);
  $("dup-list").addEventListener("click", onDuplicateAction);
  $("suggest-find").addEventListener("click", suggestThemes);
  $("suggest-list").addEventListener("click", onSuggestionAction);
  $("suggest-accept-all").addEventListener("click", (event) => acceptThemes(event.currentTarget,
    themeItems.map((item) => ({ input_id: item.input_id, theme_id: item.themes[0].theme_id }))));
  $("cluster-find").addEventListener("click", findThemes);
  $("cluster-list").addEventListener("click", onClusterAction);
  subscribe((_state, changed) => {
    if (changed.includes("inputs")) rereadSoon();
  });
}
