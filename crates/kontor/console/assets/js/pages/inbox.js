// The error inbox: parked jobs grouped by why they stopped. Each group shows the latest
// message, its jobs on request, and what an operator can do: retry them all, or fix the
// reason first where the console knows how (an unknown SKU).

import * as api from '../api.js';
import { ago, fill, h, notice, table, stateBadge } from '../dom.js';
import { skuFix } from './fixes.js';

export function render(ctx, main) {
  const list = h('div', { id: 'groups', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  fill(main, h('h1', {}, `Error inbox — ${ctx.tenant}`),
    h('p', { class: 'muted' }, 'Jobs parked for a person, grouped by reason. Fix the reason, then retry.'), list);

  async function retryAll(group) {
    const done = await api.post(ctx.path('/jobs/retry'), { kind: group.kind, code: group.code });
    notice(`${done.retried} jobs will run again`);
    await refresh();
    ctx.refreshBadge();
  }

  function groupPanel(group) {
    const jobs = h('div', { class: 'jobs' });
    const shown = { open: false };
    const toggle = h('button', {
      type: 'button',
      class: 'quiet',
      'aria-expanded': 'false',
      onclick: async () => {
        shown.open = !shown.open;
        toggle.setAttribute('aria-expanded', String(shown.open));
        toggle.textContent = shown.open ? 'Hide jobs' : `Show ${group.count} jobs`;
        if (!shown.open) { fill(jobs); return; }
        const page = await api.get(ctx.path(`/jobs?state=parked&kind=${encodeURIComponent(group.kind)}&error_code=${encodeURIComponent(group.code)}&limit=100`));
        fill(jobs, table(['Job', 'Record', 'Parked', 'State', 'Message'], page.items.map((job) => h('tr', {},
          h('td', {}, h('a', { href: ctx.url('jobs', job.id), 'data-link': true }, `#${job.id}`)),
          h('td', { class: 'mono' }, job.ordering_key || job.dedupe_key || ''),
          h('td', {}, ago(job.updated_at)),
          h('td', {}, stateBadge(job.state)),
          h('td', {}, job.errors.at(-1)?.message || ''))), { caption: `Jobs parked with ${group.code}` }));
      },
    }, `Show ${group.count} jobs`);
    const actions = h('div', { class: 'row' }, toggle,
      ctx.can('operator') ? h('button', { type: 'button', onclick: () => retryAll(group).catch((e) => notice(e.message, { error: true })) },
        `Retry all ${group.count}`) : null);
    const fix = group.code === 'unknown_sku' ? skuFix(ctx, group.details?.skus, () => retryAll(group)) : null;
    return h('section', { class: 'panel group', dataset: { code: group.code }, 'aria-label': `${group.code}: ${group.count} parked` },
      h('h2', {}, h('code', {}, group.code), ` · ${group.count} parked`),
      h('p', { class: 'meta' }, `${group.kind}${group.flow ? ` in flow ${group.flow}` : ''} · first `, ago(group.first_at), ', latest ', ago(group.last_at)),
      h('p', {}, group.message),
      fix, actions, jobs);
  }

  async function refresh() {
    const groups = await api.get(ctx.path('/inbox'));
    fill(list, groups.length ? groups.map(groupPanel) :
      h('section', { class: 'panel' }, h('p', { class: 'good' }, 'Nothing is parked. Every job ran or is on its way.')));
  }
  refresh();
}
