/**
 * Inputs as the staff see them (moderators and rapporteurs): one card per
 * input with its kind, status, flags, attribution as the staff view gives
 * it ("A participant" for anonymous ones), endorsements, themes, and the
 * buttons of the page that shows it.
 *
 * Cards are built once and updated in place (syncList), so a live update
 * never takes the focus from a button or the text from an open editor: the
 * editor part of a card (hide reason, correction, themes) is never touched
 * by an update, and a card whose editor is open stays in its list even
 * when its input leaves it. Text only ever goes in through textContent.
 */
import { notify, send } from "./live.js";
import { formatClock } from "./timer.js";
import { el, setAttr, setText, syncList } from "./util.js";

export const KIND_LABELS = {
  comment: "Comment", suggestion: "Suggestion to States parties", question: "Question to the panel",
  statement: "Written statement",
};
export const STATUS_LABELS = {
  pending: "Waiting for approval", published: "Published", hidden: "Hidden", withdrawn: "Withdrawn",
  merged: "Merged",
};
const CHANNELS = { room: "In the room", online: "Online" };

/** Every button a card may carry: [data-act, label]. */
const BUTTONS = {
  approve: ["approve", "Approve"],
  hide: ["hide", "Hide…"],
  pin: ["pin", "Show on display"],
  themes: ["themes", "Themes…"],
  correct: ["correct", "Correct wording…"],
  original: ["original", "Show original"],
  addressed: ["addressed", "Mark addressed"],
  merged: ["merged", "Show merged originals"],
  similar: ["similar", "Similar…"],
};

/** Make a card. `actions`: which buttons (keys of BUTTONS); `select`: a
 *  checkbox to select the input (for merging). */
export function createCard({ actions = [], select = false } = {}) {
  const head = el("div", { class: "input-head" });
  if (select) {
    head.append(el("label", { class: "input-select" },
      el("input", { type: "checkbox", class: "select-box" }),
      el("span", { class: "visually-hidden select-label" })));
  }
  head.append(
    el("span", { class: "input-id" }), " ",
    el("span", { class: "badge input-kind" }), " ",
    el("span", { class: "badge input-status" }), " ",
    el("span", { class: "badge input-flag", hidden: true }), " ",
    el("span", { class: "badge input-corrected", hidden: true }, "Corrected"), " ",
    el("span", { class: "badge input-addressed", hidden: true }, "Addressed"), " ",
    el("span", { class: "badge input-oral", hidden: true }, "Oral intervention"), " ",
    el("span", { class: "badge input-pinned", hidden: true }, "On the display"), " ",
    el("span", { class: "input-endorse" }));
  const buttons = el("div", { class: "input-actions" });
  for (const key of actions) {
    const [act, label] = BUTTONS[key];
    const attrs = { type: "button", class: `button small act-${act}`, "data-act": act };
    if (["original", "merged", "themes", "correct", "hide", "similar"].includes(act)) {
      attrs["aria-expanded"] = "false";
    }
    buttons.append(el("button", attrs, label));
  }
  return el("li", { class: "input-card" },
    head,
    el("p", { class: "input-text", dir: "auto" }),
    el("div", { class: "input-original", hidden: true },
      el("span", { class: "input-original-label" }, "Original wording"),
      el("p", { class: "input-original-text", dir: "auto" })),
    el("p", { class: "input-by" },
      el("span", { class: "by-author", dir: "auto" }), el("span", { class: "by-org", dir: "auto" }), el("span", { class: "by-category" }),
      el("span", { class: "by-channel" }), el("span", { class: "by-time" }), el("span", { class: "by-item" })),
    el("p", { class: "input-merged", hidden: true }),
    el("div", { class: "input-merged-list", hidden: true }),
    el("p", { class: "input-reason", hidden: true }),
    el("ul", { class: "input-themes", "aria-label": "Themes" }),
    buttons,
    el("div", { class: "input-editor", hidden: true }));
}

function show(node, visible) {
  if (node && node.hidden === visible) node.hidden = !visible;
}

/**
 * Bring a card in line with an input. `context`: {themes: Map id->name,
 * pinnedId, itemTitles: Map id->title, timeZone, selected: Set of ids,
 * mergedFrom: Map target id -> [ids]}.
 */
