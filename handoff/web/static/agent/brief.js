/* The brief panel (right column), with its sentiment chart, and the sentiment chips. */

import { el, svg, ui } from './dom.js';
import { clockTime, customerName, dueTime, humanize, score, sevChip, tierChip } from './format.js';

export function renderBrief(view) {
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

export function sentimentOf(brief, seq) {
  return (brief?.transcript ?? []).find((m) => m.seq === seq)?.sentiment ?? null;
}

export function sentimentChip(reading) {
  const negative = reading.scores?.negative;
  const parts = [reading.label];
  if (negative !== undefined) parts.push(`negative ${score(negative)}`);
  parts.push(`frustration ${score(reading.frustration)}`);
  return el('span', { class: `sentiment sentiment-${reading.label}`,
    testid: 'message-sentiment', 'data-label': reading.label }, parts.join(' · '));
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
