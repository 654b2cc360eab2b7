/*
 * Handoff chat widget: the customer's side of the handoff service, embedded with one tag.
 *
 *   <script src="https://chat.example.com/widget.js" defer></script>
 *
 * Plain DOM and one WebSocket; no framework, no build step, nothing loaded from anywhere else.
 * The widget lives in an open Shadow DOM under <div id="handoff-chat">, so the host page's CSS
 * cannot reach it (Playwright's CSS and test-id selectors pierce open shadow roots). The socket
 * is `ws(s)://<the host of this script's src>/ws/customer` and speaks the customer
 * protocol of docs/protocol.md. Everything from the server or the customer is rendered with
 * textContent: no HTML is ever parsed.
 *
 * Public API (window.HandoffChat):
 *   start({identityToken})  Begin or continue the chat. identityToken: the HS256 JWT the host
 *                           site's server signed for the signed-in customer; leave it out for an
 *                           anonymous customer. A conversation stored by an earlier page of the
 *                           same customer is resumed (a different customer's never is); a new one
 *                           is started when the customer first writes. Call again with a fresh
 *                           token after "sign-in expired".
 *   reset()                 Forget the stored conversation and unsent messages, clear the panel,
 *                           and wait for start() (for example when the signed-in customer changes).
 *   open() / close()        Show or hide the chat panel (the launcher button toggles it too).
 *
 * Script-tag attributes (optional):
 *   data-autostart          Call start() on load, anonymously...
 *   data-identity-token     ...or as the customer this token names (implies data-autostart).
 *
 * Stored in localStorage under "handoff-chat:v1:<service origin>", so a reload carries on: the
 * resume token, the verified customer id it belongs to, the messages not yet acknowledged (with
 * their client message ids) and whether the panel was open. A page always resumes from seq 0:
 * the server replays the whole transcript once, which is the transcript the page shows.
 *
 * Test hooks (data-testid):
 *   chat-widget         the host element (light DOM) whose shadow root holds the widget
 *   launcher            round button that opens/closes the panel (aria-expanded)
 *   panel               the chat panel; data-owner = none|bot|queued|agent|closed;
 *                       data-conversation-id once a conversation is open
 *   close-button        closes the panel
 *   connection-status   data-status = idle (nothing to connect for yet) | connecting |
 *                       connected | reconnecting | offline | stopped (will not retry)
 *   notice              role="alert": why the chat stopped (refused identity, origin not
 *                       allowed, ...); hidden otherwise
 *   agent-banner        shown while a person holds the chat; holds agent-name and agent-team
 *   agent-name          the agent's display name
 *   agent-team          the agent's team ("general team"), once the server has said it
 *   queue-status        while queued: data-position, data-wait-seconds ("" = nobody online)
 *   message-list        role="log", aria-live="polite": every message, in seq order
 *   message             one message: data-author = customer|bot|agent|system, data-seq (empty
 *                       while an own message is unsent), data-client-message-id (own messages)
 *   message-text        the text of a message, exactly as sent (never parsed as HTML)
 *   delivery-state      on own messages: data-state = sending (no ack yet) | sent (stored) |
 *                       read (the agent's read receipt; receipts are not stored, so a
 *                       reloaded page shows "sent" until the next one)
 *                       There is no "read" state: the protocol sends the customer no read
 *                       receipts (the customer's `read` frames go to the agent only).
 *   conversation-note   a divider the widget adds when a conversation ended or was not found
 *   typing-indicator    "<agent> is typing…" (hidden when nobody types)
 *   message-input       the text area (Enter sends, Shift+Enter adds a line)
 *   send-button         sends the message
 */
