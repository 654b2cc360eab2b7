/* What the desk sends: one handler per frame type (docs/agent-protocol.md). */

import { ui } from './dom.js';
import { customerName, sevLabel } from './format.js';
import { state } from './state.js';
import { announceSla, setWarningFraction, warningFraction } from './sla.js';
import { notify } from './notifications.js';
import { resync, send, setConnection, settle } from './socket.js';
import {
  addMessage,
  dropEntry,
  loadTranscript,
  newEntry,
  placeBySeq,
  resendPending,
  scheduleReadReceipt,
  setDelivery,
  transmit,
} from './chat.js';
import { isSelected, select } from './selection.js';
import { renderHeld, renderLists, renderQueue } from './queue.js';
import {
  fillTeamOptions,
  nearBottom,
  renderConversation,
  renderSelection,
  renderTyping,
  scrollToBottom,
} from './conversation.js';

const CUSTOMER_TYPING_MS = 5000;
const NOT_STORED_RETRY_MS = 3000;
const PING_EVERY_MS = 25000;

const DONE_FOR = {
  acknowledge: 'acknowledged', note: 'noted', transfer: 'transferred',
  hand_back: 'handed_back', resolve: 'resolved',
};

const CLAIM_FAILED = {
  taken: 'Someone else took this conversation first.',
  not_found: 'This conversation is no longer in your queues.',
  at_capacity: 'You hold as many conversations as you can: resolve or hand one back first.',
};

const HANDLERS = {
  welcome: onWelcome,
  handoff_queued: onQueued,
  handoff_taken: onTaken,
  claimed: onClaimed,
  claim_failed: onClaimFailed,
  message: onMessage,
  ack: onAck,
  done: onDone,
  typing: onCustomerTyping,
  read: onRead,
  sla_alert: onSlaAlert,
  error: onError,
};

export function onFrame(frame) {
  HANDLERS[frame.type]?.(frame); // pong and frame types of later versions need nothing
}

function onWelcome(frame) {
  clearTimeout(state.welcomeTimer);
  state.attempt = 0;
  state.agent = frame.agent;
  state.canned = frame.canned_responses ?? [];
  ui.agentName.textContent = `${frame.agent.name} · ${frame.agent.teams.join(', ')}`;
  ui.agentName.title = ui.agentName.textContent; // the team list may be cut short
  for (const team of [...frame.agent.teams, ...(frame.teams ?? [])]) state.teams.add(team);
  setWarningFraction(frame.sla_warning_fraction ?? warningFraction);
  state.queue = new Map(frame.queue.map((view) => [view.id, view]));
  const assigned = new Set(frame.assigned.map((view) => view.id));
  for (const entry of [...state.held.values()]) {
    if (!assigned.has(entry.view.id)) {
      dropEntry(entry);
      notify(`Conversation #${entry.view.id} is no longer yours.`, { level: 'warning' });
    }
  }
  for (const view of frame.assigned) {
    const entry = state.held.get(view.id);
    if (entry) entry.view = view;
    else state.held.set(view.id, newEntry(view));
  }
  for (const view of [...frame.queue, ...frame.assigned]) state.teams.add(view.team);
  setConnection('online', 'Connected');
  state.pingTimer = setInterval(() => send({ type: 'ping' }), PING_EVERY_MS);
  if (!ui.presence.checked) send({ type: 'presence', status: 'away' }); // a socket starts online
  renderLists();
  renderSelection();
}

function onQueued({ handoff }) {
  state.queue.set(handoff.id, handoff);
  state.teams.add(handoff.team);
  renderQueue();
  if (isSelected('queue', handoff.id)) renderConversation();
  if (handoff.severity === 'sev1') {
    notify(`${customerName(handoff.brief)}: ${handoff.brief?.summary ?? ''}`,
      { level: 'error', title: 'New Sev 1 handoff', sound: true });
  }
}

