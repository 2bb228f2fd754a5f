/**
 * The current join code and the QR code's link (GET /d/<id>/join-code),
 * for the display and the staff only: they are never sent over Socket.IO.
 * The `dialogue` section carries `join_enabled` and `join_generation`
 * (not secret); when either changes (a new code was issued, joining was
 * turned on or off), the page asks for the new code and link.
 */
export async function fetchJoining(dialogueId) {
  const response = await fetch(`/d/${dialogueId}/join-code`, {
    credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
  });
  if (!response.ok) throw new Error(`join code: HTTP ${response.status}`);
  return response.json();
}

const stamp = (enabled, generation) => `${Boolean(enabled)}:${generation || 0}`;

/** Call `render(joining)` whenever the dialogue's joining changes from `initial`. */
export function followJoining(subscribe, dialogueId, initial, render) {
  let shown = stamp(initial.enabled, initial.generation);
  let asking = null;
  subscribe((state, changed) => {
    if (!changed.includes("dialogue")) return;
    const { join_enabled: enabled, join_generation: generation } = state.sections.dialogue;
    const wanted = stamp(enabled, generation);
    if (wanted === shown || wanted === asking) return;
    asking = wanted;
    fetchJoining(dialogueId).then((joining) => {
      shown = stamp(joining.enabled, joining.generation);
      render(joining);
    }).catch(() => {}).finally(() => { asking = null; });
  });
}
