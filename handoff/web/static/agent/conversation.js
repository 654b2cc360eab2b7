/*
 * The middle column for the selection: title, buttons, banners, the chat log's frame, the
 * composer's state and the choices in the action forms.
 */

import { el, ui } from './dom.js';
import { customerName, sevChip, tierChip } from './format.js';
import { state } from './state.js';
import { slaNode } from './sla.js';
import { current } from './selection.js';
import { renderBrief } from './brief.js';

/**
 * The middle and right columns for the selection. Opening another conversation resets the
 * forms and draws its brief; a re-render of the same one (after a reconnect) keeps what the
 * agent was writing.
 */
export function renderSelection() {
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
export function renderConversation() {
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

export function renderTyping() {
  const open = current();
  const typing = Boolean(open?.entry?.customerTyping);
  ui.typing.hidden = !typing;
  ui.typing.textContent = typing ? `${customerName(open.view.brief)} is typing…` : '';
}

export function nearBottom() {
  const frame = ui.logFrame;
  return frame.scrollHeight - frame.scrollTop - frame.clientHeight < 80;
}

export function scrollToBottom() {
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

export function fillTeamOptions() {
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
export function fillMisunderstood(open) {
  const said = open.entry ? [...open.entry.messages.values()].map((m) => m.frame)
    : open.view.brief?.transcript ?? [];
  const options = said.filter((m) => m.sender === 'customer').sort((a, b) => a.seq - b.seq)
    .map((m) => el('option', { value: m.seq }, `#${m.seq}: ${m.text.slice(0, 80)}`));
  ui.resolveMisunderstood.replaceChildren(el('option', { value: '' }, 'None'), ...options);
}
