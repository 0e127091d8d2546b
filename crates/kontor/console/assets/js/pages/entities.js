// Records: find one by what people know it by (an order number, a SKU, an e-mail), then
// see it across every system — Kontor's copy, its id in each, and the jobs that touched it.

import * as api from '../api.js';
import { ago, fill, h, json, stateBadge, table } from '../dom.js';

export function render(ctx, main) {
  if (ctx.rest.length >= 2) return record(ctx, main, ctx.rest[0], ctx.rest.slice(1).join('/'));
  const q = ctx.query.get('q') || '';
  const input = h('input', { name: 'q', type: 'search', value: q, required: true, placeholder: 'order number, SKU, e-mail, VAT id, an id in a system' });
  const results = h('div', { 'aria-live': 'polite' });
  fill(main, h('h1', {}, `Records — ${ctx.tenant}`),
    h('form', {
      class: 'filters', role: 'search',
      onsubmit: (e) => { e.preventDefault(); ctx.navigate(`${ctx.url('entities')}?q=${encodeURIComponent(input.value.trim())}`); },
    }, h('label', {}, 'Find', input), h('button', { type: 'submit' }, 'Find')),
    results);
  if (!q) return null;
  api.get(ctx.path(`/entities?q=${encodeURIComponent(q)}`)).then((hits) => {
    if (hits.length === 1) { ctx.navigate(ctx.url('entities', hits[0].kind, hits[0].entity_id), { replace: true }); return; }
    fill(results, table(['Kind', 'Record'], hits.map((hit) => h('tr', {},
      h('td', {}, hit.kind),
      h('td', {}, h('a', { href: ctx.url('entities', hit.kind, hit.entity_id), 'data-link': true }, hit.entity_id)))),
    { empty: `Nothing is known by “${q}”.` }));
  });
  return null;
}

function summary(kind, data) {
  if (!data) return null;
  const order = data.order || (kind === 'order' ? data : null);
  if (order?.number) {
    return h('dl', { class: 'kv' },
      h('dt', {}, 'Number'), h('dd', {}, order.number),
      h('dt', {}, 'Customer'), h('dd', {}, order.customer?.name || '—', order.customer?.email ? ` <${order.customer.email}>` : ''),
      h('dt', {}, 'Total'), h('dd', {}, order.totals?.total ? `${order.totals.total.amount} ${order.totals.total.currency}` : '—'),
      h('dt', {}, 'Paid'), h('dd', {}, order.payment_state || '—'),
      h('dt', {}, 'Status'), h('dd', {}, order.status || '—'),
      data.erp ? [h('dt', {}, 'ERP document'), h('dd', {}, `${data.erp.number || data.erp.id || ''}`)] : null);
  }
  return null;
}

function record(ctx, main, kind, id) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  fill(main, h('p', {}, h('a', { href: ctx.url('entities'), 'data-link': true }, '← Records')), body);
  api.get(ctx.path(`/entities/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`)).then((view) => {
    fill(body,
      h('h1', {}, `${kind} ${id}`),
      h('section', { class: 'panel' }, summary(kind, view.data), h('p', { class: 'muted' }, 'Synced ', ago(view.updated_at))),
      h('section', { class: 'panel' }, h('h2', {}, 'In each system'),
        table(['System', 'Id there', 'Linked', 'Last sent'], view.links.map((l) => h('tr', {},
          h('td', {}, l.system), h('td', { class: 'mono' }, l.external_id), h('td', {}, ago(l.created_at || l.updated_at)),
          h('td', { class: 'mono muted' }, l.sent_hash ? l.sent_hash.slice(0, 12) : '—'))), { empty: 'Not linked anywhere yet.' })),
      h('section', { class: 'panel' }, h('h2', {}, 'History'),
        table(['Job', 'Changed', 'Kind', 'State', 'Outcome or error'], view.history.map((job) => h('tr', {},
          h('td', {}, h('a', { href: ctx.url('jobs', job.id), 'data-link': true }, `#${job.id}`)),
          h('td', {}, ago(job.updated_at)), h('td', {}, job.kind), h('td', {}, stateBadge(job.state)),
          h('td', {}, job.outcome || job.errors.at(-1)?.message || ''))), { empty: 'No jobs mention it.' })),
      view.data ? h('details', { class: 'panel' }, h('summary', {}, 'Kontor\'s copy'), json(view.data)) : null);
  });
  return null;
}
