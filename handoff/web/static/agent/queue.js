/* The left column: the queue and the conversations this agent holds, most urgent first. */

import { el, ui } from './dom.js';
import { customerName, lastCustomerText, parseTime, sevChip, tierChip } from './format.js';
import { state } from './state.js';
import { slaNode, waitingNode } from './sla.js';
import { isSelected, select } from './selection.js';

function byUrgency(a, b) {
  return a.priority - b.priority || parseTime(a.queued_at) - parseTime(b.queued_at);
}

export function renderLists() {
  renderQueue();
  renderHeld();
}

export function renderQueue() {
  const views = [...state.queue.values()].sort(byUrgency);
  ui.queueList.replaceChildren(...views.map(queueItem));
  ui.queueCount.textContent = String(views.length);
  ui.queueEmpty.hidden = views.length > 0;
}

function itemAttributes(view, testid) {
  return {
    class: `item sev-edge-${view.severity}`, testid, 'data-handoff-id': view.id,
    'data-conversation-id': view.conversation_id, 'data-severity': view.severity,
    'data-tier': view.brief?.customer?.tier ?? 'standard', 'data-category': view.category,
    'data-mode': view.mode,
  };
}

function queueItem(view) {
  const reason = view.brief?.reasons?.[0];
  const preview = lastCustomerText(view.brief);
  const open = el('button', { type: 'button', class: 'item-open', testid: 'queue-open',
    'aria-current': isSelected('queue', view.id) ? 'true' : null },
  el('span', { class: 'item-row' },
    sevChip(view.severity, 'queue-severity'),
    el('span', { class: 'item-name' }, customerName(view.brief)),
    tierChip(view.brief?.customer?.tier ?? 'standard', 'queue-tier')),
  el('span', { class: 'item-row item-meta' },
    el('span', { testid: 'queue-category' }, view.category),
    el('span', { class: 'reason', testid: 'queue-reason', title: reason?.detail ?? null },
      reason ? reason.code : 'no reason recorded'),
    el('span', { class: 'mode' }, view.mode)),
  preview ? el('span', { class: 'item-preview', testid: 'queue-preview' }, preview) : null,
  el('span', { class: 'item-row item-foot' }, waitingNode(view),
    slaNode(() => view)));
  open.addEventListener('click', () => select('queue', view.id));
  return el('li', itemAttributes(view, 'queue-item'), open);
}

export function renderHeld() {
  const entries = [...state.held.values()].sort((a, b) => byUrgency(a.view, b.view));
  ui.heldList.replaceChildren(...entries.map(heldItem));
  ui.heldCount.textContent = String(entries.length);
  ui.heldEmpty.hidden = entries.length > 0;
}

function heldItem(entry) {
  const view = entry.view;
  const open = el('button', { type: 'button', class: 'item-open', testid: 'held-open',
    'aria-current': isSelected('held', view.id) ? 'true' : null },
  el('span', { class: 'item-row' },
    sevChip(view.severity),
    el('span', { class: 'item-name' }, customerName(view.brief)),
    entry.fresh ? el('span', { class: 'chip chip-new' }, 'New') : null,
    entry.unread ? el('span', { class: 'chip chip-unread', testid: 'held-unread',
      'aria-label': `${entry.unread} unread` }, String(entry.unread)) : null),
  el('span', { class: 'item-row item-meta' },
    el('span', {}, view.team), el('span', { class: 'mode' }, view.mode),
    view.acknowledged ? null : el('span', { class: 'chip chip-warm' }, 'to acknowledge'),
    entry.customerTyping ? el('span', { class: 'typing-dot' }, 'typing…') : null),
  el('span', { class: 'item-row item-foot' }, slaNode(() => entry.view)));
  open.addEventListener('click', () => select('held', view.id));
  return el('li', { ...itemAttributes(view, 'held-item'), 'data-unread': entry.unread }, open);
}
