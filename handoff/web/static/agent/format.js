/* Small helpers: times, durations, scores, names and the severity and tier chips. */

import { el } from './dom.js';

export function humanize(code) {
  return String(code).replaceAll('_', ' ');
}

// Python's isoformat carries microseconds; trimming to milliseconds keeps Date.parse exact.
export function parseTime(iso) {
  return Date.parse(String(iso).replace(/(\.\d{3})\d+/, '$1'));
}

export function clockTime(iso) {
  return new Date(parseTime(iso)).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function dueTime(iso) {
  const due = new Date(parseTime(iso));
  const sameDay = due.toDateString() === new Date().toDateString();
  return sameDay ? clockTime(iso)
    : due.toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' });
}

export function duration(ms) {
  const total = Math.floor(Math.abs(ms) / 1000);
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (days) return `${days}d ${hours}h`;
  if (hours) return `${hours}h ${String(minutes).padStart(2, '0')}m`;
  return `${minutes}:${String(seconds).padStart(2, '0')}`;
}

export function score(value) {
  return Number(value).toFixed(2);
}

export function customerName(brief) {
  return brief?.customer?.name || brief?.customer?.id || 'Anonymous customer';
}

export function lastCustomerText(brief) {
  const said = (brief?.transcript ?? []).filter((m) => m.sender === 'customer');
  return said.length ? said[said.length - 1].text : '';
}

export function sevLabel(severity) {
  return /^sev\d$/.test(severity) ? `Sev ${severity.slice(3)}` : String(severity);
}

export function sevChip(severity, testid) {
  return el('span', { class: `chip sev sev-${severity}`, testid }, sevLabel(severity));
}

export function tierChip(tier, testid) {
  return el('span', { class: `chip tier tier-${tier}`, testid, 'data-tier': tier }, tier);
}
