// Sales per channel and day and per product, from the orders Kontor synced, with a
// chart and CSV downloads.

import * as api from '../api.js';
import { activityChart } from '../chart.js';
import { fill, h, svg, table } from '../dom.js';

function day(offset) {
  const d = new Date(Date.now() + offset * 86400000);
  return d.toISOString().slice(0, 10);
}

export function render(ctx, main) {
  const from = ctx.query.get('from') || day(-6);
  const to = ctx.query.get('to') || day(0);
  const fromInput = h('input', { type: 'date', name: 'from', value: from, required: true });
  const toInput = h('input', { type: 'date', name: 'to', value: to, required: true });
  const chart = svg('svg', { class: 'chart', role: 'img', viewBox: '0 0 1000 220' });
  const byDay = h('div');
  const byProduct = h('div');
  const totals = h('div', { class: 'cards' });
  const csv = (by) => `/api/v1${ctx.path(`/reports/sales?from=${from}&to=${to}&format=csv&by=${by}`)}`;
  fill(main, h('h1', {}, `Reports — ${ctx.tenant}`),
    h('form', {
      class: 'filters',
      onsubmit: (e) => { e.preventDefault(); ctx.navigate(`${ctx.url('reports')}?from=${fromInput.value}&to=${toInput.value}`); },
    }, h('label', {}, 'From', fromInput), h('label', {}, 'To', toInput), h('button', { type: 'submit' }, 'Show'),
    h('a', { class: 'button quiet', href: csv('day'), download: true }, 'CSV per day'),
    h('a', { class: 'button quiet', href: csv('product'), download: true }, 'CSV per product')),
    totals,
    h('section', { class: 'panel' }, h('h2', {}, 'Orders per day'), chart,
      h('p', { class: 'legend' }, h('span', {}, h('span', { class: 'swatch orders' }), 'orders'))),
    h('section', { class: 'panel' }, h('h2', {}, 'Per day and channel'), byDay),
    h('section', { class: 'panel' }, h('h2', {}, 'Per product'), byProduct));

  api.get(ctx.path(`/reports/sales?from=${from}&to=${to}`)).then((report) => {
    fill(totals, report.totals.length ? report.totals.map((t) => h('div', { class: 'card' },
      h('div', { class: 'label' }, `${t.channel}: ${t.orders} orders`), h('div', { class: 'value' }, `${t.gross} ${t.currency}`)))
      : h('div', { class: 'card' }, h('div', { class: 'label' }, 'Orders'), h('div', { class: 'value' }, '0')));
    const days = [];
    for (let d = new Date(`${from}T00:00:00Z`); d <= new Date(`${to}T00:00:00Z`); d = new Date(d.getTime() + 86400000)) {
      const iso = d.toISOString().slice(0, 10);
      days.push({ at: d.toISOString(), created: report.by_day.filter((r) => r.day === iso).reduce((n, r) => n + r.orders, 0), errors: 0 });
    }
    activityChart(chart, days, 86400, { errors: false });
    fill(byDay, table(['Day', 'Channel', 'Currency', { label: 'Orders', num: true }, { label: 'Units', num: true }, { label: 'Gross', num: true }, { label: 'Tax', num: true }],
      report.by_day.map((r) => h('tr', {}, h('td', {}, r.day), h('td', {}, r.channel), h('td', {}, r.currency),
        h('td', { class: 'num' }, r.orders), h('td', { class: 'num' }, r.units), h('td', { class: 'num' }, r.gross), h('td', { class: 'num' }, r.tax))),
      { empty: 'No orders in these days.' }));
    fill(byProduct, table(['SKU', 'Name', 'Currency', { label: 'Units', num: true }, { label: 'Gross', num: true }],
      report.by_product.map((r) => h('tr', {}, h('td', { class: 'mono' }, r.sku), h('td', {}, r.name), h('td', {}, r.currency),
        h('td', { class: 'num' }, r.units), h('td', { class: 'num' }, r.gross))),
      { empty: 'No products sold in these days.' }));
  });
}
