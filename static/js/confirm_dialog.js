/**
 * A question before a disruptive console action ("End the item while
 * Amina Okafor has the floor?"), in the page's one <dialog id="confirm-dialog">.
 *
 * A real modal <dialog>: showModal() keeps the focus inside it and makes
 * the rest of the page inert; the confirming button gets the focus, so
 * Enter confirms and Escape (the dialog's cancel) says no. When it closes
 * the focus goes back where it was. Questions asked while one is open wait
 * their turn. Text only ever goes in through textContent.
 */
import { setText } from "./util.js";

const $ = (id) => document.getElementById(id);
let chain = Promise.resolve();

/** Resolves true (confirmed) or false (cancelled, Escape). */
export function confirmAction({ title, message, confirm = "Yes", cancel = "Cancel" }) {
  const asked = chain.then(() => ask(title, message, confirm, cancel));
  chain = asked.catch(() => false);
  return asked;
}

/** True while a question is on screen: the console's shortcuts wait. */
export function dialogOpen() {
  const dialog = $("confirm-dialog");
  return Boolean(dialog && dialog.open);
}

function ask(title, message, confirmLabel, cancelLabel) {
  const dialog = $("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") {
    return Promise.resolve(window.confirm(`${title}\n\n${message}`)); // eslint-disable-line no-alert
  }
  const yes = $("confirm-yes");
  const no = $("confirm-no");
  setText($("confirm-title"), title);
  setText($("confirm-text"), message);
  setText(yes, confirmLabel);
  setText(no, cancelLabel);
  const back = document.activeElement;
  return new Promise((resolve) => {
    const done = (answer) => {
      yes.removeEventListener("click", onYes);
      no.removeEventListener("click", onNo);
      dialog.removeEventListener("close", onClose);
      if (dialog.open) dialog.close();
      if (back && typeof back.focus === "function" && document.contains(back)) back.focus();
      resolve(answer);
    };
    const onYes = () => done(true);
    const onNo = () => done(false);
    const onClose = () => done(false); // Escape
    yes.addEventListener("click", onYes);
    no.addEventListener("click", onNo);
    dialog.addEventListener("close", onClose);
    dialog.showModal();
    yes.focus();
  });
}