function onTaken({ handoff_id: id, agent_name: name }) {
  if (!state.queue.delete(id)) return;
  renderQueue();
  if (isSelected('queue', id)) {
    state.selected = null;
    renderSelection();
    notify(`${name} took conversation #${id}.`);
  }
}

function onClaimed({ handoff, transcript }) {
  const id = handoff.id;
  const mine = settle((f) => f.type === 'claim' && f.handoff_id === id) !== null;
  state.claiming.delete(id);
  state.queue.delete(id);
  let entry = state.held.get(id);
  const assignedToMe = !entry && !mine; // neither a claim of ours nor a reconnect: auto-assigned
  if (entry) entry.view = handoff;
  else entry = newEntry(handoff);
  state.held.set(id, entry);
  entry.fresh ||= assignedToMe;
  loadTranscript(entry, transcript);
  resendPending(entry);
  if (mine || isSelected('queue', id)) {
    select('held', id);
    (handoff.acknowledged ? ui.chatInput : ui.acknowledge).focus();
  } else {
    renderLists();
    if (isSelected('held', id)) renderConversation();
  }
  if (assignedToMe) {
    notify(`${customerName(handoff.brief)} (${sevLabel(handoff.severity)}, ${handoff.team}) `
      + 'was assigned to you.', { level: handoff.severity === 'sev1' ? 'error' : 'info',
      title: 'New conversation', sound: handoff.severity === 'sev1' });
  }
}

function onClaimFailed({ handoff_id: id, reason }) {
  settle((f) => f.type === 'claim' && f.handoff_id === id);
  state.claiming.delete(id);
  notify(CLAIM_FAILED[reason] ?? `The claim failed (${reason}).`, { level: 'warning' });
  if (reason !== 'at_capacity' && state.queue.delete(id)) {
    if (isSelected('queue', id)) state.selected = null;
    renderQueue();
    renderSelection();
  } else {
    renderConversation();
  }
}

function onMessage(frame) {
  const entry = state.held.get(frame.handoff_id);
  if (!entry) return;
  const selected = isSelected('held', entry.view.id);
  const follow = selected && nearBottom();
  addMessage(entry, frame);
  if (frame.sender === 'customer') {
    stopCustomerTyping(entry);
    if (!selected) {
      entry.unread += 1;
      renderHeld();
    } else {
      scheduleReadReceipt(entry);
    }
  }
  if (follow) scrollToBottom();
}

function onAck({ client_message_id: cmid, seq }) {
  settle((f) => f.type === 'message' && f.client_message_id === cmid);
  for (const entry of state.held.values()) {
    const pending = entry.pending.find((p) => p.cmid === cmid);
    if (!pending) continue;
    clearTimeout(pending.timer);
    entry.pending.splice(entry.pending.indexOf(pending), 1);
    const stored = entry.messages.get(seq);
    if (stored && stored.node !== pending.node) pending.node.remove(); // a resend's ack
    const node = stored ? stored.node : pending.node;
    if (!stored) {
      pending.node.dataset.seq = seq;
      entry.messages.set(seq, { frame: { seq, sender: 'agent', text: pending.text }, node });
      placeBySeq(entry.log, node);
    }
    setDelivery(node, seq <= entry.readSeq ? 'read' : 'sent');
    return;
  }
}

function onDone(frame) {
  const entry = state.held.get(frame.handoff_id);
  const sent = settle((f) => f.handoff_id === frame.handoff_id
    && DONE_FOR[f.type] === frame.action);
  if (!entry) return;
  entry.busy = null;
  entry.error = '';
  const selected = isSelected('held', entry.view.id);
  switch (frame.action) {
    case 'acknowledged':
      entry.view = { ...entry.view, acknowledged: true };
      resendPending(entry);
      renderHeld();
      if (selected) {
        renderConversation();
        ui.chatInput.focus();
      }
      break;
    case 'noted':
      if (selected) {
        ui.noteInput.value = '';
        renderConversation();
      }
      break;
    default:
      dropEntry(entry);
      notify(endedText(frame, entry, sent), { level: 'success', title: 'Done' });
  }
}

