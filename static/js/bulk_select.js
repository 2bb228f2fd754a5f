/** "Select all" for the secretariat's bulk forms (form[data-bulk]): the
 *  checkbox [data-select-all] ticks or clears every row's checkbox. The
 *  forms work without it. */
for (const form of document.querySelectorAll("form[data-bulk]")) {
  const all = form.querySelector("[data-select-all]");
  if (!all) continue;
  const rows = () => form.querySelectorAll('tbody input[type="checkbox"]');
  all.addEventListener("change", () => {
    for (const box of rows()) box.checked = all.checked;
  });
  form.addEventListener("change", (event) => {
    if (event.target === all || event.target.type !== "checkbox") return;
    const boxes = Array.from(rows());
    const checked = boxes.filter((b) => b.checked).length;
    all.checked = checked === boxes.length && checked > 0;
    all.indeterminate = checked > 0 && checked < boxes.length;
  });
}