(() => {
  'use strict';

  if (window.HandoffChat) return; // included twice: the first copy owns the page

  // ------------------------------------------------------------------------ configuration

  const script =
    document.currentScript || document.querySelector('script[src$="widget.js"]');
  const SERVICE = new URL(script.src, location.href);
  const SOCKET_SCHEME = SERVICE.protocol === 'https:' ? 'wss:' : 'ws:';
  const SOCKET_URL = `${SOCKET_SCHEME}//${SERVICE.host}/ws/customer`;
  const STORAGE_KEY = `handoff-chat:v1:${SERVICE.origin}`;
  const CROSS_ORIGIN = SERVICE.origin !== location.origin;

  const PROTOCOL_VERSION = 1;
  const MAX_TEXT_CHARS = 2000;
  const ACK_TIMEOUT_MS = 10000; // docs/protocol.md: resend after 10 s without an ack
  const NOT_STORED_RETRY_MS = 3000;
  const PING_EVERY_MS = 25000; // proxies drop connections that are quiet for long
  const PONG_TIMEOUT_MS = 10000;
  const BACKOFF_FIRST_MS = 500;
  const BACKOFF_MAX_MS = 30000;
  const TYPING_SHOWN_MS = 6000;
  const TYPING_SEND_EVERY_MS = 3000;
  const READ_RECEIPT_DELAY_MS = 300; // one receipt for a burst (a replay), not one per message
  const REFUSALS_BEFORE_PROBE = 2;

  // ------------------------------------------------------------------------ storage

  const storage = {
    load() {
      try {
        return JSON.parse(localStorage.getItem(STORAGE_KEY)) || {};
      } catch {
        return {}; // storage disabled or corrupt: behave as a first visit
      }
    },
    save(value) {
      try {
        localStorage.setItem(STORAGE_KEY, JSON.stringify(value));
      } catch {
        // Storage disabled or full: the chat still works, it just won't survive a reload.
      }
    },
  };

  // ------------------------------------------------------------------------ state

  const stored = storage.load();

  /** What survives a reload, plus the page's own view of the conversation. */
  const session = {
    resumeToken: stored.resumeToken || null,
    customerId: stored.customerId ?? null, // whose conversation the resume token opens
    pending: new Map((stored.pending || []).map((m) => [m.id, m])), // id -> {id, text}
    panelOpen: Boolean(stored.panelOpen),
    identityToken: null, // memory only: the host page hands a fresh one to every start()
    lastSeq: 0, // highest seq received on this page; a new page replays from 0
    readSent: 0,
    owner: 'none',
  };

  const link = {
    socket: null,
    ready: false, // the opening frame was answered (started/resumed)
    started: false, // start() was called and reset() was not called since
    stopped: false, // a refusal that retrying cannot fix
    attempts: 0, // failed connections since the last good opening, for the back-off
    refusedBeforeOpen: 0,
    originConfirmed: false, // a socket of this page opened once, so the origin is allowed
    reconnectTimer: null,
    pingTimer: null,
    pongTimer: null,
    readTimer: null,
    readUpTo: 0, // the agent's latest read receipt: own messages up to this seq are read
    retryTimer: null, // resends what the service refused for now (not_stored, rate_limited)
    ackTimers: new Map(), // client message id -> timeout
    typingSentAt: 0,
  };

  function persist() {
    storage.save({
      resumeToken: session.resumeToken,
      customerId: session.customerId,
      pending: [...session.pending.values()],
      panelOpen: session.panelOpen,
    });
  }

  // ------------------------------------------------------------------------ DOM helpers

  /** An element with attributes and children; strings become text nodes, never HTML. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === false || value == null) continue;
      if (name === 'class') node.className = value;
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    node.append(...children);
    return node;
  }

  function svg(pathData) {
    const ns = 'http://www.w3.org/2000/svg';
    const icon = document.createElementNS(ns, 'svg');
    icon.setAttribute('viewBox', '0 0 24 24');
    icon.setAttribute('aria-hidden', 'true');
    icon.setAttribute('focusable', 'false');
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', pathData);
    icon.append(path);
    return icon;
  }

  const ICON_CHAT =
    'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z';
  const ICON_CLOSE = 'M6 6l12 12M18 6L6 18';
  const ICON_SEND = 'M3 20l18-8L3 4v6l12 2-12 2z';

  // ------------------------------------------------------------------------ styles

  const CSS = `
    :host { all: initial; }
    * { box-sizing: border-box; }
    [hidden] { display: none !important; }
    .hw-root {
      --hw-ink: #1f2933; --hw-muted: #616e7c; --hw-line: #e4e7eb; --hw-bg: #ffffff;
      --hw-soft: #f5f7fa; --hw-accent: #0b3d6e; --hw-accent-ink: #ffffff;
      --hw-agent: #e8f5ee; --hw-agent-line: #2f8a5b; --hw-focus: #2563eb; --hw-warn: #b42318;
      font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
        sans-serif;
      color: var(--hw-ink);
    }
    button, textarea { font: inherit; color: inherit; }
    :focus-visible { outline: 3px solid var(--hw-focus); outline-offset: 2px; }
    .hw-launcher {
      position: fixed; right: 24px; bottom: 24px; z-index: 2147483000;
      width: 58px; height: 58px; border-radius: 50%; border: 0; cursor: pointer;
      background: var(--hw-accent); color: var(--hw-accent-ink);
      box-shadow: 0 6px 18px rgba(15, 23, 42, .28); display: grid; place-items: center;
    }
    .hw-launcher svg { width: 26px; height: 26px; fill: currentColor; }
    .hw-launcher[aria-expanded="true"] svg { fill: none; stroke: currentColor; stroke-width: 2.4;
      stroke-linecap: round; }
    .hw-panel {
      position: fixed; right: 24px; bottom: 96px; z-index: 2147483000;
      width: min(380px, calc(100vw - 32px)); height: min(600px, calc(100vh - 128px));
      display: flex; flex-direction: column; overflow: hidden;
      background: var(--hw-bg); border: 1px solid var(--hw-line); border-radius: 14px;
      box-shadow: 0 18px 48px rgba(15, 23, 42, .22);
    }
    .hw-header { display: flex; align-items: flex-start; gap: 12px; padding: 14px 16px;
      background: var(--hw-accent); color: var(--hw-accent-ink); }
    .hw-header h2 { margin: 0; font-size: 16px; font-weight: 600; }
    .hw-heading { flex: 1; min-width: 0; }
    .hw-subtitle { margin: 2px 0 0; font-size: 12.5px; opacity: .85; }
    .hw-status { display: inline-flex; align-items: center; gap: 6px; margin-top: 6px;
      font-size: 12px; opacity: .92; }
    .hw-status::before { content: ""; width: 8px; height: 8px; border-radius: 50%;
      background: #9aa5b1; }
    .hw-status[data-status="connected"]::before { background: #3ebd7a; }
    .hw-status[data-status="connecting"]::before,
    .hw-status[data-status="reconnecting"]::before { background: #f0b429; }
    .hw-status[data-status="offline"]::before,
    .hw-status[data-status="stopped"]::before { background: #ef4e4e; }
    .hw-icon-button { border: 0; background: transparent; color: inherit; cursor: pointer;
      width: 32px; height: 32px; border-radius: 8px; display: grid; place-items: center; }
    .hw-icon-button:hover { background: rgba(255, 255, 255, .14); }
    .hw-icon-button svg { width: 18px; height: 18px; fill: none; stroke: currentColor;
      stroke-width: 2.4; stroke-linecap: round; }
    .hw-notice { margin: 0; padding: 10px 16px; background: #fef3f2; color: var(--hw-warn);
      border-bottom: 1px solid #fecdca; font-size: 13px; }
    .hw-agent { display: flex; align-items: center; gap: 10px; padding: 10px 16px;
      border-bottom: 1px solid var(--hw-line); background: var(--hw-agent); }
    .hw-avatar { width: 34px; height: 34px; border-radius: 50%; flex: none;
      display: grid; place-items: center; font-weight: 600; font-size: 13px;
      background: var(--hw-agent-line); color: #fff; }
    .hw-agent-name { display: block; font-weight: 600; }
    .hw-agent-team { display: block; font-size: 12px; color: var(--hw-muted); }
    .hw-queue { padding: 9px 16px; font-size: 13px; background: #fffbea; color: #7c5e10;
      border-bottom: 1px solid #fce588; }
    .hw-log { flex: 1; overflow-y: auto; padding: 16px; background: var(--hw-soft);
      display: flex; flex-direction: column; gap: 10px; }
    .hw-empty { margin: auto 8px; text-align: center; color: var(--hw-muted); font-size: 13px; }
    .hw-conversation { display: flex; flex-direction: column; gap: 10px; }
    .hw-msg { max-width: 82%; display: flex; flex-direction: column; gap: 3px; }
    .hw-msg-author { font-size: 11.5px; color: var(--hw-muted); padding: 0 4px; }
    .hw-bubble { padding: 9px 12px; border-radius: 14px; white-space: pre-wrap;
      overflow-wrap: anywhere; }
    .hw-msg-footer { font-size: 11px; color: var(--hw-muted); padding: 0 4px; display: flex;
      gap: 6px; }
    .hw-msg[data-author="customer"] { align-self: flex-end; align-items: flex-end; }
    .hw-msg[data-author="customer"] .hw-bubble { background: var(--hw-accent);
      color: var(--hw-accent-ink); border-bottom-right-radius: 4px; }
    .hw-msg[data-author="bot"] { align-self: flex-start; }
    .hw-msg[data-author="bot"] .hw-bubble { background: var(--hw-bg);
      border: 1px solid var(--hw-line); border-bottom-left-radius: 4px; }
    .hw-msg[data-author="agent"] { align-self: flex-start; }
    .hw-msg[data-author="agent"] .hw-bubble { background: var(--hw-agent);
      border-left: 3px solid var(--hw-agent-line); border-bottom-left-radius: 4px; }
    .hw-msg[data-author="system"] { align-self: center; max-width: 92%; text-align: center; }
    .hw-msg[data-author="system"] .hw-bubble { padding: 2px 8px; font-size: 12.5px;
      color: var(--hw-muted); }
    .hw-delivery[data-state="sending"] { font-style: italic; }
    .hw-divider { align-self: stretch; text-align: center; font-size: 12px; color: var(--hw-muted);
      border-top: 1px dashed #cbd2d9; padding-top: 8px; margin: 4px 0; }
    .hw-typing { padding: 4px 18px 6px; font-size: 12px; color: var(--hw-muted);
      background: var(--hw-soft); }
    .hw-form { display: flex; align-items: flex-end; gap: 8px; padding: 10px 12px;
      border-top: 1px solid var(--hw-line); background: var(--hw-bg); }
    .hw-input { flex: 1; resize: none; max-height: 120px; min-height: 40px; padding: 9px 11px;
      border: 1px solid #cbd2d9; border-radius: 10px; background: var(--hw-bg); }
    .hw-input:disabled { background: var(--hw-soft); color: var(--hw-muted); }
    .hw-send { height: 40px; padding: 0 14px; border: 0; border-radius: 10px; cursor: pointer;
      background: var(--hw-accent); color: var(--hw-accent-ink); display: inline-flex;
      align-items: center; gap: 6px; font-weight: 600; }
    .hw-send svg { width: 16px; height: 16px; fill: currentColor; }
    .hw-send:disabled { opacity: .5; cursor: not-allowed; }
    @media (prefers-reduced-motion: no-preference) {
      .hw-panel { animation: hw-rise .16s ease-out; }
      @keyframes hw-rise { from { opacity: 0; transform: translateY(8px); } }
    }
  `;

  // ------------------------------------------------------------------------ markup

  const ui = buildUi();

  function buildUi() {
    const launcher = el('button', {
      type: 'button', class: 'hw-launcher', 'data-testid': 'launcher',
      'aria-label': 'Open chat', 'aria-expanded': 'false', 'aria-controls': 'hw-panel',
    }, svg(ICON_CHAT));

    const status = el('span', {
      class: 'hw-status', 'data-testid': 'connection-status', role: 'status',
    });
    const subtitle = el('p', { class: 'hw-subtitle' });
    const closeButton = el('button', {
      type: 'button', class: 'hw-icon-button', 'data-testid': 'close-button',
      'aria-label': 'Close chat',
    }, svg(ICON_CLOSE));
    const header = el('header', { class: 'hw-header' },
      el('div', { class: 'hw-heading' },
        el('h2', { id: 'hw-title' }, 'Chat with Northwind'), subtitle, status),
      closeButton);

    const notice = el('p', {
      class: 'hw-notice', role: 'alert', 'data-testid': 'notice', hidden: true,
    });

    const avatar = el('span', { class: 'hw-avatar', 'aria-hidden': 'true' });
    const agentName = el('span', { class: 'hw-agent-name', 'data-testid': 'agent-name' });
    const agentTeam = el('span', { class: 'hw-agent-team', 'data-testid': 'agent-team' });
    const agentBanner = el('div', {
      class: 'hw-agent', 'data-testid': 'agent-banner', hidden: true,
    }, avatar, el('div', {}, agentName, agentTeam));

    const queue = el('div', {
      class: 'hw-queue', 'data-testid': 'queue-status', role: 'status', hidden: true,
    });

    const empty = el('p', { class: 'hw-empty' },
      'Ask us anything about your account, cards or payments. Our assistant answers ' +
      'straight away, and you can ask for a person at any time.');
    const log = el('div', {
      class: 'hw-log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation',
      'data-testid': 'message-list', tabindex: '0',
    }, empty);

    const typing = el('div', {
      class: 'hw-typing', 'data-testid': 'typing-indicator', hidden: true,
    });

    const input = el('textarea', {
      class: 'hw-input', rows: '1', maxlength: String(MAX_TEXT_CHARS),
      'aria-label': 'Message', 'data-testid': 'message-input', autocomplete: 'off',
    });
    const send = el('button', {
      type: 'submit', class: 'hw-send', 'data-testid': 'send-button', 'aria-label': 'Send message',
    }, svg(ICON_SEND), 'Send');
    const form = el('form', { class: 'hw-form' }, input, send);

    const panel = el('section', {
      id: 'hw-panel', class: 'hw-panel', role: 'dialog', 'aria-modal': 'false',
      'aria-labelledby': 'hw-title', 'data-testid': 'panel', 'data-owner': 'none', hidden: true,
    }, header, notice, agentBanner, queue, log, typing, form);

    return {
      launcher, panel, status, subtitle, closeButton, notice, agentBanner, avatar, agentName,
      agentTeam, queue, log, empty, typing, input, send, form,
      conversation: null, // the section the current conversation's messages go into
      bySeq: new Map(), // seq -> element, for the current conversation (dedupe)
      own: new Map(), // client message id -> element of the customer's own messages
      typingTimer: null,
    };
  }

  /**
   * The widget's CSS in its shadow root. A constructed stylesheet is not an inline style, so
   * a host page whose Content-Security-Policy has no style-src 'unsafe-inline' (the service's
   * own demo page among them) still styles the widget; browsers without constructable
   * stylesheets get a <style> element.
   */
  function adoptStyles(root) {
    if ('adoptedStyleSheets' in root && 'replaceSync' in CSSStyleSheet.prototype) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
    } else {
      root.prepend(el('style', {}, CSS));
    }
  }

  function mount() {
    const host = el('div', { id: 'handoff-chat', 'data-testid': 'chat-widget' });
    const root = host.attachShadow({ mode: 'open' });
    root.append(el('div', { class: 'hw-root' }, ui.launcher, ui.panel));
    adoptStyles(root);
    document.body.append(host);
  }

  // ------------------------------------------------------------------------ panel

  function openPanel({ focus = true } = {}) {
    ui.panel.hidden = false;
    ui.launcher.setAttribute('aria-expanded', 'true');
    ui.launcher.setAttribute('aria-label', 'Close chat');
    ui.launcher.replaceChildren(svg(ICON_CLOSE));
    session.panelOpen = true;
    persist();
    scrollToEnd();
    if (focus) ui.input.focus();
    scheduleReadReceipt();
  }

  function closePanel({ focusLauncher = false } = {}) {
    ui.panel.hidden = true;
    ui.launcher.setAttribute('aria-expanded', 'false');
    ui.launcher.setAttribute('aria-label', 'Open chat');
    ui.launcher.replaceChildren(svg(ICON_CHAT));
    session.panelOpen = false;
    persist();
    if (focusLauncher) ui.launcher.focus();
  }

  function scrollToEnd() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function setStatus(status, label) {
    ui.status.dataset.status = status;
    ui.status.textContent = label;
  }

  function showNotice(text) {
    ui.notice.textContent = text;
    ui.notice.hidden = false;
  }

  function updateInput() {
    const usable = link.started && !link.stopped;
    ui.input.disabled = !usable;
    ui.send.disabled = !usable;
    ui.input.placeholder = usable ? 'Type your message…' : 'Chat is not available right now';
  }

  // ------------------------------------------------------------------------ who holds the chat

  const SUBTITLES = {
    none: 'We usually answer in seconds',
    bot: 'Our assistant is answering',
    queued: 'Waiting for a colleague',
    agent: 'You are chatting with our team',
    closed: 'This conversation has ended',
  };

  function setOwner(owner) {
    session.owner = owner;
    ui.panel.dataset.owner = owner;
    ui.subtitle.textContent = SUBTITLES[owner] || SUBTITLES.none;
    if (owner !== 'queued') ui.queue.hidden = true;
    if (owner !== 'agent') {
      ui.agentBanner.hidden = true;
      hideTyping();
    }
  }

  /** The agent banner; `team` stays as it was when only the name is known (state_changed). */
  function showAgent(name, team) {
    if (!name) return;
    const sameAgent = ui.agentName.textContent === name;
    ui.agentName.textContent = name;
    ui.avatar.textContent = initials(name);
    if (team) ui.agentTeam.textContent = `${team} team`;
    else if (!sameAgent) ui.agentTeam.textContent = '';
    ui.agentBanner.hidden = session.owner !== 'agent';
  }

  function initials(name) {
    const parts = name.split(/\s+/).filter(Boolean).slice(0, 2);
    return parts.map((part) => part[0].toUpperCase()).join('');
  }

  function showQueue(position, waitSeconds) {
    ui.queue.dataset.position = String(position);
    ui.queue.dataset.waitSeconds = waitSeconds == null ? '' : String(waitSeconds);
    const place = `You're number ${position} in the queue`;
    if (waitSeconds == null) {
      ui.queue.textContent =
        `${place}. Nobody from the team is online right now; we'll reply as soon as someone is.`;
    } else {
      const minutes = Math.max(1, Math.round(waitSeconds / 60));
      const unit = minutes === 1 ? 'minute' : 'minutes';
      ui.queue.textContent = `${place} · about ${minutes} ${unit} to wait`;
    }
    ui.queue.hidden = false;
  }

  function showTyping(name) {
    if (session.owner !== 'agent') return;
    ui.typing.textContent = `${name || 'Your agent'} is typing…`;
    ui.typing.hidden = false;
    clearTimeout(ui.typingTimer);
    ui.typingTimer = setTimeout(hideTyping, TYPING_SHOWN_MS);
  }

  function hideTyping() {
    clearTimeout(ui.typingTimer);
    ui.typing.hidden = true;
  }

  // ------------------------------------------------------------------------ the transcript

  function newConversationSection() {
    ui.conversation = el('div', { class: 'hw-conversation' });
    ui.log.append(ui.conversation);
    ui.bySeq = new Map();
    session.lastSeq = 0;
    session.readSent = 0;
  }

  function addDivider(text) {
    ui.log.append(el('p', { class: 'hw-divider', 'data-testid': 'conversation-note' }, text));
  }

  function authorLabel(frame) {
    if (frame.sender === 'bot') return 'Assistant';
    if (frame.sender !== 'agent') return null;
    const { agent_name: name, team } = frame.data || {};
    return [name || 'Agent', team && `${team} team`].filter(Boolean).join(' · ');
  }

  function timeLabel(iso) {
    const at = iso ? new Date(iso) : new Date();
    return el('time', { datetime: at.toISOString() },
      at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  }

  function messageNode(author, text, { label = null, at = null } = {}) {
    const node = el('div', { class: 'hw-msg', 'data-testid': 'message', 'data-author': author });
    if (label) node.append(el('span', { class: 'hw-msg-author' }, label));
    node.append(el('div', { class: 'hw-bubble', 'data-testid': 'message-text' }, text));
    if (author !== 'system') node.append(el('div', { class: 'hw-msg-footer' }, timeLabel(at)));
    return node;
  }

  function ownMessageNode(id, text, at = null) {
    const node = messageNode('customer', text, { at });
    node.dataset.clientMessageId = id;
    node.lastChild.append(el('span', { class: 'hw-delivery', 'data-testid': 'delivery-state' }));
    ui.own.set(id, node);
    return node;
  }

  const DELIVERY_TEXT = { sending: 'Sending…', sent: 'Sent', read: 'Read' };

  function setDelivery(node, state) {
    const marker = node.querySelector('.hw-delivery');
    if (marker.dataset.state === 'read') return; // a late ack never undoes a read receipt
    marker.dataset.state = state;
    marker.textContent = DELIVERY_TEXT[state];
  }

  /** The agent has read up to ``seq``: own messages up to there show "Read". */
  function markRead(seq) {
    link.readUpTo = Math.max(link.readUpTo, seq);
    for (const node of ui.own.values()) {
      if (node.dataset.seq && Number(node.dataset.seq) <= link.readUpTo) setDelivery(node, 'read');
    }
  }

  /** Put a message at its seq's place: after every lower seq, before unsent messages. */
  function placeBySeq(node, seq) {
    node.dataset.seq = String(seq);
    let before = ui.conversation.lastElementChild;
    while (before && (!before.dataset.seq || Number(before.dataset.seq) > seq)) {
      before = before.previousElementSibling;
    }
    const next = before ? before.nextElementSibling : ui.conversation.firstChild;
    ui.conversation.insertBefore(node, next);
    ui.bySeq.set(seq, node);
    ui.empty.hidden = true;
  }

  function renderUnsent(message) {
    if (ui.own.has(message.id)) return;
    const node = ownMessageNode(message.id, message.text);
    node.dataset.seq = '';
    setDelivery(node, 'sending');
    ui.conversation.append(node);
    ui.empty.hidden = true;
  }

  function onTranscript(frame) {
    if (ui.bySeq.has(frame.seq)) return; // seen already: exactly once, whatever the socket did
    session.lastSeq = Math.max(session.lastSeq, frame.seq);
    if (frame.sender === 'customer') renderCustomer(frame);
    else if (frame.text) renderOther(frame);
    else ui.bySeq.set(frame.seq, null); // a bot payload without text: nothing to show
    if (frame.sender === 'system') onSystemEvent(frame.data || {});
    if (frame.sender === 'agent') {
      showAgent(frame.data?.agent_name, frame.data?.team);
      hideTyping();
    }
    scrollToEnd();
    scheduleReadReceipt();
  }

  function renderCustomer(frame) {
    const id = frame.client_message_id;
    const node = (id && ui.own.get(id))
      || ownMessageNode(id || `seq-${frame.seq}`, frame.text, frame.at); // from another tab
    placeBySeq(node, frame.seq);
    settle(id, frame.seq); // the echo means it is stored: no need to send it again
    setDelivery(node, 'sent');
  }

  function renderOther(frame) {
    const node = messageNode(frame.sender, frame.text, { label: authorLabel(frame), at: frame.at });
    placeBySeq(node, frame.seq);
  }

  function onSystemEvent(data) {
    if (data.event === 'state_changed') {
      setOwner(data.to);
      if (data.to === 'agent') showAgent(data.agent_name, null);
    } else if (data.event === 'agent_joined') {
      showAgent(data.agent_name, data.team);
    } else if (data.event === 'handoff_notice') {
      showQueue(data.position, data.wait_estimate_seconds);
    }
  }

  // ------------------------------------------------------------------------ sending

  function newMessageId() {
    // crypto.randomUUID needs a secure context; the host page may be plain http.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return `c-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  }

  function submit() {
    const text = ui.input.value.trim();
    if (!text || !link.started || link.stopped) return;
    const message = { id: newMessageId(), text: text.slice(0, MAX_TEXT_CHARS) };
    session.pending.set(message.id, message);
    persist();
    renderUnsent(message);
    scrollToEnd();
    ui.input.value = '';
    ui.input.style.height = '';
    if (link.ready) transmit(message);
    else connect();
  }

  function sendFrame(frame) {
    link.socket.send(JSON.stringify(frame));
  }

  /** Send (or resend) one message with its id, and resend it if no ack comes in time. */
  function transmit(message) {
    clearTimeout(link.ackTimers.get(message.id));
    sendFrame({ type: 'message', client_message_id: message.id, text: message.text });
    link.ackTimers.set(message.id, setTimeout(() => {
      if (link.ready && session.pending.has(message.id)) transmit(message);
    }, ACK_TIMEOUT_MS));
  }

  function flushPending() {
    for (const message of session.pending.values()) transmit(message);
  }

  /** A message is stored (ack or echo): stop resending it. */
  function settle(id, seq) {
    if (!id) return;
    clearTimeout(link.ackTimers.get(id));
    link.ackTimers.delete(id);
    if (session.pending.delete(id)) persist();
    const node = ui.own.get(id);
    if (node) {
      if (!node.dataset.seq) placeBySeq(node, seq);
      setDelivery(node, seq <= link.readUpTo ? 'read' : 'sent');
    }
  }

  function scheduleReadReceipt() {
    if (link.readTimer) return;
    link.readTimer = setTimeout(() => {
      link.readTimer = null;
      // Only the agent holding the chat hears receipts, and only what was on screen is read.
      const seen = !ui.panel.hidden && document.visibilityState === 'visible';
      if (!link.ready || !seen || session.owner !== 'agent') return;
      if (session.lastSeq <= session.readSent) return;
      session.readSent = session.lastSeq;
      sendFrame({ type: 'read', seq: session.lastSeq });
    }, READ_RECEIPT_DELAY_MS);
  }

  function onCustomerTyping() {
    const now = Date.now();
    if (!link.ready || session.owner !== 'agent') return; // dropped by the server otherwise
    if (now - link.typingSentAt < TYPING_SEND_EVERY_MS) return;
    link.typingSentAt = now;
    sendFrame({ type: 'typing' });
  }

  // ------------------------------------------------------------------------ the socket

  /** Whether there is a conversation to resume or a message to start one with. */
  function wanted() {
    return link.started && !link.stopped && Boolean(session.resumeToken || session.pending.size);
  }

  function connect() {
    if (link.socket || link.reconnectTimer) return; // already on its way
    if (!wanted()) {
      if (link.started && !link.stopped) setStatus('idle', 'Ready');
      return;
    }
    if (!navigator.onLine) {
      setStatus('offline', "You're offline. Messages will be sent when you're back online.");
      return; // the 'online' event reconnects
    }
    setStatus('connecting', 'Connecting…');
    const socket = new WebSocket(SOCKET_URL);
    let opened = false;
    link.socket = socket;
    socket.onopen = () => {
      opened = true;
      link.originConfirmed = true;
      link.refusedBeforeOpen = 0;
      sendFrame(openingFrame());
    };
    socket.onmessage = (event) => onFrame(event.data);
    socket.onclose = (event) => onClose(event, opened);
  }

  function openingFrame() {
    if (session.resumeToken) {
      return {
        type: 'resume', v: PROTOCOL_VERSION,
        resume_token: session.resumeToken, last_seq: session.lastSeq,
      };
    }
    const frame = { type: 'start', v: PROTOCOL_VERSION };
    if (session.identityToken) frame.identity_token = session.identityToken;
    return frame;
  }

  /** Stop using the socket now, without waiting for it to finish closing. */
  function abandonSocket() {
    const socket = link.socket;
    stopSocketTimers();
    link.socket = null;
    link.ready = false;
    if (!socket) return;
    socket.onmessage = null;
    socket.onclose = null;
    if (socket.readyState === WebSocket.CONNECTING) {
      // Closing a socket that is still connecting logs a browser error; close it once open.
      socket.onopen = () => socket.close(1000);
    } else {
      socket.onopen = null;
      socket.close(1000);
    }
  }

  function stopSocketTimers() {
    clearInterval(link.pingTimer);
    clearTimeout(link.pongTimer);
    clearTimeout(link.retryTimer);
    for (const timer of link.ackTimers.values()) clearTimeout(timer);
    link.ackTimers.clear();
  }

  function scheduleReconnect() {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** link.attempts);
    // Equal jitter: never at once, and a crowd of widgets spreads out after an outage.
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
    link.attempts += 1;
    setStatus('reconnecting', 'Connection lost. Reconnecting…');
    link.reconnectTimer = setTimeout(() => {
      link.reconnectTimer = null;
      connect();
    }, delay);
  }

  function onOpened(frame) {
    link.ready = true;
    link.attempts = 0;
    // The conversation's reference, for support staff (and tests) to find it by.
    ui.panel.dataset.conversationId = frame.conversation_id;
    setStatus('connected', 'Connected');
    setOwner(frame.state);
    startHeartbeat();
    flushPending(); // after the opening: stored ones come back as duplicate acks
    scheduleReadReceipt();
  }

  function onFrame(raw) {
    clearTimeout(link.pongTimer); // any frame shows the connection is alive
    const frame = JSON.parse(raw);
    switch (frame.type) {
      case 'started':
        session.resumeToken = frame.resume_token;
        session.customerId = frame.customer.id;
        persist();
        onOpened(frame);
        break;
      case 'resumed':
        onOpened(frame);
        break;
      case 'message':
        onTranscript(frame);
        break;
      case 'ack':
        settle(frame.client_message_id, frame.seq);
        break;
      case 'queue':
        showQueue(frame.position, frame.wait_estimate_seconds);
        break;
      case 'typing':
        showTyping(frame.name);
        break;
      case 'read':
        markRead(frame.seq);
        break;
      case 'error':
        onErrorFrame(frame);
        break;
      default:
        break; // pong, or a frame type newer than this widget: nothing to show
    }
  }

  function onErrorFrame(frame) {
    if (frame.code === 'not_stored') {
      // The service's database is down: the same ids again after a pause.
      clearTimeout(link.retryTimer);
      link.retryTimer = setTimeout(flushPending, NOT_STORED_RETRY_MS);
    } else if (frame.code === 'rate_limited') {
      // Sent too fast: nothing was done with it. Once the service allows, send it again: the
      // opening if that was refused, else every message still without an ack (same ids).
      const again = link.ready ? flushPending : () => sendFrame(openingFrame());
      clearTimeout(link.retryTimer);
      link.retryTimer = setTimeout(again, Math.max(1, frame.retry_after_seconds) * 1000);
    } else {
      console.warn('Handoff chat: the service refused a frame:', frame.message);
    }
  }

  function startHeartbeat() {
    clearInterval(link.pingTimer);
    link.pingTimer = setInterval(() => {
      sendFrame({ type: 'ping' });
      // A connection that died silently answers nothing: give up on it and resume.
      link.pongTimer = setTimeout(() => {
        abandonSocket();
        scheduleReconnect();
      }, PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  // ------------------------------------------------------------------------ close codes

  const STOPPING_CODES = {
    1008: originRefusedText,
    4400: () => 'The chat ran into a technical problem. Please reload the page.',
    4403: () => "We couldn't find your customer record, so chat isn't available. "
      + 'Please call us instead.',
    4426: () => 'This chat is out of date. Please reload the page.',
  };

  function onClose(event, opened) {
    link.socket = null;
    link.ready = false;
    stopSocketTimers();
    const code = event.code;
    if (code === 4401) return stop(identityRefusedText(event.reason));
    if (STOPPING_CODES[code]) return stop(STOPPING_CODES[code]());
    if (code === 4404 || code === 4410) return conversationGone(code === 4410);
    if (!opened && CROSS_ORIGIN && !link.originConfirmed) return onRefusedBeforeOpen();
    scheduleReconnect();
  }

  function identityRefusedText(reason) {
    if ((reason || '').startsWith('expired')) {
      return 'Your secure sign-in for chat has expired. Please reload the page to continue.';
    }
    return "We couldn't verify your sign-in, so chat isn't available right now.";
  }

  function originRefusedText() {
    return "Chat isn't available on this website: the chat service does not accept "
      + `connections from ${location.origin}.`;
  }

  /**
   * Browsers hide why a handshake failed (a refused origin reads as 1006, like a network
   * drop). If the service answers plain requests yet refuses this page's sockets again and
   * again, the origin is not allowed, and retrying would only loop.
   */
  async function onRefusedBeforeOpen() {
    link.refusedBeforeOpen += 1;
    if (link.refusedBeforeOpen < REFUSALS_BEFORE_PROBE) {
      scheduleReconnect();
      return;
    }
    let reachable = false;
    try {
      await fetch(SERVICE.href, { mode: 'no-cors', cache: 'no-store' });
      reachable = true;
    } catch {
      reachable = false; // the service is down or the network is: a drop like any other
    }
    if (!link.started || link.stopped || link.socket || link.reconnectTimer) return; // moved on
    if (reachable) stop(originRefusedText());
    else scheduleReconnect();
  }

  function stop(text) {
    link.stopped = true;
    abandonSocket();
    clearTimeout(link.reconnectTimer);
    link.reconnectTimer = null;
    setStatus('stopped', 'Chat unavailable');
    showNotice(text);
    updateInput();
  }

  /** The resume token opens nothing any more: forget it; the next message starts afresh. */
  function conversationGone(closed) {
    session.resumeToken = null;
    session.customerId = null;
    persist();
    setOwner(closed ? 'closed' : 'none');
    addDivider(closed
      ? 'This conversation has ended. Write a message to start a new one.'
      : "We couldn't find your earlier conversation. Write a message to start a new one.");
    const unsent = [...session.pending.values()].map((m) => ui.own.get(m.id)).filter(Boolean);
    newConversationSection();
    ui.conversation.append(...unsent); // what is waiting to be sent goes to the new one
    connect();
  }

  // ------------------------------------------------------------------------ connectivity

  function onOffline() {
    // The socket is dead even if the browser has not noticed yet; retrying now only fails.
    abandonSocket();
    clearTimeout(link.reconnectTimer);
    link.reconnectTimer = null;
    if (link.started && !link.stopped) {
      setStatus('offline', "You're offline. Messages will be sent when you're back online.");
    }
  }

  function onOnline() {
    link.attempts = 0;
    connect();
  }

  // ------------------------------------------------------------------------ public API

  /** Whose conversation a token opens: its unverified `sub` (the server verifies it). */
  function tokenSubject(token) {
    if (!token) return null;
    try {
      const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(atob(payload)).sub ?? undefined;
    } catch {
      return undefined; // malformed: matches nobody, and the server will refuse it
    }
  }

  function start(options = {}) {
    const identityToken = options.identityToken || null;
    if (session.resumeToken && session.customerId !== tokenSubject(identityToken)) {
      reset(); // someone else's conversation is never resumed
    }
    session.identityToken = identityToken;
    link.started = true;
    link.stopped = false;
    ui.notice.hidden = true;
    updateInput();
    for (const message of session.pending.values()) renderUnsent(message);
    connect();
  }

  function reset() {
    abandonSocket();
    clearTimeout(link.reconnectTimer);
    link.reconnectTimer = null;
    link.started = false;
    link.stopped = false;
    link.attempts = 0;
    session.resumeToken = null;
    session.customerId = null;
    session.pending.clear();
    persist();
    ui.own.clear();
    ui.log.replaceChildren(ui.empty);
    ui.empty.hidden = false;
    ui.notice.hidden = true;
    delete ui.panel.dataset.conversationId;
    link.readUpTo = 0;
    setOwner('none');
    newConversationSection();
    updateInput();
    setStatus('idle', 'Not connected');
  }

  // ------------------------------------------------------------------------ wiring

  function wire() {
    ui.launcher.addEventListener('click', () => (ui.panel.hidden ? openPanel() : closePanel()));
    ui.closeButton.addEventListener('click', () => closePanel({ focusLauncher: true }));
    ui.panel.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') closePanel({ focusLauncher: true });
    });
    ui.form.addEventListener('submit', (event) => {
      event.preventDefault();
      submit();
      ui.input.focus();
    });
    ui.input.addEventListener('keydown', (event) => {
      // Enter sends; Shift+Enter is a new line; Enter while an IME composes is not a send.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        ui.form.requestSubmit();
      }
    });
    ui.input.addEventListener('input', () => {
      ui.input.style.height = 'auto';
      ui.input.style.height = `${ui.input.scrollHeight + 2}px`;
      onCustomerTyping();
    });
    document.addEventListener('visibilitychange', scheduleReadReceipt);
    window.addEventListener('offline', onOffline);
    window.addEventListener('online', onOnline);
  }

  function init() {
    mount();
    wire();
    if (session.panelOpen) openPanel({ focus: false });
    const token = script.dataset.identityToken;
    if (token || 'autostart' in script.dataset) start({ identityToken: token });
  }

  // The initial state, before the API can be called (a host may call it before the DOM is ready).
  setOwner('none');
  newConversationSection();
  updateInput();
  setStatus('idle', 'Not connected');

  window.HandoffChat = Object.freeze({
    start,
    reset,
    open: () => openPanel(),
    close: () => closePanel(),
  });

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
