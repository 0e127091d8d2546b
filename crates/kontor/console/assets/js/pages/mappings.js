// Mappings between the systems' vocabularies, edited as tables and saved together: the
// API checks them (a blank code, a SKU mapped to itself) and names the row at fault;
// a change made while someone else changed them is refused rather than lost.

import * as api from '../api.js';
import { fill, h, notice } from '../dom.js';

const STATUSES = ['pending', 'processing', 'on_hold', 'partially_shipped', 'shipped', 'delivered',
  'ready_for_pickup', 'completed', 'cancelled', 'refunded'];

// [table, title, one of them, left column, right column]
const TABLES = [
  ['sku', 'SKUs', 'SKU', 'Shop SKU', 'ERP SKU'],
  ['warehouses', 'Warehouses', 'warehouse', 'ERP warehouse', 'Shop location'],
  ['payment_methods', 'Payment methods', 'payment method', 'Shop method', 'ERP method'],
  ['shipping_methods', 'Shipping methods', 'shipping method', 'Shop method', 'ERP service SKU'],
  ['order_status', 'Order statuses', 'order status', 'Shop status', 'Kontor status'],
  ['customer_groups', 'Customer groups', 'customer group', 'Shop group', 'ERP group'],
  ['tax_rates', 'Tax rates', 'tax rate', 'Rate (%)', 'ERP tax code'],
  ['price_lists', 'Price lists', 'price list', 'ERP price list', 'Shop price list'],
];

export function render(ctx, main) {
  const editable = ctx.can('operator');
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  fill(main, h('h1', {}, `Mappings — ${ctx.tenant}`),
    h('p', { class: 'muted' }, 'How one system\'s codes are called in the other. Changes run at once.'), body);
  let revision = null;

  function row(table, from = '', to = '') {
    const right = table === 'order_status'
      ? h('select', { name: 'to', disabled: !editable, 'aria-label': 'Kontor status' },
        STATUSES.map((s) => h('option', { value: s, selected: s === to }, s)))
      : h('input', { name: 'to', value: to, disabled: !editable, 'aria-label': 'maps to' });
    const left = h('input', { name: 'from', value: from, disabled: !editable, 'aria-label': 'code' });
    const tr = h('tr', { dataset: { table } },
      h('td', {}, left, h('div', { class: 'field-error' })),
      h('td', {}, right),
      h('td', { class: 'actions' }, editable ? h('button', {
        type: 'button', class: 'quiet', 'aria-label': `Remove ${from || 'row'}`, onclick: () => tr.remove(),
      }, 'Remove') : null));
    return tr;
  }

  function collect() {
    const mappings = {};
    for (const [table] of TABLES) mappings[table] = {};
    for (const tr of body.querySelectorAll('tr[data-table]')) {
      const from = tr.querySelector('[name=from]').value.trim();
      const to = tr.querySelector('[name=to]').value.trim();
      if (from || to) mappings[tr.dataset.table][from] = to;
    }
    return mappings;
  }

  function showProblems(problems) {
    for (const tr of body.querySelectorAll('tr[data-table]')) {
      const from = tr.querySelector('[name=from]');
      const key = `mappings.${tr.dataset.table}.${from.value.trim()}`;
      const problem = problems.find((p) => p.key === key);
      from.setAttribute('aria-invalid', problem ? 'true' : 'false');
      tr.querySelector('.field-error').textContent = problem ? problem.message : '';
    }
  }

  async function save(button, status) {
    button.disabled = true;
    status.textContent = '';
    try {
      const saved = await api.put(ctx.path('/config/mappings'), { revision, mappings: collect() });
      revision = saved.config.revision;
      showProblems([]);
      status.textContent = `Saved (revision ${revision}).`;
      for (const warning of saved.warnings) notice(warning, { error: true });
      if (!saved.warnings.length) notice('Mappings saved; they apply from the next job on.');
    } catch (error) {
      if (error.code === 'invalid_config') showProblems(error.details?.problems || []);
      status.textContent = error.code === 'revision_conflict'
        ? 'Someone changed the mappings meanwhile. Reload the page, then make your change again.'
        : error.message;
      status.className = 'field-error';
    } finally {
      button.disabled = false;
    }
  }

  api.get(ctx.path('/config')).then((config) => {
    revision = config.revision;
    const mappings = config.config.mappings || {};
    const status = h('p', { role: 'status', id: 'mappings-status' });
    const button = h('button', { type: 'submit', id: 'save-mappings' }, 'Save mappings');
    fill(body, h('form', {
      onsubmit: (e) => { e.preventDefault(); save(button, status); },
    },
    TABLES.map(([table, title, one, fromLabel, toLabel]) => {
      const rows = h('tbody', {}, Object.entries(mappings[table] || {}).map(([from, to]) => row(table, from, to)));
      return h('section', { class: 'panel', 'aria-labelledby': `t-${table}` },
        h('h2', { id: `t-${table}` }, title),
        h('div', { class: 'table-wrap' }, h('table', { id: `mapping-${table}` },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, fromLabel), h('th', { scope: 'col' }, toLabel), h('th', {}, h('span', { class: 'visually-hidden' }, 'Actions')))),
          rows)),
        editable ? h('button', {
          type: 'button', class: 'quiet', id: `add-${table}`,
          onclick: () => { const tr = row(table); rows.append(tr); tr.querySelector('input').focus(); },
        }, `Add a ${one} mapping`) : null);
    }),
    editable ? h('div', { class: 'row' }, button, status) : h('p', { class: 'muted' }, 'Viewers see the mappings; operators change them.')));
  });
}
