// The sync log: every job, newest first, filtered by state, flow and kind, and searched
// by any text it carries (an order number, a SKU, an error code).

import * as api from '../api.js';
import { ago, fill, h, stateBadge, table } from '../dom.js';

const STATES = ['', 'pending', 'running', 'parked', 'succeeded', 'skipped', 'superseded'];

export function render(ctx, main) {
  const q = ctx.query;
  const state = h('select', { name: 'state' }, STATES.map((s) => h('option', { value: s, selected: s === (q.get('state') || '') }, s || 'any')));
  const flow = h('select', { name: 'flow' }, h('option', { value: '' }, 'any'));
  const text = h('input', { name: 'q', type: 'search', value: q.get('q') || '', placeholder: 'order number, SKU, error…' });
  const kind = h('input', { name: 'kind', value: q.get('kind') || '', placeholder: 'e.g. orders.import', size: 14 });
  const rows = h('tbody');
  const more = h('button', { type: 'button', class: 'quiet', hidden: true }, 'Load more');
  const form = h('form', {
    class: 'filters',
    role: 'search',
    onsubmit: (event) => {
      event.preventDefault();
      const params = new URLSearchParams();
      for (const [name, el] of [['state', state], ['flow', flow], ['q', text], ['kind', kind]]) if (el.value) params.set(name, el.value);
      ctx.navigate(`${ctx.url('log')}?${params}`);
    },
  },
  h('label', {}, 'State', state), h('label', {}, 'Flow', flow), h('label', {}, 'Kind', kind),
  h('label', {}, 'Search', text), h('button', { type: 'submit' }, 'Show'));
  fill(main, h('h1', {}, `Sync log — ${ctx.tenant}`), form,
    h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Job', 'Changed', 'Flow', 'Kind', 'Record', 'State', { l: 'Tries', num: true }, 'Outcome or error']
        .map((t) => h('th', { scope: 'col', class: t.num ? 'num' : null }, t.l || t)))), rows)),
    more);

  api.get(ctx.path('/config')).then((config) => {
    for (const name of Object.keys(config.config.flows || {})) {
      flow.append(h('option', { value: name, selected: name === q.get('flow') }, name));
    }
  }).catch(() => {});

  let cursor = null;
  async function load() {
    const params = new URLSearchParams();
    for (const name of ['state', 'flow', 'q', 'kind']) if (q.get(name)) params.set(name, q.get(name));
    params.set('limit', '50');
    if (cursor) params.set('cursor', cursor);
    const page = await api.get(ctx.path(`/jobs?${params}`));
    if (!cursor && !page.items.length) {
      rows.append(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No jobs match.')));
    }
    for (const job of page.items) {
      const error = job.errors.at(-1);
      rows.append(h('tr', {},
        h('td', {}, h('a', { href: ctx.url('jobs', job.id), 'data-link': true }, `#${job.id}`)),
        h('td', {}, ago(job.updated_at)),
        h('td', {}, job.flow || ''),
        h('td', {}, job.kind),
        h('td', { class: 'mono' }, job.ordering_key || job.dedupe_key || ''),
        h('td', {}, stateBadge(job.state)),
        h('td', { class: 'num' }, job.attempts),
        h('td', { class: job.state === 'parked' ? 'bad' : null }, job.state === 'succeeded' ? (job.outcome || '') : (error ? `${error.code}: ${error.message}` : (job.outcome || '')))));
    }
    cursor = page.next_cursor || null;
    more.hidden = !page.more;
  }
  more.addEventListener('click', () => load());
  load();
}
