// Signing in: a local account's name and password, or the organisation's OIDC issuer.

import * as api from '../api.js';
import { fill, h } from '../dom.js';

export function signInPage(main, { oidc, signedIn }) {
  document.title = 'Sign in · Kontor';
  const query = new URLSearchParams(location.search);
  const problem = h('p', { class: 'field-error', id: 'signin-error', role: 'alert' }, query.get('error') || '');
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', {
    onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      problem.textContent = '';
      try {
        const who = await api.call('POST', '/session', { username: username.value, password: password.value });
        await signedIn(who);
      } catch (error) {
        problem.textContent = error.message;
        password.value = '';
        password.focus();
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('label', {}, 'Username', username),
  h('label', {}, 'Password', password),
  problem,
  submit);
  const back = query.get('return_to') || '/console/';
  fill(main, h('section', { class: 'panel signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to Kontor'),
    form,
    oidc ? [
      h('p', { class: 'or' }, 'or'),
      h('a', { class: 'button quiet', href: `/console/auth/oidc?return_to=${encodeURIComponent(back)}` },
        'Sign in with your organisation'),
    ] : null));
  username.focus();
}
