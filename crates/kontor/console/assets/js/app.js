// The console: signs people in, keeps the tenant and the route in the address
// (/console/<tenant>/<page>/…), and shows one page at a time. Each page is a module
// exporting `render(ctx, main)`, which may return a function that stops its refreshing.

import * as api from './api.js';
import { fill, h, notice } from './dom.js';
import { signInPage } from './pages/signin.js';
import * as dashboard from './pages/dashboard.js';
import * as inbox from './pages/inbox.js';
import * as log from './pages/log.js';
import * as job from './pages/job.js';
import * as entities from './pages/entities.js';
import * as connections from './pages/connections.js';
import * as mappings from './pages/mappings.js';
import * as reports from './pages/reports.js';
import * as access from './pages/access.js';

const PAGES = { dashboard, inbox, log, jobs: job, entities, connections, mappings, reports, access };
const TITLES = {
  dashboard: 'Dashboard', inbox: 'Error inbox', log: 'Sync log', jobs: 'Job',
  entities: 'Records', connections: 'Connections', mappings: 'Mappings', reports: 'Reports',
  access: 'Access',
};
const RANK = { viewer: 1, operator: 2, admin: 3 };

const state = { who: null, tenants: [], stop: null, badgeTimer: null };

function main() { return document.getElementById('main'); }

/** Whether the signed-in person has at least `role`. */
function can(role) {
  return (RANK[state.who?.role] ?? 0) >= RANK[role];
}

function url(tenant, page, ...rest) {
  return ['/console', tenant, page, ...rest].filter(Boolean).map((p, i) => (i ? encodeURIComponent(p) : p)).join('/');
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path); else history.pushState(null, '', path);
  show();
}

async function signedIn() {
  try {
    const who = await api.get('/session');
    // Local trust lets this machine call the API, but the console asks who you are.
    if (who.via !== 'session') return { who: null, oidc: who.oidc_sign_in };
    return { who };
  } catch (error) {
    if (error.status === 401) return { who: null, oidc: false };
    throw error;
  }
}

function signedOut() {
  state.who = null;
  document.getElementById('top').hidden = true;
  navigate(`/console/signin?return_to=${encodeURIComponent(location.pathname)}`, { replace: true });
}

async function boot() {
  const { who, oidc } = await signedIn();
  if (!who) {
    document.getElementById('top').hidden = true;
    stopPage();
    signInPage(main(), { oidc, signedIn: start });
    return;
  }
  await start(who);
}

async function start(who) {
  state.who = who;
  api.session(who.csrf_token, signedOut);
  const status = await api.get('/status');
  state.tenants = status.tenants.map((t) => t.tenant);
  const select = document.getElementById('tenant');
  fill(select, state.tenants.map((t) => h('option', { value: t }, t)));
  document.getElementById('who').textContent = `${who.subject.replace(/^user:/, '')} · ${who.role}`;
  document.getElementById('top').hidden = false;
  if (location.pathname.startsWith('/console/signin')) {
    const back = new URLSearchParams(location.search).get('return_to');
    history.replaceState(null, '', back && back.startsWith('/console/') && !back.startsWith('/console/signin') ? back : '/console/');
  }
  show();
}

function stopPage() {
  if (state.stop) { state.stop(); state.stop = null; }
}

function show() {
  if (!state.who) { boot(); return; }
  stopPage();
  const parts = location.pathname.replace(/^\/console\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  let [tenant, page, ...rest] = parts;
  if (!tenant || !state.tenants.includes(tenant)) {
    if (!state.tenants.length) {
      fill(main(), h('div', { class: 'panel' }, h('h1', {}, 'No tenants'),
        h('p', {}, 'Your account acts for no tenant that is configured.')));
      return;
    }
    navigate(url(state.tenants[0], 'dashboard'), { replace: true });
    return;
  }
  if (!PAGES[page]) { navigate(url(tenant, 'dashboard'), { replace: true }); return; }
  document.getElementById('tenant').value = tenant;
  for (const link of document.querySelectorAll('nav a[data-page]')) {
    link.href = url(tenant, link.dataset.page);
    if (link.dataset.page === page || (page === 'jobs' && link.dataset.page === 'log')) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
    if (link.dataset.page === 'access') link.hidden = !can('admin');
  }
  document.getElementById('nav').classList.remove('open');
  document.title = `${TITLES[page]} · ${tenant} · Kontor`;
  const ctx = {
    tenant,
    rest,
    query: new URLSearchParams(location.search),
    who: state.who,
    can,
    url: (p, ...r) => url(tenant, p, ...r),
    path: (rest) => api.tenantPath(tenant, rest),
    navigate,
    refreshBadge,
  };
  const el = main();
  fill(el);
  try {
    state.stop = PAGES[page].render(ctx, el) || null;
  } catch (error) {
    showError(error);
  }
  refreshBadge();
}

async function refreshBadge() {
  const badge = document.getElementById('parked-badge');
  const tenant = document.getElementById('tenant').value;
  if (!tenant || !state.who) return;
  try {
    const groups = await api.get(api.tenantPath(tenant, '/inbox'));
    const parked = groups.reduce((n, g) => n + g.count, 0);
    badge.textContent = parked ? String(parked) : '';
  } catch { /* the page itself says what is wrong */ }
}

export function showError(error) {
  notice(error.message || String(error), { error: true });
}

document.addEventListener('click', (event) => {
  const link = event.target.closest('a[data-link]');
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(link.getAttribute('href'));
});
window.addEventListener('popstate', show);
window.addEventListener('unhandledrejection', (event) => showError(event.reason));

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('tenant').addEventListener('change', (event) => {
    const parts = location.pathname.replace(/^\/console\/?/, '').split('/');
    navigate(url(event.target.value, parts[1] || 'dashboard'));
  });
  document.getElementById('sign-out').addEventListener('click', async () => {
    await api.del('/session');
    state.who = null;
    api.session(null);
    document.getElementById('top').hidden = true;
    navigate('/console/signin', { replace: true });
  });
  const toggle = document.getElementById('menu-toggle');
  toggle.addEventListener('click', () => {
    const nav = document.getElementById('nav');
    const open = nav.classList.toggle('open');
    toggle.setAttribute('aria-expanded', String(open));
  });
  state.badgeTimer = setInterval(refreshBadge, 10000);
  boot().catch(showError);
});
