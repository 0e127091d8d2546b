// Connections: what each is and can do, which flows use it, and "test connection" —
// the settings, reaching the system with its credentials, and the capabilities the
// flows need. Admins add and change them (settings as in the TOML file, in JSON).

import * as api from '../api.js';
import { fill, h, notice } from '../dom.js';

export function render(ctx, main) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  fill(main, h('h1', {}, `Connections — ${ctx.tenant}`), body);

  function testResult(result) {
    return h('ul', { class: 'steps', 'aria-label': 'Test result' }, result.steps.map((step) =>
      h('li', { class: step.ok ? 'good' : 'bad' }, step.ok ? '✓ ' : '✗ ', h('strong', {}, step.step), ': ', step.message,
        step.millis !== undefined && step.millis !== null ? h('span', { class: 'muted' }, ` (${step.millis} ms)`) : null)));
  }

  function editor(config, name, settings, onSaved) {
    const text = h('textarea', { 'aria-label': `Settings of ${name || 'the new connection'}` }, JSON.stringify(settings, null, 2));
    const nameInput = name ? null : h('input', { name: 'name', required: true, placeholder: 'e.g. erp', 'aria-label': 'Connection name' });
    const problem = h('p', { class: 'field-error', role: 'alert' });
    const trial = h('div');
    return h('form', {
      onsubmit: async (e) => {
        e.preventDefault();
        problem.textContent = '';
        let parsed;
        try { parsed = JSON.parse(text.value); } catch (error) { problem.textContent = `Not JSON: ${error.message}`; return; }
        const target = name || nameInput.value.trim();
        try {
          await api.put(ctx.path(`/config/connections/${encodeURIComponent(target)}`), { revision: config.revision, connection: parsed });
          notice(`Connection ${target} saved and running.`);
          onSaved();
        } catch (error) {
          problem.textContent = error.code === 'revision_conflict' ? 'Someone changed the configuration meanwhile; reload and try again.' : error.message;
        }
      },
    },
    nameInput ? h('label', {}, 'Name', nameInput) : null,
    text, problem,
    h('div', { class: 'row' },
      h('button', { type: 'submit' }, 'Save'),
      h('button', {
        type: 'button', class: 'quiet',
        onclick: async () => {
          try {
            const target = name || nameInput.value.trim() || 'new';
            fill(trial, testResult(await api.post(ctx.path(`/connections/${encodeURIComponent(target)}/test`), { connection: JSON.parse(text.value) })));
          } catch (error) { problem.textContent = error.message; }
        },
      }, 'Test these settings')),
    trial);
  }

  async function refresh() {
    const config = await api.get(ctx.path('/config'));
    const panels = Object.entries(config.connections).map(([name, info]) => {
      const result = h('div', { 'aria-live': 'polite' });
      const edit = h('div');
      const settings = config.config.connections[name];
      return h('section', { class: 'panel', dataset: { connection: name }, 'aria-labelledby': `c-${name}` },
        h('h2', { id: `c-${name}` }, name, h('span', { class: 'muted' }, ` · ${info.kind}`)),
        h('p', {}, info.used_by.length ? `Used by ${info.used_by.join(', ')}.` : 'No flow uses it.'),
        info.capabilities.length ? h('p', { class: 'muted' }, `Can ${info.capabilities.join(', ')}.`) : null,
        h('div', { class: 'row' },
          ctx.can('operator') ? h('button', {
            type: 'button',
            onclick: async (e) => {
              e.target.disabled = true;
              fill(result, h('p', { class: 'muted' }, 'Testing…'));
              try { fill(result, testResult(await api.post(ctx.path(`/connections/${encodeURIComponent(name)}/test`)))); } catch (error) { fill(result, h('p', { class: 'bad' }, error.message)); }
              e.target.disabled = false;
            },
          }, 'Test connection') : null,
          ctx.can('admin') ? h('button', { type: 'button', class: 'quiet', onclick: () => fill(edit, editor(config, name, settings, refresh)) }, 'Edit') : null,
          ctx.can('admin') && !info.used_by.length ? h('button', {
            type: 'button', class: 'danger',
            onclick: async () => {
              try {
                await api.del(ctx.path(`/config/connections/${encodeURIComponent(name)}?revision=${config.revision}`));
                notice(`Connection ${name} removed.`);
                refresh();
              } catch (error) { notice(error.message, { error: true }); }
            },
          }, 'Remove') : null),
        result, edit);
    });
    const add = h('div');
    fill(body,
      config.running ? null : h('section', { class: 'panel group' }, h('h2', {}, 'Not running'), h('p', {}, config.error || '')),
      panels,
      ctx.can('admin') ? h('section', { class: 'panel' }, h('h2', {}, 'Add a connection'),
        h('button', { type: 'button', class: 'quiet', onclick: () => fill(add, editor(config, null, { type: 'memory' }, refresh)) }, 'Add…'), add) : null,
      h('p', { class: 'muted' }, `Configuration revision ${config.revision}. Secrets show only as references or sealed; a secret given as {"value": …} is stored sealed.`));
  }
  refresh();
}
