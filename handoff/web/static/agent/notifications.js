/* Toasts in the notifications region, and the optional beep for urgent ones. */

import { el, ui } from './dom.js';
import { state } from './state.js';

const TOAST_MS = 8000;
const MAX_TOASTS = 5;

export function notify(text, { level = 'info', title = '', sound = false } = {}) {
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
export function onSoundToggle() {
  if (!ui.sound.checked) return;
  state.audio ??= new AudioContext();
  state.audio.resume();
  beep('info');
}
