/**
 * Speaking statistics as one compact table: interventions and speaking time
 * by channel and by stakeholder category, for the current item and for the
 * whole dialogue (the "statistics" section, staff only).
 *
 * The category names come from the page (data-category-labels, rendered
 * from the server's labels), so they read the same as everywhere else.
 */
import { formatDuration } from "./timer.js";
import { el, setText, syncList } from "./util.js";

const CHANNELS = { room: "In the room", online: "Online" };

/** The category labels a page renders in data-category-labels, in their
 *  intended order: the page renders [[key, label], …], since a JSON object
 *  rendered by Flask comes with its keys sorted. */
export function labelsFrom(node) {
  try {
    const parsed = JSON.parse(node.dataset.categoryLabels || "{}");
    return Array.isArray(parsed) ? Object.fromEntries(parsed) : parsed;
  } catch (_error) {
    return {};
  }
}

function cell(bucket) {
  if (!bucket || !bucket.interventions) return ["–", "–"];
  return [String(bucket.interventions), formatDuration(Math.round(bucket.seconds || 0))];
}

/** The rows: total, then each channel, then each category with any data. */
export function statisticsRows(statistics, itemId, categoryLabels) {
  const dialogue = (statistics && statistics.dialogue) || { by_channel: {}, by_category: {} };
  const item = (itemId != null && statistics && statistics.items && statistics.items[String(itemId)]) || null;
  const rows = [{ key: "total", group: "total", label: "All interventions", item, dialogue }];
  for (const [key, label] of Object.entries(CHANNELS)) {
    rows.push({ key: `channel:${key}`, group: "channel", label,
      item: item && item.by_channel[key], dialogue: dialogue.by_channel[key] });
  }
  const order = Object.keys(categoryLabels);
  const used = Object.keys(dialogue.by_category || {}).sort((a, b) => order.indexOf(a) - order.indexOf(b));
  for (const key of used) {
    rows.push({ key: `category:${key}`, group: "category", label: categoryLabels[key] || key,
      item: item && item.by_category[key], dialogue: dialogue.by_category[key] });
  }
  return rows;
}

/** Fill #stats-body. `itemId`: the current item (null: none runs). */
export function renderStatistics(statistics, itemId) {
  const wrap = document.getElementById("stats");
  const body = document.getElementById("stats-body");
  if (!wrap || !body) return;
  const rows = statisticsRows(statistics, itemId, labelsFrom(wrap));
  syncList(body, rows, (row) => row.key,
    () => el("tr", {}, el("th", { scope: "row" }), el("td"), el("td"), el("td"), el("td")),
    (tr, row, index) => {
      tr.dataset.group = row.group;
      const previous = rows[index - 1];
      if (previous && previous.group !== row.group) tr.dataset.first = "";
      else delete tr.dataset.first;
      const cells = tr.children;
      setText(cells[0], row.label);
      const [itemCount, itemTime] = itemId == null ? ["", ""] : cell(row.item);
      const [allCount, allTime] = cell(row.dialogue);
      setText(cells[1], itemCount);
      setText(cells[2], itemTime);
      setText(cells[3], allCount);
      setText(cells[4], allTime);
    });
}
