// One job: what it is, where it stands, every failure with its causes and details, its
// payload — and, for operators, retry, skip, or edit the payload and retry.

import * as api from '../api.js';
import { ago, fill, h, json, notice, stateBadge } from '../dom.js';
import { skuFix } from './fixes.js';

export function render(ctx, main) {
  const id = ctx.rest[0];
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  fill(main, h('p', {}, h('a', { href: ctx.url('log'), 'data-link': true }, '← Sync log')), body);
  let timer = null;

  async function act(what, request) {
    try {
      await request();
      notice(what);
      await refresh();
      ctx.refreshBadge();
    } catch (error) {
      notice(error.message, { error: true });
    }
  }

  function actions(job) {
    if (!ctx.can('operator') || job.state !== 'parked') return null;
    const reason = h('input', { name: 'reason', placeholder: 'why it should not run', 'aria-label': 'Reason for skipping' });
    const payload = h('textarea', { name: 'payload', 'aria-label': 'Payload' }, JSON.stringify(job.payload, null, 2));
    return h('section', { class: 'panel', 'aria-label': 'What to do' },
      h('h2', {}, 'What to do'),
      h('div', { class: 'row' },
        h('button', { type: 'button', id: 'retry', onclick: () => act('It will run again.', () => api.post(ctx.path(`/jobs/${id}/retry`))) }, 'Retry'),
        reason,
        h('button', { type: 'button', class: 'quiet', onclick: () => act('Skipped.', () => api.post(ctx.path(`/jobs/${id}/skip`), { reason: reason.value || 'skipped in the console' })) }, 'Skip')),
      h('details', {}, h('summary', {}, 'Edit the payload and retry'), payload,
        h('button', {
          type: 'button',
          onclick: () => act('Edited; it will run again.', () => api.post(ctx.path(`/jobs/${id}/edit-and-retry`), { payload: JSON.parse(payload.value) })),
        }, 'Save and retry')));
  }

  async function refresh() {
    const job = await api.get(ctx.path(`/jobs/${id}`));
    const last = job.errors.at(-1);
    const fix = job.state === 'parked' && last?.code === 'unknown_sku'
      ? skuFix(ctx, last.details?.skus, () => api.post(ctx.path(`/jobs/${id}/retry`)).then(refresh)) : null;
    const record = job.payload.order_id || job.payload.id || job.payload.number;
    fill(body,
      h('h1', {}, `Job #${job.id} `, stateBadge(job.state)),
      h('section', { class: 'panel' },
        h('dl', { class: 'kv' },
          h('dt', {}, 'Kind'), h('dd', {}, job.kind),
          h('dt', {}, 'Flow'), h('dd', {}, job.flow || '—'),
          h('dt', {}, 'Record'), h('dd', { class: 'mono' }, job.ordering_key || job.dedupe_key || '—',
            record ? [' ', h('a', { href: `${ctx.url('entities')}?q=${encodeURIComponent(record)}`, 'data-link': true }, 'open the record')] : null),
          h('dt', {}, 'Attempts'), h('dd', {}, `${job.attempts} of ${job.max_attempts}`),
          h('dt', {}, 'Created'), h('dd', {}, ago(job.created_at)),
          h('dt', {}, 'Changed'), h('dd', {}, ago(job.updated_at)),
          h('dt', {}, 'Outcome'), h('dd', { id: 'outcome' }, job.outcome || '—'))),
      last && job.state !== 'succeeded' ? h('section', { class: 'panel group', 'aria-label': 'Why it stopped' },
        h('h2', {}, h('code', {}, last.code), ` (${last.class})`),
        h('p', { id: 'error-message' }, last.message)) : null,
      fix,
      actions(job),
      job.errors.length ? h('section', { class: 'panel' }, h('h2', {}, 'Failures'),
        [...job.errors].reverse().map((e) => h('div', {},
          h('h3', {}, `Attempt ${e.attempt}: `, h('code', {}, e.code), ' · ', ago(e.at)),
          h('p', {}, e.message),
          e.chain?.length ? h('ul', {}, e.chain.map((c) => h('li', { class: 'muted' }, c))) : null,
          e.details ? json(e.details) : null))) : null,
      h('section', { class: 'panel' }, h('h2', {}, 'Payload'), json(job.payload),
        job.original_payload ? [h('h3', {}, 'As first enqueued'), json(job.original_payload)] : null));
    clearTimeout(timer);
    if (job.state === 'pending' || job.state === 'running') timer = setTimeout(() => refresh().catch(() => {}), 1500);
  }
  refresh();
  return () => clearTimeout(timer);
}
