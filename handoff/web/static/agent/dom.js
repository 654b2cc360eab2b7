/*
 * The page: the console's fixed elements, found once, and `el` / `svg`, which build new ones.
 * Every piece of server or user text goes in as a text node, never as markup.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';
const byId = (id) => document.getElementById(id);
const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);

export const ui = {
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

/** An element with attributes and children; strings become text nodes, never markup. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attrs);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

export function svg(tag, attrs = {}, ...children) {
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
