/*
 * The agent console of the handoff desk: plain DOM, no framework, no build step. Native ES
 * modules, loaded by agent.html with <script type="module" src="/static/agent/main.js">:
 *   main.js           start-up: binds the page's events, restores the session, connects
 *   dom.js            the page's elements (`ui`), `el` / `svg`: text-only rendering
 *   format.js         times, durations, scores, names, severity and tier chips
 *   state.js          the shared mutable state
 *   session.js        sign-in, sessionStorage, sign-out
 *   socket.js         the socket: connection, back-off, request/answer matching
 *   frames.js         one handler per frame the desk sends
 *   sla.js            SLA levels, countdowns, the every-second tick, SLA notifications
 *   notifications.js  toasts and sound
 *   selection.js      what is open
 *   queue.js          the queue and held lists
 *   conversation.js   the middle column of the open conversation
 *   chat.js           chat log, delivery states, sending, read receipts, typing, canned responses
 *   brief.js          the brief panel and its sentiment chart
 *   actions.js        claim, acknowledge, note, transfer, hand back, resolve, presence
 * Modules are strict and deferred by default: the page is parsed when main.js runs.
 *
 * It speaks docs/agent-protocol.md: POST /api/agents/login for a token (kept in sessionStorage
 * so a reload stays signed in until it expires), then the /ws/agent socket. Every piece of
 * server or user text is put in the page with textContent / text nodes, never as markup.
 *
 * data-testid hooks (stable names for the browser tests):
 *   login-form, login-username, login-password, login-submit
 *   login-error            why the sign-in failed (role="alert")
 *   connection-status      socket state; data-state = connecting|online|reconnecting|offline
 *   agent-name             who is signed in
 *   presence-toggle        checkbox: online (pushed new handoffs) or away
 *   sound-toggle           checkbox: beep on urgent notifications (off by default)
 *   logout-button
 *   notifications          the toast region (role="alert"); each toast is a
 *   notification           with data-level = info|success|warning|error
 *   queue, queue-count     the queue list and how many wait in it
 *   queue-item             one queued handoff: data-handoff-id, data-conversation-id,
 *                          data-severity (sev1..sev4), data-tier, data-category, data-mode
 *     queue-open           the item's button: opens its brief
 *     queue-severity, queue-tier, queue-category, queue-reason (strongest reason code),
 *     queue-preview (the customer's last message), queue-waiting (time in the queue)
 *     sla                  SLA countdown: data-sla-state = active|warning|breached,
 *                          data-sla-target = acknowledge|resolve
 *   held-list, held-count  the conversations this agent holds
 *   held-item              one held handoff (the data-* of queue-item, plus data-unread)
 *     held-open, held-unread, sla
 *   conversation           the middle column
 *   conversation-title, conversation-sla
 *   claim-button           take the open queued handoff
 *   acknowledge-button     warm handoff: the brief is read; chat opens after it
 *   warm-banner            shown while a warm handoff is not acknowledged
 *   chat-log               the live conversation of the open held handoff
 *   chat-message           one message: data-author = customer|bot|agent|system, data-seq,
 *                          data-internal="true" on internal notes, and on the agent's
 *                          messages data-delivery = sending|sent|read|failed
 *   customer-typing        "... is typing"
 *   chat-form, chat-input, send-button
 *   canned-picker          inserts a canned response into chat-input for editing
 *   note-panel, note-open, note-input, note-submit
 *   transfer-panel, transfer-open, transfer-team, transfer-reason, transfer-submit
 *   handback-panel, handback-open, handback-summary, handback-submit
 *   resolve-panel, resolve-open, resolve-form, resolve-trigger (prefilled, read-only),
 *   resolve-avoidable-yes, resolve-avoidable-no, resolve-root-cause, resolve-correct-intent,
 *   resolve-misunderstood, resolve-note, resolve-submit
 *   action-error           why the last action on the open handoff was refused
 *   brief                  the brief panel, holding:
 *     brief-summary, brief-reasons, reason-code (data-code), sentiment-chart, brief-tier
 *     (data-tier), brief-steps, attempted-step (data-outcome), brief-transcript,
 *     transcript-message (data-author, data-seq), message-sentiment (data-label)
 */

import { ui } from './dom.js';
import { state } from './state.js';
import { onSoundToggle } from './notifications.js';
import { loadSession, onLogin, SESSION_KEY, showDesk, signOut } from './session.js';
import { connect } from './socket.js';
import { onCannedPick, onChatInput, onChatKey, onChatSubmit, scheduleReadReceipt } from './chat.js';
import { current } from './selection.js';
import {
  onAcknowledge,
  onClaim,
  onHandBack,
  onNote,
  onPanelToggle,
  onPresence,
  onResolve,
  onTransfer,
} from './actions.js';

function bind() {
  ui.loginForm.addEventListener('submit', onLogin);
  ui.logout.addEventListener('click', () => signOut());
  ui.presence.addEventListener('change', onPresence);
  ui.sound.addEventListener('change', onSoundToggle);
  ui.claim.addEventListener('click', onClaim);
  ui.acknowledge.addEventListener('click', onAcknowledge);
  ui.chatForm.addEventListener('submit', onChatSubmit);
  ui.chatInput.addEventListener('keydown', onChatKey);
  ui.chatInput.addEventListener('input', onChatInput);
  ui.canned.addEventListener('change', onCannedPick);
  ui.noteForm.addEventListener('submit', onNote);
  ui.transferForm.addEventListener('submit', onTransfer);
  ui.handbackForm.addEventListener('submit', onHandBack);
  ui.resolveForm.addEventListener('submit', onResolve);
  for (const panel of ui.panels) panel.addEventListener('toggle', onPanelToggle);
  // Back online: retry now rather than at the end of the back-off.
  window.addEventListener('online', () => {
    if (state.session && !state.socket) connect();
  });
  // What arrived while the tab was hidden is read when the agent comes back to it.
  document.addEventListener('visibilitychange', () => {
    const open = current();
    if (open?.entry && document.visibilityState === 'visible') scheduleReadReceipt(open.entry);
  });
}

function start() {
  bind();
  state.session = loadSession();
  if (state.session) {
    showDesk();
    connect();
  } else {
    sessionStorage.removeItem(SESSION_KEY);
    ui.loginUser.focus();
  }
}

start();
