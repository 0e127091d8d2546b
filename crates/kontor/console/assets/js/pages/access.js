// Access: people's accounts (admins manage those within their tenants), the tenant's API
// keys for machines (a new key is shown once), and what each role may do.

import * as api from '../api.js';
import { ago, fill, h, notice, table } from '../dom.js';

const ROLES = [
  ['admin', 'Changes configuration, connections, accounts and keys; everything an operator does.'],
  ['operator', 'Retries, skips and edits parked jobs; changes mappings; tests connections.'],
  ['viewer', 'Sees everything of its tenants, changes nothing.'],
  ['shop', 'A machine (API key only): reads the catalogue and submits orders.'],
];

export function render(ctx, main) {
  const users = h('div');
  const keys = h('div');
  const shown = h('div', { 'aria-live': 'polite' });
  fill(main, h('h1', {}, `Access — ${ctx.tenant}`),
    h('section', { class: 'panel' }, h('h2', {}, 'Roles'),
      h('dl', { class: 'kv' }, ROLES.map(([role, what]) => [h('dt', {}, role), h('dd', {}, what)]))),
    h('section', { class: 'panel' }, h('h2', {}, 'People'), users),
    h('section', { class: 'panel' }, h('h2', {}, `API keys of ${ctx.tenant}`), shown, keys));
  if (!ctx.can('admin')) {
    fill(users, h('p', { class: 'muted' }, 'Only admins see accounts and keys.'));
    return;
  }

  async function loadUsers() {
    const list = await api.get('/users');
    const name = h('input', { name: 'username', required: true, pattern: '[a-z0-9._@-]+', 'aria-label': 'Username' });
    const role = h('select', { name: 'role', 'aria-label': 'Role' }, ['viewer', 'operator', 'admin'].map((r) => h('option', { value: r }, r)));
    const password = h('input', { name: 'password', type: 'password', minlength: 12, autocomplete: 'new-password', placeholder: 'at least 12 characters', 'aria-label': 'Password' });
    const problem = h('p', { class: 'field-error', role: 'alert' });
    fill(users,
      table(['Username', 'Role', 'Tenants', 'Changed', ''], list.map((u) => h('tr', {},
        h('td', {}, u.username), h('td', {}, u.role), h('td', {}, u.tenants.join(', ')), h('td', {}, ago(u.updated_at)),
        h('td', { class: 'actions' }, h('button', {
          type: 'button', class: 'quiet', 'aria-label': `Remove ${u.username}`,
          onclick: async () => { await api.del(`/users/${encodeURIComponent(u.username)}`); notice(`${u.username} removed`); loadUsers(); },
        }, 'Remove')))), { caption: 'Accounts' }),
      h('form', {
        class: 'filters',
        onsubmit: async (e) => {
          e.preventDefault();
          problem.textContent = '';
          try {
            await api.put(`/users/${encodeURIComponent(name.value.trim())}`, {
              role: role.value, tenants: [ctx.tenant], password: password.value || undefined,
            });
            notice(`${name.value} saved`);
            loadUsers();
          } catch (error) { problem.textContent = error.message; }
        },
      }, h('label', {}, 'Username', name), h('label', {}, 'Role', role), h('label', {}, 'Password', password),
      h('button', { type: 'submit' }, 'Add or change'), problem));
  }

  async function loadKeys() {
    const list = await api.get(ctx.path('/api-keys'));
    const name = h('input', { name: 'key-name', required: true, placeholder: 'what it is for', 'aria-label': 'Key name' });
    const role = h('select', { name: 'key-role', 'aria-label': 'Key role' }, ['shop', 'viewer', 'operator', 'admin'].map((r) => h('option', { value: r }, r)));
    fill(keys,
      table(['Id', 'Name', 'Role', 'Made', 'Revoked', ''], list.map((k) => h('tr', {},
        h('td', { class: 'mono' }, k.id), h('td', {}, k.name), h('td', {}, k.role), h('td', {}, ago(k.created_at)),
        h('td', {}, k.revoked_at ? ago(k.revoked_at) : '—'),
        h('td', { class: 'actions' }, k.revoked_at ? null : h('button', {
          type: 'button', class: 'quiet', 'aria-label': `Revoke ${k.name}`,
          onclick: async () => { await api.del(ctx.path(`/api-keys/${k.id}`)); notice('Key revoked'); loadKeys(); },
        }, 'Revoke')))), { caption: 'API keys', empty: 'No keys yet.' }),
      h('form', {
        class: 'filters',
        onsubmit: async (e) => {
          e.preventDefault();
          const made = await api.post(ctx.path('/api-keys'), { name: name.value, role: role.value });
          fill(shown, h('div', { class: 'panel' }, h('p', {}, 'The new key, shown this once — keep it now:'), h('pre', {}, made.key)));
          loadKeys();
        },
      }, h('label', {}, 'Name', name), h('label', {}, 'Role', role), h('button', { type: 'submit' }, 'Make a key')));
  }
  loadUsers();
  loadKeys();
}
