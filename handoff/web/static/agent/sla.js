/*
 * SLA: the level of a handoff's current target, the countdowns redrawn every second, and the
 * notifications when a handoff crosses into warning or breach.
 */

import { el } from './dom.js';
import { duration, parseTime, sevLabel } from './format.js';
import { state } from './state.js';
import { notify } from './notifications.js';

// Until `welcome` says the SLA monitor's HANDOFF_MONITOR__WARNING_FRACTION, its default.
export let warningFraction = 0.8;

export function setWarningFraction(value) {
  warningFraction = value;
}

/** The SLA target now (acknowledge until acknowledged, then resolve) and its level. */
function slaOf(view, now) {
  // The store keeps the first acknowledgement, so after a transfer the SLA's acknowledgement
  // target may be met even though this agent has not acknowledged yet.
  const target = view.acknowledged || view.acknowledged_at ? 'resolve' : 'acknowledge';
  const due = parseTime(target === 'resolve' ? view.resolve_due : view.acknowledge_due);
  const start = parseTime(view.queued_at);
  const remaining = due - now;
  const elapsed = (now - start) / Math.max(due - start, 1);
  let level = 'active';
  if (remaining <= 0) level = 'breached';
  else if (elapsed >= warningFraction) level = 'warning';
  return { target, level, remaining, due };
}

/** A countdown that redraws itself every second; `viewOf` returns the current view. */
export function slaNode(viewOf, testid = 'sla') {
  const node = el('span', { class: 'sla', testid });
  const render = (now) => {
    const sla = slaOf(viewOf(), now);
    const what = sla.target === 'acknowledge' ? 'Ack' : 'Resolve';
    node.textContent = sla.remaining > 0
      ? `${what} in ${duration(sla.remaining)}` : `${what} overdue ${duration(sla.remaining)}`;
    node.className = `sla sla-${sla.level}`;
    node.dataset.slaState = sla.level;
    node.dataset.slaTarget = sla.target;
    node.title = `${sla.target === 'acknowledge' ? 'Acknowledgement' : 'Resolution'} due `
      + new Date(sla.due).toLocaleString();
  };
  render(Date.now());
  state.ticking.add({ node, render });
  return node;
}

export function waitingNode(view) {
  const node = el('span', { class: 'waiting', testid: 'queue-waiting' });
  const render = (now) => {
    node.textContent = `Waiting ${duration(now - parseTime(view.queued_at))}`;
  };
  render(Date.now());
  state.ticking.add({ node, render });
  return node;
}

export function tick() {
  const now = Date.now();
  for (const item of state.ticking) {
    if (item.node.isConnected) item.render(now);
    else state.ticking.delete(item);
  }
  watchSla(now);
}

// Notify when a handoff crosses into warning or breach while the console watches it; the
// levels seen first (at sign-in, or when a handoff arrives) are recorded silently.
function watchSla(now) {
  const views = [...state.queue.values(), ...[...state.held.values()].map((e) => e.view)];
  const seen = new Set();
  for (const view of views) {
    const sla = slaOf(view, now);
    const key = `${view.id}:${sla.target}`;
    seen.add(key);
    const before = state.slaLevels.get(key);
    state.slaLevels.set(key, sla.level);
    if (before && before !== sla.level && sla.level !== 'active') {
      announceSla(view.id, sla.target, sla.level, view.severity, view.team);
    }
  }
  for (const key of state.slaLevels.keys()) {
    if (!seen.has(key)) state.slaLevels.delete(key);
  }
}

export function announceSla(id, target, level, severity, team) {
  const key = `${id}:${target}:${level}`;
  if (state.slaAnnounced.has(key)) return;
  state.slaAnnounced.add(key);
  const what = target === 'acknowledge' ? 'acknowledgement' : 'resolution';
  const text = level === 'breached'
    ? `Handoff #${id} (${sevLabel(severity)}, ${team}) is past its ${what} due time.`
    : `Handoff #${id} (${sevLabel(severity)}, ${team}): ${what} due soon.`;
  notify(text, { level: level === 'breached' ? 'error' : 'warning', title: 'SLA', sound: true });
}
