/* What the console has open: a queued handoff, a held one, or nothing. */

import { ui } from './dom.js';
import { state } from './state.js';
import { scheduleReadReceipt } from './chat.js';
import { renderLists } from './queue.js';
import { renderSelection } from './conversation.js';

export function isSelected(kind, id) {
  return state.selected?.kind === kind && state.selected.id === id;
}

export function current() {
  const selected = state.selected;
  if (!selected) return null;
  if (selected.kind === 'held') {
    const entry = state.held.get(selected.id);
    return entry ? { kind: 'held', view: entry.view, entry } : null;
  }
  const view = state.queue.get(selected.id);
  return view ? { kind: 'queue', view, entry: null } : null;
}

export function openEntry() {
  const open = current();
  return open?.kind === 'held' ? open.entry : null;
}

export function select(kind, id) {
  saveDraft();
  state.selected = { kind, id };
  const entry = kind === 'held' ? state.held.get(id) : null;
  if (entry) {
    entry.unread = 0;
    entry.fresh = false;
    scheduleReadReceipt(entry);
  }
  renderLists();
  renderSelection();
}

function saveDraft() {
  const open = current();
  if (open?.entry) open.entry.draft = ui.chatInput.value;
}
