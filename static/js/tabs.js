/**
 * The participant's page on a phone: one part at a time (Floor, Inputs,
 * Agenda, Me), chosen in the tab bar at the bottom of the screen, so that
 * asking for the floor and sending an input are one tap away and what a tap
 * did stays in view.
 *
 * The tab bar is made of links to the parts (#tab-floor, ...): without this
 * module they jump to the part, and every part shows. With it, the chosen
 * part is the only one shown at phone width (CSS: body[data-tab]), the link
 * carries aria-current="page", and the address keeps the choice for a
 * reload. On a wider screen the CSS shows every part side by side and hides
 * the bar; the choice is kept for when the window narrows again.
 */
const TABS = ["floor", "inputs", "agenda", "me"];

const bar = document.getElementById("tabbar");

function tabOf(hash) {
  const name = (hash || "").replace(/^#(tab-)?/, "");
  return TABS.includes(name) ? name : null;
}

function narrow() {
  return bar ? getComputedStyle(bar).display !== "none" : false;
}

/** Show the part ``name``; ``focus`` moves the keyboard there (a tap on the bar). */
export function showTab(name, { focus = false, remember = true } = {}) {
  if (!bar || !TABS.includes(name)) return;
  document.body.dataset.tab = name;
  for (const link of bar.querySelectorAll("[data-tab]")) {
    if (link.dataset.tab === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (remember && window.history && window.history.replaceState) {
    window.history.replaceState(window.history.state, "", name === "floor" ? window.location.pathname + window.location.search
      : `#tab-${name}`);
  }
  const panel = document.getElementById(`tab-${name}`);
  if (!panel || !narrow()) {
    if (panel && focus) panel.scrollIntoView({ block: "start" });
    return;
  }
  window.scrollTo(0, 0);
  if (focus) {
    const heading = panel.querySelector("h1, h2");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  }
}

export function currentTab() {
  return document.body.dataset.tab || "floor";
}

export function initTabs() {
  if (!bar) return;
  showTab(tabOf(window.location.hash) || "floor", { remember: false });
  bar.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-tab]");
    if (!link) return;
    event.preventDefault();
    showTab(link.dataset.tab, { focus: true });
  });
  window.addEventListener("hashchange", () => {
    const name = tabOf(window.location.hash);
    if (name) showTab(name, { remember: false });
  });
  // Another module asks for a part to be shown (the floor, when one is given it).
  document.addEventListener("participant:show", (event) => showTab(event.detail, { remember: true }));
}