function endedText(frame, entry, sent) {
  const who = customerName(entry.view.brief);
  if (frame.action === 'transferred') {
    return sent ? `${who} was transferred to ${sent.to_team}.` : `${who} was transferred.`;
  }
  if (frame.action === 'handed_back') return `${who} is back with the assistant.`;
  return frame.within_sla === false
    ? `${who}: resolved after the SLA due time.` : `${who}: resolved within the SLA.`;
}

function onCustomerTyping({ handoff_id: id }) {
  const entry = state.held.get(id);
  if (!entry) return;
  clearTimeout(entry.typingTimer);
  entry.customerTyping = true;
  entry.typingTimer = setTimeout(() => stopCustomerTyping(entry), CUSTOMER_TYPING_MS);
  renderTyping();
  renderHeld();
}

function stopCustomerTyping(entry) {
  clearTimeout(entry.typingTimer);
  if (!entry.customerTyping) return;
  entry.customerTyping = false;
  renderTyping();
  renderHeld();
}

function onRead({ handoff_id: id, seq }) {
  const entry = state.held.get(id);
  if (!entry) return;
  entry.readSeq = Math.max(entry.readSeq, seq);
  for (const [messageSeq, { node }] of entry.messages) {
    if (messageSeq <= entry.readSeq && node.dataset.delivery === 'sent') {
      setDelivery(node, 'read');
    }
  }
}

function onSlaAlert(frame) {
  const level = frame.kind === 'breach' ? 'breached' : 'warning';
  announceSla(frame.handoff_id, frame.target, level, frame.severity, frame.team);
}

function onError({ code, message, retry_after_seconds: retryAfter }) {
  const failed = state.outstanding.shift();
  if (!failed) {
    notify(message, { level: 'error', title: `Refused (${code})` });
    return;
  }
  if (failed.type === 'message') {
    messageRefused(failed, code, message, retryAfter);
    return;
  }
  state.claiming.delete(failed.handoff_id);
  const entry = state.held.get(failed.handoff_id);
  if (entry) {
    entry.busy = null;
    entry.error = refusalText(code, message);
  }
  if (code === 'unknown_team') learnTeams(message);
  notify(refusalText(code, message), { level: 'error', title: 'Refused' });
  renderConversation();
  // The handoff moved under the console's feet: the desk's welcome says where it is now.
  if (['not_assigned', 'not_found', 'wrong_state'].includes(code)) resync();
}

function refusalText(code, message) {
  if (code === 'unknown_team') return 'No such team. Pick one of the suggestions.';
  if (code === 'not_stored') return 'The desk could not store that just now: try again.';
  if (code === 'rate_limited') return 'Too many actions at once: wait a moment and try again.';
  return message;
}

// The desk lists its teams when a transfer names an unknown one ("...; teams: a, b").
function learnTeams(message) {
  const listed = message.split('teams:')[1];
  if (!listed) return;
  for (const team of listed.split(',')) if (team.trim()) state.teams.add(team.trim());
  fillTeamOptions();
}

function messageRefused(frame, code, message, retryAfter) {
  const entry = state.held.get(frame.handoff_id);
  const pending = entry?.pending.find((p) => p.cmid === frame.client_message_id);
  if (!pending) return;
  clearTimeout(pending.timer);
  if (code === 'not_stored' || code === 'rate_limited') { // nothing stored: the same id again
    const delay = code === 'rate_limited' ? Math.max(1, retryAfter) * 1000 : NOT_STORED_RETRY_MS;
    pending.timer = setTimeout(() => transmit(entry, pending), delay);
    return;
  }
  if (code === 'acknowledge_first') { // held back until the acknowledgement, then resent
    entry.view = { ...entry.view, acknowledged: false };
    renderConversation();
    return;
  }
  entry.pending.splice(entry.pending.indexOf(pending), 1);
  setDelivery(pending.node, 'failed');
  notify(`Your message was not sent: ${message}`, { level: 'error', title: 'Not sent' });
}