export function updateCard(card, input, context = {}) {
  card.dataset.status = input.status;
  card.dataset.kind = input.kind;
  setAttr(card, "data-flagged", input.flagged ? "" : null);
  setAttr(card, "aria-label", `Input #${input.id}`);
  const pinned = context.pinnedId === input.id;
  setText(card.querySelector(".input-id"), `#${input.id}`);
  setText(card.querySelector(".input-kind"), input.kind_label || KIND_LABELS[input.kind] || input.kind);
  const status = card.querySelector(".input-status");
  status.dataset.status = input.status;
  setText(status, STATUS_LABELS[input.status] || input.status);
  const flag = card.querySelector(".input-flag");
  show(flag, Boolean(input.flagged));
  setText(flag, input.flagged ? `Flagged: ${input.flagged}` : "");
  show(card.querySelector(".input-corrected"), Boolean(input.corrected));
  show(card.querySelector(".input-addressed"), Boolean(input.addressed));
  show(card.querySelector(".input-oral"), input.source === "oral");
  show(card.querySelector(".input-pinned"), pinned);
  const endorsements = input.endorsements || 0;
  setText(card.querySelector(".input-endorse"), endorsements === 1 ? "1 endorsement" : `${endorsements} endorsements`);
  setAttr(card.querySelector(".input-endorse"), "data-none", endorsements ? null : "");
  setText(card.querySelector(".input-text"), input.text);
  setText(card.querySelector(".input-original-text"), input.original_text || "");
  if (!input.original_text) show(card.querySelector(".input-original"), false);
  setText(card.querySelector(".by-author"), input.author || "");
  setText(card.querySelector(".by-org"), input.organization || "");
  setText(card.querySelector(".by-category"), input.category_label || "");
  setText(card.querySelector(".by-channel"), CHANNELS[input.channel] || "");
  setText(card.querySelector(".by-time"), formatClock(input.created_at, context.timeZone));
  const titles = context.itemTitles;
  setText(card.querySelector(".by-item"), input.agenda_item_id == null ? "The dialogue as a whole"
    : (titles && titles.get(input.agenda_item_id)) || "");
  const merged = card.querySelector(".input-merged");
  const sources = (context.mergedFrom && context.mergedFrom.get(input.id)) || [];
  let mergedText = "";
  if (input.merged_into_id) mergedText = `Merged into #${input.merged_into_id}`;
  else if (sources.length) mergedText = `Merged from ${sources.map((id) => `#${id}`).join(", ")}`;
  setText(merged, mergedText);
  show(merged, Boolean(mergedText));
  const reason = card.querySelector(".input-reason");
  const reasonText = input.moderation_reason && input.status === "hidden" ? `Hidden: ${input.moderation_reason}` : "";
  setText(reason, reasonText);
  show(reason, Boolean(reasonText));
  const themeNames = (input.theme_ids || []).map((id) => ({ id, name: context.themes ? context.themes.get(id) : "" }))
    .filter((t) => t.name);
  syncList(card.querySelector(".input-themes"), themeNames, (t) => t.id,
    () => el("li", { class: "theme-chip", dir: "auto" }), (node, t) => setText(node, t.name));
  const box = card.querySelector(".select-box");
  if (box) {
    box.value = String(input.id);
    box.checked = Boolean(context.selected && context.selected.has(input.id));
    const selectable = input.status !== "merged" && input.status !== "withdrawn";
    box.disabled = !selectable;
    setText(card.querySelector(".select-label"), `Select input #${input.id} for merging`);
  }
  updateButtons(card, input, pinned, sources.length > 0);
}

function updateButtons(card, input, pinned, hasSources) {
  const published = input.status === "published";
  const button = (act) => card.querySelector(`[data-act="${act}"]`);
  const approve = button("approve");
  if (approve) {
    show(approve, input.status === "pending" || input.status === "hidden");
    setText(approve, input.status === "hidden" ? "Publish again" : "Approve");
    setAttr(approve, "aria-label", `${input.status === "hidden" ? "Publish again" : "Approve"} input #${input.id}`);
  }
  const hide = button("hide");
  if (hide) {
    show(hide, input.status === "pending" || published);
    setAttr(hide, "aria-label", `Hide input #${input.id}`);
  }
  const pin = button("pin");
  if (pin) {
    setText(pin, pinned ? "Take off display" : "Show on display");
    setAttr(pin, "aria-pressed", pinned ? "true" : "false");
    setAttr(pin, "aria-disabled", published || pinned ? null : "true");
    setAttr(pin, "title", published || pinned ? null : "Only published inputs can be shown on the display");
  }
  const original = button("original");
  if (original) {
    show(original, Boolean(input.original_text));
    const open = !card.querySelector(".input-original").hidden;
    setText(original, open ? "Hide original" : "Show original");
    setAttr(original, "aria-expanded", open ? "true" : "false");
  }
  const addressed = button("addressed");
  if (addressed) {
    setText(addressed, input.addressed ? "Not addressed" : "Mark addressed");
    setAttr(addressed, "aria-pressed", input.addressed ? "true" : "false");
  }
  // A merged or withdrawn input is not in the summary: nothing to work on.
  const workable = input.status !== "withdrawn" && input.status !== "merged";
  const correct = button("correct");
  if (correct) show(correct, workable);
  const themes = button("themes");
  if (themes) show(themes, workable);
  const similar = button("similar");
  if (similar) show(similar, input.status === "published" || input.status === "pending"); // what the assistant compares
  if (addressed) show(addressed, workable);
  if (pin) show(pin, workable);
  const merged = button("merged");
  if (merged) show(merged, hasSources);
}

