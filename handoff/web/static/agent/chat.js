/*
 * The chat of a held handoff: its log in seq order, the delivery state of the agent's messages,
 * sending with resends until the ack, read receipts, and the composer (typing, canned responses).
 */

import { el, ui } from './dom.js';
import { clockTime, customerName } from './format.js';
import { state } from './state.js';
import { request, send } from './socket.js';
import { isSelected, openEntry } from './selection.js';
import { renderHeld } from './queue.js';
import { renderSelection, scrollToBottom } from './conversation.js';
import { sentimentChip, sentimentOf } from './brief.js';

const TYPING_EVERY_MS = 3000; // the protocol asks for "at most every few seconds"
const READ_RECEIPT_DELAY_MS = 500; // one receipt for a burst of customer messages
const ACK_WAIT_MS = 10000; // the protocol's resend delay for a message with no ack
const ENDING = new Set(['transfer', 'hand_back', 'resolve']);

// --------------------------------------------------------------------------- held handoffs

export function newEntry(view) {
  const log = el('ol', { class: 'chat-log', testid: 'chat-log', role: 'log',
    'aria-live': 'polite', 'aria-label': 'Conversation with the customer' });
  return {
    view,
    log,
    messages: new Map(), // seq -> {frame, node}
    pending: [], // the agent's messages without an ack: {cmid, text, node, seq, timer}
    readSeq: 0, // the customer's read receipt: the agent's messages up to here are read
    readSent: 0, // the agent's own read receipt, last sent
    readTimer: 0,
    unread: 0,
    fresh: false, // auto-assigned and not opened yet
    customerTyping: false,
    typingTimer: 0,
    lastTypingSent: 0,
    draft: '',
    busy: null, // the action sent and not answered yet
    error: '',
  };
}

export function forgetEntry(entry) {
  clearTimeout(entry.typingTimer);
  clearTimeout(entry.readTimer);
  for (const pending of entry.pending) clearTimeout(pending.timer);
}

export function dropEntry(entry) {
  forgetEntry(entry);
  state.held.delete(entry.view.id);
  if (isSelected('held', entry.view.id)) {
    state.selected = null;
    renderSelection();
  }
  renderHeld();
}

export function loadTranscript(entry, transcript) {
  entry.log.replaceChildren();
  entry.messages.clear();
  for (const frame of transcript) addMessage(entry, frame, { live: false });
  for (const pending of entry.pending) {
    const stored = pending.seq !== null && entry.messages.get(pending.seq);
    if (stored) { // stored before the socket dropped: its ack comes with the resend
      pending.node = stored.node;
      setDelivery(pending.node, 'sending');
    } else {
      pending.seq = null;
      delete pending.node.dataset.seq;
      entry.log.append(pending.node);
    }
  }
}

/**
 * Add a message in seq order. This console's own message comes back live as an echo (with no
 * client id) just before its ack: it takes the place of the "sending" bubble. A transcript
 * read after a reconnect is not matched by text; the resend's ack names the seq exactly.
 */
export function addMessage(entry, frame, { live = true } = {}) {
  if (entry.messages.has(frame.seq)) return;
  const pending = live && frame.sender === 'agent' && !frame.internal
    && entry.pending.find((p) => p.seq === null && p.text === frame.text);
  if (pending) {
    pending.seq = frame.seq;
    pending.node.dataset.seq = frame.seq;
    entry.messages.set(frame.seq, { frame, node: pending.node });
    placeBySeq(entry.log, pending.node);
    return;
  }
  const node = messageNode(entry, frame);
  entry.messages.set(frame.seq, { frame, node });
  placeBySeq(entry.log, node);
}

export function placeBySeq(log, node) {
  const seq = Number(node.dataset.seq);
  const next = [...log.children].find(
    (child) => child !== node && (!child.dataset.seq || Number(child.dataset.seq) > seq));
  log.insertBefore(node, next ?? null);
}

function messageNode(entry, frame) {
  const author = frame.internal ? 'note' : frame.sender;
  const node = el('li', { class: `msg msg-${author}`, testid: 'chat-message',
    'data-author': frame.sender, 'data-seq': frame.seq,
    'data-internal': frame.internal ? 'true' : null });
  node.append(el('div', { class: 'msg-head' },
    el('span', { class: 'msg-who' }, authorName(entry, frame)),
    frame.internal ? el('span', { class: 'msg-internal' },
      'Internal note · not visible to the customer') : null,
    el('time', { datetime: frame.at, class: 'msg-time' }, clockTime(frame.at))));
  node.append(el('p', { class: 'msg-text' }, frame.text));
  if (frame.sender === 'customer') {
    const reading = sentimentOf(entry.view.brief, frame.seq);
    if (reading) node.append(sentimentChip(reading));
  }
  if (frame.sender === 'agent' && !frame.internal) {
    setDelivery(node, frame.seq <= entry.readSeq ? 'read' : 'sent');
  }
  return node;
}

