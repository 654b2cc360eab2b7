/*
 * The session: the sign-in form, the token kept in sessionStorage (so a reload stays signed in
 * until it expires), and signing out.
 */

import { ui } from './dom.js';
import { parseTime } from './format.js';
import { state } from './state.js';
import { tick } from './sla.js';
import { connect, setConnection } from './socket.js';
import { forgetEntry } from './chat.js';
import { renderLists } from './queue.js';
import { renderSelection } from './conversation.js';

export const SESSION_KEY = 'handoff.agent.session';

export function loadSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY));
    return session?.token && !expired(session) ? session : null;
  } catch {
    return null;
  }
}

export function expired(session) {
  return !session || parseTime(session.expires_at) <= Date.now();
}

export async function onLogin(event) {
  event.preventDefault();
  const username = ui.loginUser.value.trim();
  const password = ui.loginPassword.value;
  if (!username || !password) {
    showLoginError('Enter your username and your password.');
    return;
  }
  const submit = ui.loginForm.querySelector('button[type="submit"]');
  submit.disabled = true;
  ui.loginForm.setAttribute('aria-busy', 'true');
  try {
    const response = await fetch('/api/agents/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    if (response.ok) {
      startSession(await response.json());
    } else {
      showLoginError(loginRefusal(response.status));
    }
  } catch {
    showLoginError('The desk cannot be reached. Check your connection and try again.');
  } finally {
    submit.disabled = false;
    ui.loginForm.removeAttribute('aria-busy');
  }
}

function loginRefusal(status) {
  if (status === 401) return 'Unknown username or wrong password.';
  if (status === 422) return 'The username must be 1 to 64 characters long.';
  return `Signing in failed (HTTP ${status}). Try again in a moment.`;
}

function showLoginError(text) {
  ui.loginError.textContent = text;
  ui.loginError.hidden = !text;
  if (text) ui.loginPassword.select();
}

function startSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  state.session = session;
  ui.loginPassword.value = '';
  showLoginError('');
  showDesk();
  connect();
}

/** Back to the sign-in form; `why` says what happened, if it was not the agent's choice. */
export function signOut(why = '') {
  state.closing = true;
  state.socket?.close(1000, 'signed out');
  state.socket = null;
  clearTimeout(state.reconnectTimer);
  clearTimeout(state.welcomeTimer);
  clearInterval(state.pingTimer);
  clearInterval(state.tickTimer);
  for (const entry of state.held.values()) forgetEntry(entry);
  sessionStorage.removeItem(SESSION_KEY);
  Object.assign(state, {
    session: null, agent: null, canned: [], selected: null, attempt: 0, outstanding: [],
  });
  state.queue.clear();
  state.held.clear();
  state.claiming.clear();
  state.teams.clear();
  state.slaLevels.clear();
  state.slaAnnounced.clear();
  state.ticking.clear();
  renderLists();
  renderSelection();
  setConnection('offline', 'Not connected');
  ui.desk.hidden = true;
  ui.sessionControls.hidden = true;
  ui.loginView.hidden = false;
  showLoginError(why);
  ui.loginUser.focus();
}

export function showDesk() {
  ui.loginView.hidden = true;
  ui.desk.hidden = false;
  ui.sessionControls.hidden = false;
  ui.agentName.textContent = state.session.agent?.display_name ?? '';
  state.closing = false;
  clearInterval(state.tickTimer);
  state.tickTimer = setInterval(tick, 1000);
}