/** True while the card's editor is open (live updates leave it alone). */
export function editorOpen(card) {
  const editor = card.querySelector(".input-editor");
  return Boolean(editor && !editor.hidden);
}

/** Open an editor (a form built by `build`) in a card; `opener` is the
 *  button that opened it (aria-expanded, and the focus goes back to it). */
export function openEditor(card, opener, build) {
  closeEditor(card, false);
  const editor = card.querySelector(".input-editor");
  editor.replaceChildren(build());
  editor.hidden = false;
  editor.dataset.opener = opener ? opener.dataset.act : "";
  if (opener) setAttr(opener, "aria-expanded", "true");
  const first = editor.querySelector("textarea, input, select, button");
  if (first) first.focus();
}

export function closeEditor(card, refocus = true) {
  const editor = card.querySelector(".input-editor");
  if (!editor || editor.hidden) return;
  const act = editor.dataset.opener;
  editor.hidden = true;
  editor.replaceChildren();
  const opener = act ? card.querySelector(`[data-act="${act}"]`) : null;
  if (opener) {
    setAttr(opener, "aria-expanded", "false");
    if (refocus) opener.focus();
  }
}

/**
 * Re-render a list of cards without losing the keyboard focus: when the
 * focused card leaves the list (approved, hidden), the focus moves to the
 * card now at its place, or to the list itself.
 */
export function renderCards(list, inputs, create, update) {
  const active = document.activeElement;
  const focusedCard = active && list.contains(active) ? active.closest(".input-card") : null;
  const index = focusedCard ? [...list.children].indexOf(focusedCard) : -1;
  const act = active && active.dataset ? active.dataset.act : null;
  // A card with an open editor stays where it is, even when its input no
  // longer belongs in this list: what is typed there must not vanish.
  const wanted = inputs.slice();
  const ids = new Set(wanted.map((input) => String(input.id)));
  [...list.children].forEach((card, at) => {
    if (editorOpen(card) && !ids.has(card.dataset.key)) {
      wanted.splice(Math.min(at, wanted.length), 0, { id: Number(card.dataset.key), kept: true });
    }
  });
  // The editor part of a card is never touched by an update; the rest is.
  syncList(list, wanted, (input) => input.id, create, (card, input) => {
    if (!input.kept) update(card, input);
  });
  if (focusedCard && !focusedCard.isConnected) {
    const next = list.children[Math.min(index, list.children.length - 1)];
    if (next) {
      const target = (act && next.querySelector(`[data-act="${act}"]:not([hidden])`))
        || next.querySelector("button:not([hidden]), input:not([disabled])");
      (target || next).focus();
    } else {
      if (!list.hasAttribute("tabindex")) list.setAttribute("tabindex", "-1");
      list.focus();
    }
  }
}

/** Send the command of a card's button (busy meanwhile). Resolves with the
 *  ack, or null: refused (said by live.js), or not taken while the previous
 *  press of the button waits (said here). */
export async function sendFor(button, name, payload) {
  if (button && button.getAttribute("aria-busy") === "true") {
    // Never lost in silence: the previous press of this button has no answer yet.
    notify("Not taken: the previous press is still waiting for the server.", { kind: "info" });
    return null;
  }
  setAttr(button, "aria-busy", "true");
  try {
    return await send(name, payload);
  } catch (error) {
    if (error && (error.code === "network" || error.code === "timeout")) notify(error.message, { kind: "info" });
    return null;
  } finally {
    setAttr(button, "aria-busy", null);
  }
}
