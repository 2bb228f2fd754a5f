/**
 * A dialogue's topic on the secretariat's forms: a list of the working
 * groups' topics by name (never the stored key, trafficking_in_persons),
 * and "Other" with a text field for a topic of one's own.
 *
 * The <select> holds the keys as option values and the names as their
 * text; its empty option shows the text field.
 */
export function topicField(select, otherField, otherInput) {
  function sync() {
    const other = select.value === "";
    otherField.hidden = !other;
    otherInput.required = other;
  }
  select.addEventListener("change", sync);
  sync();
  return {
    /** The topic to send: a known key, or the text typed ("" if none). */
    value() {
      return select.value || otherInput.value.trim();
    },
    /** Show a stored topic: its name in the list, or "Other" with the text. */
    set(topic) {
      const known = [...select.options].some((option) => option.value && option.value === topic);
      select.value = known ? topic : "";
      if (!known && otherInput.value !== (topic || "")) otherInput.value = topic || "";
      sync();
    },
  };
}
