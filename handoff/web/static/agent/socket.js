/*
 * The /ws/agent socket: connecting, the back-off between retries, and matching the desk's
 * answers to the frames this console sent.
 */

import { ui } from './dom.js';
import { state } from './state.js';
import { notify } from './notifications.js';
import { expired, signOut } from './session.js';
import { onFrame } from './frames.js';
import { renderConversation } from './conversation.js';

// A socket that opened but never says welcome is as good as a dropped one.
const WELCOME_WAIT_MS = 15000;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30000;

// Close codes after which retrying cannot help (docs/agent-protocol.md, "Close codes").
const FATAL_CLOSES = new Map([
  [1008, 'The desk refused this page\'s origin. Ask for it to be allowed.'],
  [4400, 'The desk refused the connection as a protocol error.'],
  [4426, 'This console is out of date: reload the page.'],
]);

function socketUrl() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/ws/agent`;
}

export function connect() {
  clearTimeout(state.reconnectTimer);
  if (expired(state.session)) {
    signOut('Your session has expired. Sign in again.');
    return;
  }
  setConnection(state.attempt ? 'reconnecting' : 'connecting',
    state.attempt ? 'Reconnecting…' : 'Connecting…');
  const socket = new WebSocket(socketUrl());
  state.socket = socket;
  socket.addEventListener('open', () => {
    socket.send(JSON.stringify({ type: 'auth', v: 1, token: state.session.token }));
  });
  state.welcomeTimer = setTimeout(() => socket.close(1000, 'no welcome'), WELCOME_WAIT_MS);
  socket.addEventListener('message', (event) => {
    if (socket === state.socket) onFrame(JSON.parse(event.data));
  });
  socket.addEventListener('close', (event) => onClose(socket, event));
}

function onClose(socket, event) {
  if (socket !== state.socket) return;
  state.socket = null;
  clearTimeout(state.welcomeTimer);
  clearInterval(state.pingTimer);
  // What was in flight on that socket has an unknown fate; welcome says what stands.
  state.outstanding = [];
  state.claiming.clear();
  for (const entry of state.held.values()) entry.busy = null;
  renderConversation();
  if (state.closing) return;
  if (state.resyncing) {
    state.resyncing = false;
    connect();
    return;
  }
  if (event.code === 4401) {
    signOut(event.reason.startsWith('expired')
      ? 'Your session has expired. Sign in again.'
      : 'The desk refused your session. Sign in again.');
    return;
  }
  const fatal = FATAL_CLOSES.get(event.code);
  if (fatal) {
    setConnection('offline', 'Disconnected');
    notify(fatal, { level: 'error', title: 'Connection' });
    return;
  }
  scheduleReconnect();
}

function scheduleReconnect() {
  const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** state.attempt);
  const delay = backoff / 2 + Math.random() * (backoff / 2); // jitter: not all consoles at once
  state.attempt += 1;
  setConnection('reconnecting', `Connection lost: retrying in ${Math.ceil(delay / 1000)} s`);
  state.reconnectTimer = setTimeout(connect, delay);
}

// The socket is closed to get a fresh welcome: the desk's word on what this agent holds.
export function resync() {
  if (!state.socket) return;
  state.resyncing = true;
  state.socket.close(1000, 'resync');
}

export function setConnection(name, text) {
  ui.connection.dataset.state = name;
  ui.connection.querySelector('.connection-text').textContent = text;
}

export function send(frame) {
  if (state.socket?.readyState !== WebSocket.OPEN) return false;
  state.socket.send(JSON.stringify(frame));
  return true;
}

/**
 * Send a frame the desk answers (claimed/claim_failed, done, ack or error). The desk runs a
 * socket's frames in order, so an `error` answers the oldest frame still waiting here.
 * `typing`, `presence` and `ping` are sent with `send`: they are not answered.
 */
export function request(frame) {
  if (!send(frame)) return false;
  state.outstanding.push(frame);
  return true;
}

export function settle(matches) {
  const index = state.outstanding.findIndex(matches);
  if (index < 0) return null;
  return state.outstanding.splice(index, 1)[0];
}