function pendingNode(text) {
  const node = el('li', { class: 'msg msg-agent', testid: 'chat-message',
    'data-author': 'agent' },
  el('div', { class: 'msg-head' }, el('span', { class: 'msg-who' }, 'You'),
    el('time', { class: 'msg-time' }, clockTime(new Date().toISOString()))),
  el('p', { class: 'msg-text' }, text));
  setDelivery(node, 'sending');
  return node;
}

function authorName(entry, frame) {
  if (frame.sender === 'customer') return customerName(entry.view.brief);
  if (frame.sender === 'bot') return 'Assistant';
  if (frame.sender === 'system') return 'System';
  return frame.data?.agent_name ?? 'Agent';
}

const DELIVERY_TEXT = { sending: 'Sending…', sent: 'Delivered', read: 'Read',
  failed: 'Not sent' };

export function setDelivery(node, delivery) {
  node.dataset.delivery = delivery;
  let label = node.querySelector('.msg-delivery');
  if (!label) {
    label = el('span', { class: 'msg-delivery' });
    node.append(label);
  }
  label.textContent = DELIVERY_TEXT[delivery];
}

// --------------------------------------------------------------------------- sending

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function sendChat(entry, text) {
  const pending = { cmid: `a-${randomId()}`, text, node: pendingNode(text), seq: null,
    timer: 0 };
  entry.pending.push(pending);
  entry.log.append(pending.node);
  scrollToBottom();
  transmit(entry, pending);
}

// Send (or resend, with the same client id: the desk stores it once) and wait for the ack.
export function transmit(entry, pending) {
  clearTimeout(pending.timer);
  if (!entry.view.acknowledged) return; // sent once the handoff is acknowledged
  const sent = request({ type: 'message', handoff_id: entry.view.id,
    client_message_id: pending.cmid, text: pending.text });
  if (sent) pending.timer = setTimeout(() => transmit(entry, pending), ACK_WAIT_MS);
}

export function resendPending(entry) {
  for (const pending of entry.pending) transmit(entry, pending);
}

/**
 * Tell the customer what the agent has seen: a `read` up to the newest customer message of
 * the open conversation, once it has been on a visible page for a moment.
 */
export function scheduleReadReceipt(entry) {
  if (entry.readTimer) return;
  entry.readTimer = setTimeout(() => {
    entry.readTimer = 0;
    const shown = isSelected('held', entry.view.id) && document.visibilityState === 'visible';
    if (!shown || !state.held.has(entry.view.id)) return;
    const seqs = [...entry.messages.values()]
      .filter((m) => m.frame.sender === 'customer').map((m) => m.frame.seq);
    const newest = Math.max(0, ...seqs);
    if (newest <= entry.readSent) return;
    entry.readSent = newest;
    send({ type: 'read', handoff_id: entry.view.id, seq: newest });
  }, READ_RECEIPT_DELAY_MS);
}

// --------------------------------------------------------------------------- the composer

export function onChatSubmit(event) {
  event.preventDefault();
  const entry = openEntry();
  const text = ui.chatInput.value;
  if (!entry || !entry.view.acknowledged || !text.trim()) return;
  sendChat(entry, text);
  ui.chatInput.value = '';
  entry.draft = '';
  ui.chatInput.focus();
}

export function onChatKey(event) {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.chatForm.requestSubmit();
  }
}

// The customer sees "typing" while the agent types, at most once per TYPING_EVERY_MS; not
// while an ending action is on its way (the desk would refuse a typing frame after it).
export function onChatInput() {
  const entry = openEntry();
  if (!entry || !ui.chatInput.value.trim() || ENDING.has(entry.busy)) return;
  const now = Date.now();
  if (now - entry.lastTypingSent < TYPING_EVERY_MS) return;
  if (send({ type: 'typing', handoff_id: entry.view.id })) entry.lastTypingSent = now;
}

export function onCannedPick() {
  const canned = state.canned.find((c) => c.id === ui.canned.value);
  ui.canned.value = '';
  if (!canned) return;
  const input = ui.chatInput;
  const start = input.selectionStart ?? input.value.length;
  const end = input.selectionEnd ?? input.value.length;
  input.setRangeText(canned.text, start, end, 'end');
  input.focus();
  onChatInput();
}
