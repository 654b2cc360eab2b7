/*
 * The agent console of the handoff desk: plain DOM, no framework, no build step.
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
(() => {
  'use strict';

  const SESSION_KEY = 'handoff.agent.session';
  // Until `welcome` says the SLA monitor's HANDOFF_MONITOR__WARNING_FRACTION, its default.
  let warningFraction = 0.8;
  const TYPING_EVERY_MS = 3000; // the protocol asks for "at most every few seconds"
  const CUSTOMER_TYPING_MS = 5000;
  const READ_RECEIPT_DELAY_MS = 500; // one receipt for a burst of customer messages
  const ACK_WAIT_MS = 10000; // the protocol's resend delay for a message with no ack
  const NOT_STORED_RETRY_MS = 3000;
  const PING_EVERY_MS = 25000;
  // A socket that opened but never says welcome is as good as a dropped one.
  const WELCOME_WAIT_MS = 15000;
  const BACKOFF_FIRST_MS = 1000;
  const BACKOFF_MAX_MS = 30000;
  const TOAST_MS = 8000;
  const MAX_TOASTS = 5;
  const SVG_NS = 'http://www.w3.org/2000/svg';

  // Close codes after which retrying cannot help (docs/agent-protocol.md, "Close codes").
  const FATAL_CLOSES = new Map([
    [1008, 'The desk refused this page\'s origin. Ask for it to be allowed.'],
    [4400, 'The desk refused the connection as a protocol error.'],
    [4426, 'This console is out of date: reload the page.'],
  ]);
  const DONE_FOR = {
    acknowledge: 'acknowledged', note: 'noted', transfer: 'transferred',
    hand_back: 'handed_back', resolve: 'resolved',
  };
  const CLAIM_FAILED = {
    taken: 'Someone else took this conversation first.',
    not_found: 'This conversation is no longer in your queues.',
    at_capacity: 'You hold as many conversations as you can: resolve or hand one back first.',
  };
  const ENDING = new Set(['transfer', 'hand_back', 'resolve']);

  // --------------------------------------------------------------------------- the page

  const byId = (id) => document.getElementById(id);
  const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
  const ui = {
    loginView: byId('login-view'),
    loginForm: byId('login-form'),
    loginUser: byId('login-username'),
    loginPassword: byId('login-password'),
    loginError: byId('login-error'),
    desk: byId('desk-view'),
    sessionControls: byId('session-controls'),
    agentName: byTestId('agent-name'),
    connection: byTestId('connection-status'),
    presence: byId('presence-toggle'),
    sound: byId('sound-toggle'),
    logout: byId('logout-button'),
    toasts: byTestId('notifications'),
    queueList: byId('queue-list'),
    queueCount: byId('queue-count'),
    queueEmpty: byId('queue-empty'),
    heldList: byId('held-list'),
    heldCount: byId('held-count'),
    heldEmpty: byId('held-empty'),
    conversation: byId('conversation'),
    placeholder: byId('conversation-placeholder'),
    body: byId('conversation-body'),
    title: byId('conversation-title'),
    meta: byId('conversation-meta'),
    claim: byId('claim-button'),
    acknowledge: byId('acknowledge-button'),
    warmBanner: byId('warm-banner'),
    queuedBanner: byId('queued-banner'),
    logFrame: byId('chat-log-frame'),
    typing: byId('customer-typing'),
    chatForm: byId('chat-form'),
    chatInput: byId('chat-input'),
    send: byId('send-button'),
    canned: byId('canned-picker'),
    actions: byId('actions'),
    panels: [...document.querySelectorAll('#actions details')],
    noteForm: byId('note-form'),
    noteInput: byId('note-input'),
    transferForm: byId('transfer-form'),
    transferTeam: byId('transfer-team'),
    transferReason: byId('transfer-reason'),
    teamOptions: byId('team-options'),
    handbackForm: byId('handback-form'),
    handbackSummary: byId('handback-summary'),
    resolveForm: byId('resolve-form'),
    resolvePanel: byTestId('resolve-panel'),
    resolveTrigger: byId('resolve-trigger'),
    resolveRootCause: byId('resolve-root-cause'),
    resolveIntent: byId('resolve-correct-intent'),
    intentOptions: byId('intent-options'),
    resolveMisunderstood: byId('resolve-misunderstood'),
    resolveNote: byId('resolve-note'),
    actionError: byId('action-error'),
    briefPlaceholder: byId('brief-placeholder'),
    brief: byId('brief'),
  };

  const state = {
    session: null, // {token, expires_at, agent} from the login
    agent: null, // welcome.agent: the account as the desk sees it now
    canned: [],
    teams: new Set(), // every team name the console has seen, for the transfer suggestions
    queue: new Map(), // handoff id -> handoff view
    held: new Map(), // handoff id -> held entry (see newEntry)
    selected: null, // {kind: 'queue' | 'held', id}
    shown: '', // "kind:id" of what the columns show now
    claiming: new Set(), // ids this console sent a claim for
    socket: null,
    attempt: 0, // reconnect attempts since the last welcome
    reconnectTimer: 0,
    welcomeTimer: 0,
    pingTimer: 0,
    tickTimer: 0,
    outstanding: [], // frames sent and not yet answered, oldest first (see request)
    closing: false, // the console closed the socket itself (log out)
    resyncing: false, // the console closed it to reconnect at once
    audio: null,
    slaLevels: new Map(), // "id:target" -> last SLA level seen
    slaAnnounced: new Set(), // "id:target:level" already notified
    ticking: new Set(), // {node, render(now)} redrawn every second
  };

  // --------------------------------------------------------------------------- helpers

  /** An element with attributes and children; strings become text nodes, never markup. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    setAttributes(node, attrs);
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  function svg(tag, attrs = {}, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttributes(node, attrs);
    node.append(...children);
    return node;
  }

  function setAttributes(node, attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.setAttribute('class', value);
      else if (key === 'testid') node.dataset.testid = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
  }

  function humanize(code) {
    return String(code).replaceAll('_', ' ');
  }

  // Python's isoformat carries microseconds; trimming to milliseconds keeps Date.parse exact.
  function parseTime(iso) {
    return Date.parse(String(iso).replace(/(\.\d{3})\d+/, '$1'));
  }

  function clockTime(iso) {
    return new Date(parseTime(iso)).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function dueTime(iso) {
    const due = new Date(parseTime(iso));
    const sameDay = due.toDateString() === new Date().toDateString();
    return sameDay ? clockTime(iso)
      : due.toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' });
  }

  function duration(ms) {
    const total = Math.floor(Math.abs(ms) / 1000);
    const days = Math.floor(total / 86400);
    const hours = Math.floor((total % 86400) / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const seconds = total % 60;
    if (days) return `${days}d ${hours}h`;
    if (hours) return `${hours}h ${String(minutes).padStart(2, '0')}m`;
    return `${minutes}:${String(seconds).padStart(2, '0')}`;
  }

  function score(value) {
    return Number(value).toFixed(2);
  }

  function randomId() {
    const bytes = crypto.getRandomValues(new Uint8Array(8));
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  }

  function customerName(brief) {
    return brief?.customer?.name || brief?.customer?.id || 'Anonymous customer';
  }

  function lastCustomerText(brief) {
    const said = (brief?.transcript ?? []).filter((m) => m.sender === 'customer');
    return said.length ? said[said.length - 1].text : '';
  }

  function sevLabel(severity) {
    return /^sev\d$/.test(severity) ? `Sev ${severity.slice(3)}` : String(severity);
  }

  function sevChip(severity, testid) {
    return el('span', { class: `chip sev sev-${severity}`, testid }, sevLabel(severity));
  }

  function tierChip(tier, testid) {
    return el('span', { class: `chip tier tier-${tier}`, testid, 'data-tier': tier }, tier);
  }

  function byUrgency(a, b) {
    return a.priority - b.priority || parseTime(a.queued_at) - parseTime(b.queued_at);
  }

  // --------------------------------------------------------------------------- SLA

  /** The SLA target now (acknowledge until acknowledged, then resolve) and its level. */
  function slaOf(view, now) {
    const target = view.acknowledged ? 'resolve' : 'acknowledge';
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
  function slaNode(viewOf, testid = 'sla') {
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

  function waitingNode(view) {
    const node = el('span', { class: 'waiting', testid: 'queue-waiting' });
    const render = (now) => {
      node.textContent = `Waiting ${duration(now - parseTime(view.queued_at))}`;
    };
    render(Date.now());
    state.ticking.add({ node, render });
    return node;
  }

  function tick() {
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

  function announceSla(id, target, level, severity, team) {
    const key = `${id}:${target}:${level}`;
    if (state.slaAnnounced.has(key)) return;
    state.slaAnnounced.add(key);
    const what = target === 'acknowledge' ? 'acknowledgement' : 'resolution';
    const text = level === 'breached'
      ? `Handoff #${id} (${sevLabel(severity)}, ${team}) is past its ${what} due time.`
      : `Handoff #${id} (${sevLabel(severity)}, ${team}): ${what} due soon.`;
    notify(text, { level: level === 'breached' ? 'error' : 'warning', title: 'SLA', sound: true });
  }

  // --------------------------------------------------------------------------- notifications

  function notify(text, { level = 'info', title = '', sound = false } = {}) {
    const dismiss = el('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss' },
      '×');
    const toast = el('div', { class: `toast toast-${level}`, testid: 'notification',
      'data-level': level },
    title ? el('strong', { class: 'toast-title' }, title) : null,
    el('span', { class: 'toast-text' }, text), dismiss);
    dismiss.addEventListener('click', () => toast.remove());
    ui.toasts.append(toast);
    while (ui.toasts.children.length > MAX_TOASTS) ui.toasts.firstElementChild.remove();
    setTimeout(() => toast.remove(), level === 'error' ? TOAST_MS * 2 : TOAST_MS);
    if (sound) beep(level);
  }

  function beep(level) {
    if (!ui.sound.checked || !state.audio) return;
    const context = state.audio;
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.frequency.value = level === 'error' ? 880 : 660;
    gain.gain.setValueAtTime(0.15, context.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, context.currentTime + 0.4);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start();
    oscillator.stop(context.currentTime + 0.4);
  }

  // Browsers only let a page make sound after a user gesture: the toggle is that gesture.
  function onSoundToggle() {
    if (!ui.sound.checked) return;
    state.audio ??= new AudioContext();
    state.audio.resume();
    beep('info');
  }

  // --------------------------------------------------------------------------- session

  function loadSession() {
    try {
      const session = JSON.parse(sessionStorage.getItem(SESSION_KEY));
      return session?.token && !expired(session) ? session : null;
    } catch {
      return null;
    }
  }

  function expired(session) {
    return !session || parseTime(session.expires_at) <= Date.now();
  }

  async function onLogin(event) {
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
  function signOut(why = '') {
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

  function showDesk() {
    ui.loginView.hidden = true;
    ui.desk.hidden = false;
    ui.sessionControls.hidden = false;
    ui.agentName.textContent = state.session.agent?.display_name ?? '';
    state.closing = false;
    clearInterval(state.tickTimer);
    state.tickTimer = setInterval(tick, 1000);
  }

  // --------------------------------------------------------------------------- the socket

  function socketUrl() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    return `${scheme}://${location.host}/ws/agent`;
  }

  function connect() {
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
  function resync() {
    if (!state.socket) return;
    state.resyncing = true;
    state.socket.close(1000, 'resync');
  }

  function setConnection(name, text) {
    ui.connection.dataset.state = name;
    ui.connection.querySelector('.connection-text').textContent = text;
  }

  function send(frame) {
    if (state.socket?.readyState !== WebSocket.OPEN) return false;
    state.socket.send(JSON.stringify(frame));
    return true;
  }

  /**
   * Send a frame the desk answers (claimed/claim_failed, done, ack or error). The desk runs a
   * socket's frames in order, so an `error` answers the oldest frame still waiting here.
   * `typing`, `presence` and `ping` are sent with `send`: they are not answered.
   */
  function request(frame) {
    if (!send(frame)) return false;
    state.outstanding.push(frame);
    return true;
  }

  function settle(matches) {
    const index = state.outstanding.findIndex(matches);
    if (index < 0) return null;
    return state.outstanding.splice(index, 1)[0];
  }

  // --------------------------------------------------------------------------- frames

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

  function onFrame(frame) {
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
    warningFraction = frame.sla_warning_fraction ?? warningFraction;
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

  function onError({ code, message }) {
    const failed = state.outstanding.shift();
    if (!failed) {
      notify(message, { level: 'error', title: `Refused (${code})` });
      return;
    }
    if (failed.type === 'message') {
      messageRefused(failed, code, message);
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
    return message;
  }

  // The desk lists its teams when a transfer names an unknown one ("...; teams: a, b").
  function learnTeams(message) {
    const listed = message.split('teams:')[1];
    if (!listed) return;
    for (const team of listed.split(',')) if (team.trim()) state.teams.add(team.trim());
    fillTeamOptions();
  }

  function messageRefused(frame, code, message) {
    const entry = state.held.get(frame.handoff_id);
    const pending = entry?.pending.find((p) => p.cmid === frame.client_message_id);
    if (!pending) return;
    clearTimeout(pending.timer);
    if (code === 'not_stored') {
      pending.timer = setTimeout(() => transmit(entry, pending), NOT_STORED_RETRY_MS);
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

  // --------------------------------------------------------------------------- held handoffs

  function newEntry(view) {
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

  function forgetEntry(entry) {
    clearTimeout(entry.typingTimer);
    clearTimeout(entry.readTimer);
    for (const pending of entry.pending) clearTimeout(pending.timer);
  }

  function dropEntry(entry) {
    forgetEntry(entry);
    state.held.delete(entry.view.id);
    if (isSelected('held', entry.view.id)) {
      state.selected = null;
      renderSelection();
    }
    renderHeld();
  }

  function loadTranscript(entry, transcript) {
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
  function addMessage(entry, frame, { live = true } = {}) {
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

  function placeBySeq(log, node) {
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

  function setDelivery(node, delivery) {
    node.dataset.delivery = delivery;
    let label = node.querySelector('.msg-delivery');
    if (!label) {
      label = el('span', { class: 'msg-delivery' });
      node.append(label);
    }
    label.textContent = DELIVERY_TEXT[delivery];
  }

  function sentimentOf(brief, seq) {
    return (brief?.transcript ?? []).find((m) => m.seq === seq)?.sentiment ?? null;
  }

  function sentimentChip(reading) {
    const negative = reading.scores?.negative;
    const parts = [reading.label];
    if (negative !== undefined) parts.push(`negative ${score(negative)}`);
    parts.push(`frustration ${score(reading.frustration)}`);
    return el('span', { class: `sentiment sentiment-${reading.label}`,
      testid: 'message-sentiment', 'data-label': reading.label }, parts.join(' · '));
  }

  // --------------------------------------------------------------------------- sending

  function sendChat(entry, text) {
    const pending = { cmid: `a-${randomId()}`, text, node: pendingNode(text), seq: null,
      timer: 0 };
    entry.pending.push(pending);
    entry.log.append(pending.node);
    scrollToBottom();
    transmit(entry, pending);
  }

  // Send (or resend, with the same client id: the desk stores it once) and wait for the ack.
  function transmit(entry, pending) {
    clearTimeout(pending.timer);
    if (!entry.view.acknowledged) return; // sent once the handoff is acknowledged
    const sent = request({ type: 'message', handoff_id: entry.view.id,
      client_message_id: pending.cmid, text: pending.text });
    if (sent) pending.timer = setTimeout(() => transmit(entry, pending), ACK_WAIT_MS);
  }

  function resendPending(entry) {
    for (const pending of entry.pending) transmit(entry, pending);
  }

  function act(entry, frame) {
    entry.error = '';
    if (!request(frame)) {
      entry.error = 'Not connected: wait for the connection to come back, then try again.';
    } else {
      entry.busy = frame.type;
    }
    renderConversation();
  }

  // --------------------------------------------------------------------------- rendering

  function isSelected(kind, id) {
    return state.selected?.kind === kind && state.selected.id === id;
  }

  function current() {
    const selected = state.selected;
    if (!selected) return null;
    if (selected.kind === 'held') {
      const entry = state.held.get(selected.id);
      return entry ? { kind: 'held', view: entry.view, entry } : null;
    }
    const view = state.queue.get(selected.id);
    return view ? { kind: 'queue', view, entry: null } : null;
  }

  function select(kind, id) {
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

  /**
   * Tell the customer what the agent has seen: a `read` up to the newest customer message of
   * the open conversation, once it has been on a visible page for a moment.
   */
  function scheduleReadReceipt(entry) {
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

  function saveDraft() {
    const open = current();
    if (open?.entry) open.entry.draft = ui.chatInput.value;
  }

  function renderLists() {
    renderQueue();
    renderHeld();
  }

  function renderQueue() {
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

  function renderHeld() {
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

  /**
   * The middle and right columns for the selection. Opening another conversation resets the
   * forms and draws its brief; a re-render of the same one (after a reconnect) keeps what the
   * agent was writing.
   */
  function renderSelection() {
    const open = current();
    const shown = open ? `${open.kind}:${open.view.id}` : '';
    const changed = shown !== state.shown;
    state.shown = shown;
    ui.placeholder.hidden = Boolean(open);
    ui.body.hidden = !open;
    ui.briefPlaceholder.hidden = Boolean(open);
    ui.brief.hidden = !open;
    if (changed) resetForms();
    if (!open) {
      ui.brief.replaceChildren();
      ui.logFrame.replaceChildren();
      return;
    }
    ui.logFrame.replaceChildren(...(open.entry ? [open.entry.log] : []));
    fillCanned(open.view.team);
    fillTeamOptions();
    if (changed) {
      renderBrief(open.view);
      ui.chatInput.value = open.entry?.draft ?? '';
      fillResolveForm(open);
      scrollToBottom();
    }
    renderConversation();
  }

  /** The parts of the open conversation that change while it stays open. */
  function renderConversation() {
    const open = current();
    if (!open) return;
    const { view, entry } = open;
    const held = open.kind === 'held';
    const writable = held && view.acknowledged;
    ui.title.textContent = customerName(view.brief);
    ui.meta.replaceChildren(sevChip(view.severity),
      el('span', {}, view.category), el('span', {}, `team ${view.team}`),
      el('span', { class: 'mode' }, view.mode),
      tierChip(view.brief?.customer?.tier ?? 'standard'),
      slaNode(() => current()?.view ?? view, 'conversation-sla'));
    ui.conversation.dataset.handoffId = view.id;
    ui.conversation.dataset.mode = view.mode;
    ui.conversation.dataset.acknowledged = String(Boolean(held && view.acknowledged));
    ui.claim.hidden = held;
    ui.claim.disabled = state.claiming.has(view.id);
    ui.queuedBanner.hidden = held;
    ui.acknowledge.hidden = !held || view.acknowledged;
    ui.acknowledge.disabled = Boolean(entry?.busy);
    ui.warmBanner.hidden = !held || view.acknowledged;
    ui.chatForm.hidden = !held;
    ui.actions.hidden = !held;
    ui.chatInput.disabled = !writable;
    ui.send.disabled = !writable;
    ui.canned.disabled = !writable;
    for (const form of [ui.noteForm, ui.transferForm, ui.handbackForm, ui.resolveForm]) {
      form.querySelector('button[type="submit"]').disabled = Boolean(entry?.busy);
    }
    ui.actionError.textContent = entry?.error ?? '';
    ui.actionError.hidden = !entry?.error;
    renderTyping();
  }

  function renderTyping() {
    const open = current();
    const typing = Boolean(open?.entry?.customerTyping);
    ui.typing.hidden = !typing;
    ui.typing.textContent = typing ? `${customerName(open.view.brief)} is typing…` : '';
  }

  function nearBottom() {
    const frame = ui.logFrame;
    return frame.scrollHeight - frame.scrollTop - frame.clientHeight < 80;
  }

  function scrollToBottom() {
    ui.logFrame.scrollTop = ui.logFrame.scrollHeight;
  }

  function resetForms() {
    for (const form of [ui.noteForm, ui.transferForm, ui.handbackForm, ui.resolveForm]) {
      form.reset();
    }
    for (const panel of ui.panels) panel.open = false;
  }

  function fillCanned(team) {
    const usable = state.canned.filter((c) => !c.teams || c.teams.includes(team));
    ui.canned.replaceChildren(el('option', { value: '' }, 'Insert a canned response…'),
      ...usable.map((c) => el('option', { value: c.id }, c.title)));
  }

  function fillTeamOptions() {
    const open = current();
    const teams = [...state.teams].filter((team) => team !== open?.view.team).sort();
    ui.teamOptions.replaceChildren(...teams.map((team) => el('option', { value: team })));
  }

  function fillResolveForm(open) {
    const brief = open.view.brief ?? {};
    ui.resolveTrigger.value = brief.reasons?.[0]?.code ?? 'escalated';
    const intents = [...new Set((brief.intents ?? []).map((i) => i.intent))];
    ui.intentOptions.replaceChildren(...intents.map((intent) => el('option', { value: intent })));
    fillMisunderstood(open);
  }

  // Only a customer message of this conversation may be named (else the desk says `invalid`).
  function fillMisunderstood(open) {
    const said = open.entry ? [...open.entry.messages.values()].map((m) => m.frame)
      : open.view.brief?.transcript ?? [];
    const options = said.filter((m) => m.sender === 'customer').sort((a, b) => a.seq - b.seq)
      .map((m) => el('option', { value: m.seq }, `#${m.seq}: ${m.text.slice(0, 80)}`));
    ui.resolveMisunderstood.replaceChildren(el('option', { value: '' }, 'None'), ...options);
  }

  // --------------------------------------------------------------------------- the brief

  function renderBrief(view) {
    const brief = view.brief ?? {};
    ui.brief.replaceChildren(
      section('Summary', el('p', { class: 'summary', testid: 'brief-summary' },
        brief.summary ?? 'No summary.')),
      section('Why it was escalated', reasonList(brief.reasons ?? [])),
      section('Sentiment arc', sentimentChart(brief.sentiment_arc ?? [], brief.reasons ?? [])),
      section('Customer', customerFacts(view, brief)),
      section('What the assistant tried', stepList(brief.attempted_steps ?? [])),
      section('Transcript at handoff', briefTranscript(brief)),
    );
  }

  function section(title, ...content) {
    return el('section', { class: 'brief-section' }, el('h3', {}, title), ...content);
  }

  function reasonList(reasons) {
    if (!reasons.length) return el('p', { class: 'muted', testid: 'brief-reasons' }, 'None.');
    return el('ol', { class: 'reasons', testid: 'brief-reasons' }, ...reasons.map((reason) => {
      const measured = reason.threshold === null || reason.threshold === undefined
        ? `value ${formatValue(reason.value)}`
        : `value ${formatValue(reason.value)} · threshold ${formatValue(reason.threshold)}`;
      return el('li', { class: 'reason-item', testid: 'reason-code', 'data-code': reason.code },
        el('span', { class: 'reason-head' }, el('code', {}, reason.code),
          el('span', { class: 'reason-measure' }, measured)),
        el('span', { class: 'reason-detail' }, reason.detail));
    }));
  }

  function formatValue(value) {
    if (typeof value === 'boolean') return value ? 'yes' : 'no';
    if (typeof value === 'number') return Number.isInteger(value) ? String(value) : score(value);
    return `“${value}”`;
  }

  function customerFacts(view, brief) {
    const customer = brief.customer ?? {};
    const fact = (term, ...value) => [el('dt', {}, term), el('dd', {}, ...value)];
    return el('dl', { class: 'facts' },
      ...fact('Name', customerName(brief)),
      ...fact('Customer id', customer.id ?? 'not signed in'),
      ...fact('Tier', tierChip(customer.tier ?? 'standard', 'brief-tier')),
      ...fact('Channel', brief.channel ?? 'unknown'),
      ...fact('Severity', sevChip(view.severity), ` · ${view.category} · ${view.mode}`),
      ...fact('Acknowledge by', dueTime(view.acknowledge_due)),
      ...fact('Resolve by', dueTime(view.resolve_due)),
      ...fact('Score', brief.score === undefined ? '—' : score(brief.score)));
  }

  function stepList(steps) {
    if (!steps.length) {
      return el('p', { class: 'muted', testid: 'brief-steps' }, 'The assistant tried nothing.');
    }
    return el('ol', { class: 'steps', testid: 'brief-steps' }, ...steps.map((step) =>
      el('li', { class: 'step', testid: 'attempted-step', 'data-outcome': step.outcome },
        el('span', { class: 'step-head' }, el('span', { class: 'step-name' }, humanize(step.step)),
          el('span', { class: `chip outcome outcome-${step.outcome}` }, humanize(step.outcome))),
        el('span', { class: 'step-summary' }, step.summary),
        el('time', { class: 'muted', datetime: step.at }, clockTime(step.at)))));
  }

  function briefTranscript(brief) {
    const messages = brief.transcript ?? [];
    return el('ol', { class: 'transcript', testid: 'brief-transcript' }, ...messages.map((m) => {
      const who = { customer: customerName(brief), bot: 'Assistant', agent: 'Agent',
        system: 'System' }[m.sender];
      return el('li', { class: `line line-${m.sender}`, testid: 'transcript-message',
        'data-author': m.sender, 'data-seq': m.seq },
      el('span', { class: 'line-head' }, el('span', { class: 'line-who' }, who),
        el('time', { class: 'muted', datetime: m.at }, clockTime(m.at))),
      el('span', { class: 'line-text' }, m.text),
      m.sentiment ? sentimentChip(m.sentiment) : null,
      m.intent ? el('span', { class: 'intent' },
        `intent ${m.intent}${m.confidence === null ? '' : ` (${score(m.confidence)})`}`) : null);
    }));
  }

  let chartCount = 0;

  /** The sentiment arc as an inline SVG, with a text summary and a table of its points. */
  function sentimentChart(arc, reasons) {
    const figure = el('figure', { class: 'chart', testid: 'sentiment-chart' });
    if (!arc.length) {
      figure.append(el('figcaption', {}, 'No customer message was scored.'));
      return figure;
    }
    chartCount += 1;
    const id = `chart-${chartCount}`;
    const first = arc[0];
    const last = arc[arc.length - 1];
    const description = arc.length === 1
      ? `One scored message: negativity ${score(first.negative)}, frustration `
        + `${score(first.frustration)}.`
      : `Over ${arc.length} customer messages, frustration went from ${score(first.frustration)} `
        + `to ${score(last.frustration)} and negativity from ${score(first.negative)} to `
        + `${score(last.negative)}.`;
    const threshold = reasons.find((r) => r.code === 'high_frustration'
      && typeof r.threshold === 'number')?.threshold;
    figure.append(chartSvg(arc, id, description, threshold),
      el('figcaption', { class: 'chart-caption' }, chartLegend(threshold), description),
      chartTable(arc));
    return figure;
  }

  function chartSvg(arc, id, description, threshold) {
    const width = 320;
    const height = 130;
    const box = { left: 30, right: 10, top: 10, bottom: 22 };
    const plotWidth = width - box.left - box.right;
    const plotHeight = height - box.top - box.bottom;
    const step = arc.length === 1 ? 0 : plotWidth / (arc.length - 1);
    const x = (i) => box.left + (arc.length === 1 ? plotWidth / 2 : i * step);
    const y = (value) => box.top + (1 - value) * plotHeight;
    const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img',
      'aria-labelledby': `${id}-title ${id}-desc`, class: 'chart-svg' },
    svg('title', { id: `${id}-title` }, 'Customer sentiment arc'),
    svg('desc', { id: `${id}-desc` }, description));
    for (const value of [0, 0.5, 1]) {
      chart.append(svg('line', { class: 'grid', x1: box.left, x2: width - box.right,
        y1: y(value), y2: y(value) }),
      svg('text', { class: 'axis', x: box.left - 6, y: y(value) + 4, 'text-anchor': 'end' },
        String(value)));
    }
    if (threshold !== undefined) {
      chart.append(svg('line', { class: 'threshold', x1: box.left, x2: width - box.right,
        y1: y(threshold), y2: y(threshold) }));
    }
    for (const [series, key] of [['negative', 'negative'], ['frustration', 'frustration']]) {
      const points = arc.map((p, i) => `${x(i)},${y(p[key])}`).join(' ');
      chart.append(svg('polyline', { class: `series series-${series}`, points }));
      arc.forEach((p, i) => chart.append(svg('circle',
        { class: `dot dot-${series}`, cx: x(i), cy: y(p[key]), r: 3.5 },
        svg('title', {}, `Message #${p.seq}: ${series} ${score(p[key])}`))));
    }
    const labelEvery = Math.ceil(arc.length / 8);
    arc.forEach((p, i) => {
      if (i % labelEvery === 0) {
        chart.append(svg('text', { class: 'axis', x: x(i), y: height - 6,
          'text-anchor': 'middle' }, `#${p.seq}`));
      }
    });
    return chart;
  }

  function chartLegend(threshold) {
    return el('span', { class: 'legend', 'aria-hidden': 'true' },
      el('span', { class: 'key key-frustration' }, 'frustration'),
      el('span', { class: 'key key-negative' }, 'negativity'),
      threshold === undefined ? null
        : el('span', { class: 'key key-threshold' }, `frustration threshold ${score(threshold)}`));
  }

  function chartTable(arc) {
    return el('table', { class: 'visually-hidden' },
      el('caption', {}, 'Sentiment of each scored customer message'),
      el('thead', {}, el('tr', {}, ...['Message', 'Label', 'Negativity', 'Frustration']
        .map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ...arc.map((p) => el('tr', {}, el('td', {}, `#${p.seq}`),
        el('td', {}, p.label), el('td', {}, score(p.negative)),
        el('td', {}, score(p.frustration))))));
  }

  // --------------------------------------------------------------------------- actions

  function openEntry() {
    const open = current();
    return open?.kind === 'held' ? open.entry : null;
  }

  function onClaim() {
    const open = current();
    if (open?.kind !== 'queue') return;
    if (request({ type: 'claim', handoff_id: open.view.id })) {
      state.claiming.add(open.view.id);
    } else {
      notify('Not connected: wait for the connection to come back.', { level: 'error' });
    }
    renderConversation();
  }

  function onAcknowledge() {
    const entry = openEntry();
    if (entry) act(entry, { type: 'acknowledge', handoff_id: entry.view.id });
  }

  function onChatSubmit(event) {
    event.preventDefault();
    const entry = openEntry();
    const text = ui.chatInput.value;
    if (!entry || !entry.view.acknowledged || !text.trim()) return;
    sendChat(entry, text);
    ui.chatInput.value = '';
    entry.draft = '';
    ui.chatInput.focus();
  }

  function onChatKey(event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.chatForm.requestSubmit();
    }
  }

  // The customer sees "typing" while the agent types, at most once per TYPING_EVERY_MS; not
  // while an ending action is on its way (the desk would refuse a typing frame after it).
  function onChatInput() {
    const entry = openEntry();
    if (!entry || !ui.chatInput.value.trim() || ENDING.has(entry.busy)) return;
    const now = Date.now();
    if (now - entry.lastTypingSent < TYPING_EVERY_MS) return;
    if (send({ type: 'typing', handoff_id: entry.view.id })) entry.lastTypingSent = now;
  }

  function onCannedPick() {
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

  function onNote(event) {
    event.preventDefault();
    const entry = openEntry();
    if (!entry || !requireText(ui.noteInput, 'the note')) return;
    act(entry, { type: 'note', handoff_id: entry.view.id, text: ui.noteInput.value });
  }

  function onTransfer(event) {
    event.preventDefault();
    const entry = openEntry();
    if (!entry || !requireText(ui.transferTeam, 'the team')
      || !requireText(ui.transferReason, 'a reason')) return;
    act(entry, { type: 'transfer', handoff_id: entry.view.id,
      to_team: ui.transferTeam.value.trim(), reason: ui.transferReason.value.trim() });
  }

  function onHandBack(event) {
    event.preventDefault();
    const entry = openEntry();
    if (!entry || !requireText(ui.handbackSummary, 'a summary')) return;
    act(entry, { type: 'hand_back', handoff_id: entry.view.id,
      summary: ui.handbackSummary.value.trim() });
  }

  function onResolve(event) {
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
  function onPanelToggle(event) {
    const panel = event.target;
    if (!panel.open) return;
    for (const other of ui.panels) if (other !== panel) other.open = false;
    if (panel === ui.resolvePanel) {
      const open = current();
      if (open) fillMisunderstood(open);
    }
    panel.querySelector('textarea, input:not([readonly]), select')?.focus();
  }

  function onPresence() {
    send({ type: 'presence', status: ui.presence.checked ? 'online' : 'away' });
    ui.presence.nextElementSibling.textContent = ui.presence.checked ? 'Online' : 'Away';
  }

  // --------------------------------------------------------------------------- start

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
})();
