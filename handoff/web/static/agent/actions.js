/*
 * What the agent does to a handoff: claim, acknowledge, and the note, transfer, hand back and
 * resolve forms; and the presence toggle.
 */

import { ui } from './dom.js';
import { state } from './state.js';
import { notify } from './notifications.js';
import { request, send } from './socket.js';
import { current, openEntry } from './selection.js';
import { fillMisunderstood, renderConversation } from './conversation.js';

function act(entry, frame) {
  entry.error = '';
  if (!request(frame)) {
    entry.error = 'Not connected: wait for the connection to come back, then try again.';
  } else {
    entry.busy = frame.type;
  }
  renderConversation();
}

export function onClaim() {
  const open = current();
  if (open?.kind !== 'queue') return;
  if (request({ type: 'claim', handoff_id: open.view.id })) {
    state.claiming.add(open.view.id);
  } else {
    notify('Not connected: wait for the connection to come back.', { level: 'error' });
  }
  renderConversation();
}

export function onAcknowledge() {
  const entry = openEntry();
  if (entry) act(entry, { type: 'acknowledge', handoff_id: entry.view.id });
}

function requireText(input, what) {
  if (input.value.trim()) return true;
  const entry = openEntry();
  if (entry) {
    entry.error = `Write ${what} first.`;
    renderConversation();
  }
  input.focus();
  return false;
}

export function onNote(event) {
  event.preventDefault();
  const entry = openEntry();
  if (!entry || !requireText(ui.noteInput, 'the note')) return;
  act(entry, { type: 'note', handoff_id: entry.view.id, text: ui.noteInput.value });
}

export function onTransfer(event) {
  event.preventDefault();
  const entry = openEntry();
  if (!entry || !requireText(ui.transferTeam, 'the team')
    || !requireText(ui.transferReason, 'a reason')) return;
  act(entry, { type: 'transfer', handoff_id: entry.view.id,
    to_team: ui.transferTeam.value.trim(), reason: ui.transferReason.value.trim() });
}

export function onHandBack(event) {
  event.preventDefault();
  const entry = openEntry();
  if (!entry || !requireText(ui.handbackSummary, 'a summary')) return;
  act(entry, { type: 'hand_back', handoff_id: entry.view.id,
    summary: ui.handbackSummary.value.trim() });
}

export function onResolve(event) {
  event.preventDefault();
  const entry = openEntry();
  if (!entry || !ui.resolveForm.reportValidity()) return;
  const form = new FormData(ui.resolveForm);
  const misunderstood = ui.resolveMisunderstood.value;
  act(entry, {
    type: 'resolve',
    handoff_id: entry.view.id,
    avoidable: form.get('avoidable') === 'true',
    root_cause: ui.resolveRootCause.value,
    correct_intent: ui.resolveIntent.value.trim() || null,
    misunderstood_message_seq: misunderstood ? Number(misunderstood) : null,
    note: ui.resolveNote.value.trim(),
  });
}

// One action form open at a time keeps the composer in view.
export function onPanelToggle(event) {
  const panel = event.target;
  if (!panel.open) return;
  for (const other of ui.panels) if (other !== panel) other.open = false;
  if (panel === ui.resolvePanel) {
    const open = current();
    if (open) fillMisunderstood(open);
  }
  panel.querySelector('textarea, input:not([readonly]), select')?.focus();
}

export function onPresence() {
  send({ type: 'presence', status: ui.presence.checked ? 'online' : 'away' });
  ui.presence.nextElementSibling.textContent = ui.presence.checked ? 'Online' : 'Away';
}
