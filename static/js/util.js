/**
 * Small helpers shared by the page modules: idempotency keys, building DOM
 * nodes without ever parsing HTML, and the "is the user typing here?" test.
 *
 * User text only ever reaches the page through textContent or attribute
 * values: never innerHTML.
 */

/** A fresh idempotency key. crypto.randomUUID exists only in secure
 *  contexts (https, localhost); a venue LAN served over http still has
 *  crypto.getRandomValues. */
export function newKey() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === "function") {
    c.getRandomValues(bytes);
  } else {
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** el("li", {class: "x", dataset: {key: 1}}, "text", child) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "hidden") node.hidden = true;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Set text only when it differs (no needless screen-reader chatter or reflow). */
export function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

export function setAttr(node, name, value) {
  if (!node) return;
  if (value === null || value === undefined || value === false) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
  } else {
    const text = value === true ? "" : String(value);
    if (node.getAttribute(name) !== text) node.setAttribute(name, text);
  }
}

/** True while the user is working in a form control inside `node`: it has
 *  the focus, or it was edited and not yet saved (data-dirty). State
 *  updates must leave such fields alone (Decidim #8317: typed text lost to
 *  a refresh). */
export function isEditing(node) {
  if (!node) return false;
  const active = document.activeElement;
  if (active && node.contains(active) && active.matches("input, textarea, select")) return true;
  if (node.matches("[data-dirty]")) return true;
  return Boolean(node.querySelector("[data-dirty]"));
}

/** Mark form controls as edited as soon as the user changes them. */
export function trackDirty(root) {
  root.addEventListener("input", (event) => {
    if (event.target.matches("input, textarea, select")) event.target.dataset.dirty = "";
  });
  root.addEventListener("change", (event) => {
    if (event.target.matches("input, textarea, select")) event.target.dataset.dirty = "";
  });
}

export function clearDirty(root) {
  for (const node of root.querySelectorAll("[data-dirty]")) delete node.dataset.dirty;
}

/**
 * Bring the children of `list` in line with `items`, keyed by data-key.
 * Existing nodes are updated in place and only moved when out of order,
 * so focus (a keyboard user on a row's button) survives updates.
 */
export function syncList(list, items, keyOf, create, update) {
  const focused = document.activeElement;
  const existing = new Map();
  for (const child of list.children) existing.set(child.dataset.key, child);
  const wanted = new Set();
  items.forEach((item, index) => {
    const key = String(keyOf(item));
    wanted.add(key);
    let node = existing.get(key);
    if (!node) {
      node = create(item);
      node.dataset.key = key;
    }
    update(node, item, index);
    const at = list.children[index];
    if (at !== node) list.insertBefore(node, at || null);
  });
  for (const [key, node] of existing) {
    if (!wanted.has(key)) node.remove();
  }
  // Moving a node drops the focus inside it; put it back.
  if (focused && focused !== document.activeElement && list.contains(focused)) {
    focused.focus({ preventScroll: true });
  }
}
