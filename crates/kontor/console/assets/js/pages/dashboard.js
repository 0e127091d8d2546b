// The dashboard: totals, orders and errors over time, and each flow's state. It refreshes
// every five seconds in place: the same elements get new numbers.

import * as api from '../api.js';
import { activityChart } from '../chart.js';
import { ago, fill, h, svg, table } from '../dom.js';

export function render(ctx, main) {
  const hours = Number(ctx.query.get('hours')) || 24;
  const value = (id) => h('div', { class: 'value', id }, '–');
  const cards = h('div', { class: 'cards' },
    h('div', { class: 'card' }, h('div', { class: 'label' }, `Orders in the ERP, last ${hours} h`), value('orders-total')),
    h('div', { class: 'card' }, h('div', { class: 'label' }, 'Waiting'), value('pending-total')),
    h('div', { class: 'card' }, h('div', { class: 'label' }, 'Running'), value('running-total')),
    h('div', { class: 'card', id: 'parked-card' }, h('div', { class: 'label' }, 'Parked for a person'), value('parked-total')),
    h('div', { class: 'card' }, h('div', { class: 'label' }, `Failures, last ${hours} h`), value('errors-total')));
  const chart = svg('svg', { class: 'chart', role: 'img', viewBox: '0 0 1000 220' });
  const range = h('select', {
    id: 'hours',
    onchange: (e) => ctx.navigate(`${ctx.url('dashboard')}?hours=${e.target.value}`),
  }, [6, 24, 72, 168].map((n) => h('option', { value: n, selected: n === hours }, n < 48 ? `${n} hours` : `${n / 24} days`)));
  const flows = h('div', { id: 'flows' }, table(['Flow', 'Kind', 'From → to', 'Schedule', 'Last success',
    { label: 'Done, last hour', num: true }, { label: 'Waiting', num: true }, { label: 'Parked', num: true }], [], { empty: 'Loading…' }));
  const updated = h('p', { class: 'muted', id: 'updated' }, ' ');
  fill(main,
    h('div', { class: 'row' }, h('h1', {}, `Dashboard — ${ctx.tenant}`)),
    cards,
    h('section', { class: 'panel', 'aria-labelledby': 'activity-title' },
      h('div', { class: 'row' }, h('h2', { id: 'activity-title' }, 'Orders and errors'),
        h('label', { class: 'row' }, h('span', { class: 'visually-hidden' }, 'Period'), range)),
      h('figure', { class: 'chart-figure' }, chart,
        h('figcaption', { class: 'legend' },
          h('span', {}, h('span', { class: 'swatch orders' }), 'orders that reached the ERP'),
          h('span', {}, h('span', { class: 'swatch errors' }), 'failed jobs')))),
    h('section', { class: 'panel', 'aria-labelledby': 'flows-title' }, h('h2', { id: 'flows-title' }, 'Flows'), flows),
    updated);

  async function refresh() {
    const data = await api.get(ctx.path(`/dashboard?hours=${hours}`));
    const sum = (key) => data.activity.reduce((n, s) => n + s[key], 0);
    document.getElementById('orders-total').textContent = sum('created');
    document.getElementById('errors-total').textContent = sum('errors');
    document.getElementById('pending-total').textContent = data.pending;
    document.getElementById('running-total').textContent = data.running;
    document.getElementById('parked-total').textContent = data.parked;
    document.getElementById('parked-card').classList.toggle('alert', data.parked > 0);
    activityChart(chart, data.activity, data.slot_seconds);
    fill(flows, table(['Flow', 'Kind', 'From → to', 'Schedule', 'Last success',
      { label: 'Done, last hour', num: true }, { label: 'Waiting', num: true }, { label: 'Parked', num: true }],
    data.flows.map((f) => h('tr', { dataset: { flow: f.name } },
      h('td', {}, h('a', { href: `${ctx.url('log')}?flow=${encodeURIComponent(f.name)}`, 'data-link': true }, f.name),
        f.enabled ? null : h('span', { class: 'muted' }, ' (off)')),
      h('td', {}, f.kind),
      h('td', {}, `${f.from} → ${f.to}`),
      h('td', { class: 'muted' }, f.schedule || 'on demand'),
      h('td', {}, ago(f.last_success_at)),
      h('td', { class: 'num' }, f.done_last_hour),
      h('td', { class: 'num' }, f.pending + f.running),
      h('td', { class: 'num' }, f.parked ? h('a', { class: 'bad', href: ctx.url('inbox'), 'data-link': true }, f.parked) : '0'))),
    { caption: 'Flows', empty: 'This tenant has no flows.' }));
    document.getElementById('updated').textContent = `Updated ${new Date(data.generated_at).toLocaleTimeString()}`;
  }
  refresh();
  const timer = setInterval(() => refresh().catch(() => {}), 5000);
  return () => clearInterval(timer);
}
