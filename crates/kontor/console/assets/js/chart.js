// An activity chart in SVG: a bar per slot for orders that reached the ERP, a line for
// failed jobs. The drawing keeps one size (its viewBox) whatever the numbers, so a
// refresh redraws it in place.

import { svg } from './dom.js';

const W = 1000;
const H = 220;
const PAD = { left: 40, right: 8, top: 10, bottom: 24 };

function label(at, slotSeconds) {
  const d = new Date(at);
  const two = (n) => String(n).padStart(2, '0');
  return slotSeconds >= 86400 ? `${two(d.getUTCDate())}.${two(d.getUTCMonth() + 1)}` : `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`;
}

/**
 * Draws `slots` ([{at, created, errors}]) into the `<svg>` `el`; `errors: false` leaves
 * the line of failures out.
 */
export function activityChart(el, slots, slotSeconds, { errors: showErrors = true } = {}) {
  el.replaceChildren();
  el.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const top = Math.max(1, ...slots.map((s) => Math.max(s.created, s.errors)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const step = plotW / Math.max(1, slots.length);
  const y = (v) => PAD.top + plotH - (v / top) * plotH;
  el.append(svg('line', { class: 'axis', x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0) }));
  el.append(svg('text', { x: PAD.left - 4, y: y(top) + 4, 'text-anchor': 'end' }, String(top)));
  el.append(svg('text', { x: PAD.left - 4, y: y(0) + 4, 'text-anchor': 'end' }, '0'));
  slots.forEach((slot, i) => {
    const height = y(0) - y(slot.created);
    if (height > 0) {
      el.append(svg('rect', {
        class: 'bar', x: PAD.left + i * step + step * 0.15, width: Math.max(1, step * 0.7), y: y(slot.created), height,
      }, svg('title', {}, `${label(slot.at, slotSeconds)}: ${slot.created} orders, ${slot.errors} errors`)));
    }
    if (i % Math.ceil(slots.length / 6) === 0) {
      el.append(svg('text', { x: PAD.left + i * step, y: H - 6 }, label(slot.at, slotSeconds)));
    }
  });
  if (showErrors && slots.length) {
    const points = slots.map((s, i) => `${PAD.left + i * step + step / 2},${y(s.errors)}`).join(' ');
    el.append(svg('polyline', { class: 'line', points }));
    slots.forEach((s, i) => {
      if (s.errors > 0) el.append(svg('circle', { class: 'dot', cx: PAD.left + i * step + step / 2, cy: y(s.errors), r: 3 }));
    });
  }
  const orders = slots.reduce((n, s) => n + s.created, 0);
  const errors = slots.reduce((n, s) => n + s.errors, 0);
  el.setAttribute('aria-label', `${orders} orders reached the ERP and ${errors} jobs failed in the period shown`);
}
