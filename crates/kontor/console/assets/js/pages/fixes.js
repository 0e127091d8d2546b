// Fixes the console offers for what parked a job: an unknown SKU is mapped to the ERP's
// SKU (the tenant's SKU mapping), then the jobs waiting for it run again.

import * as api from '../api.js';
import { h, notice } from '../dom.js';

/** Saves `sku` mappings (shop SKU → ERP SKU) on top of the tenant's current ones. */
export async function mapSkus(ctx, pairs) {
  const config = await api.get(ctx.path('/config'));
  const mappings = structuredClone(config.config.mappings || {});
  mappings.sku = { ...(mappings.sku || {}), ...pairs };
  return api.put(ctx.path('/config/mappings'), { revision: config.revision, mappings });
}

/**
 * A form mapping each of `skus` to an ERP SKU; on save, `after()` runs (a retry).
 * Only for operators: viewers are not shown it.
 */
export function skuFix(ctx, skus, after) {
  if (!ctx.can('operator') || !skus?.length) return null;
  const inputs = skus.map((sku) => h('input', {
    name: `map-${sku}`, required: true, placeholder: 'the ERP\'s SKU', 'aria-label': `ERP SKU for ${sku}`,
  }));
  const problem = h('p', { class: 'field-error', role: 'alert' });
  const button = h('button', { type: 'submit' }, 'Save mapping and retry');
  return h('form', {
    class: 'panel fix',
    onsubmit: async (event) => {
      event.preventDefault();
      button.disabled = true;
      problem.textContent = '';
      try {
        const pairs = Object.fromEntries(skus.map((sku, i) => [sku, inputs[i].value.trim()]));
        const saved = await mapSkus(ctx, pairs);
        for (const warning of saved.warnings) notice(warning, { error: true });
        await after();
      } catch (error) {
        problem.textContent = error.message;
      } finally {
        button.disabled = false;
      }
    },
  },
  h('h3', {}, 'Fix: map the SKU'),
  h('p', { class: 'muted' }, 'Orders name a product the ERP does not know. Map the shop\'s SKU to the ERP\'s, and the orders waiting for it run again.'),
  skus.map((sku, i) => h('div', { class: 'row' }, h('code', {}, sku), '→', inputs[i])),
  problem,
  button);
}
