// The console in a real browser: Debian's headless Chromium, driven by playwright-core,
// against a running `kontor demo`. Run by tests/console.rs, which starts the demo and
// passes, in the environment:
//   KONTOR_URL         the demo's address
//   KONTOR_ADMIN       "name password" of an admin account
//   KONTOR_VIEWER      "name password" of a viewer account
//   PLAYWRIGHT_DIR     where scripts/console/install put playwright-core
//   SCREENSHOTS        where each page's screenshot is written
//   CHROMIUM           the browser (default /usr/bin/chromium)
//
// What a person does: signs in, sees the demo's orders flowing on the dashboard, opens a
// parked order, fixes the mapping it complains about, retries it and sees it succeed. A
// viewer sees no retry button, and the API refuses the retry anyway. Every page is
// photographed, also on a phone; the dashboard does not shift while it refreshes; the
// page can be used from the keyboard.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const base = env('KONTOR_URL');
const [adminName, adminPassword] = env('KONTOR_ADMIN').split(' ');
const [viewerName, viewerPassword] = env('KONTOR_VIEWER').split(' ');
const shots = env('SCREENSHOTS');
mkdirSync(shots, { recursive: true });
const { chromium } = await import(pathToFileURL(join(env('PLAYWRIGHT_DIR'), 'node_modules/playwright-core/index.mjs')).href);

const browser = await chromium.launch({
  executablePath: env('CHROMIUM', '/usr/bin/chromium'),
  // Flags that keep Chromium from reaching out to Google's services, which this machine
  // cannot reach (and the sandbox, which root cannot have).
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-default-apps'],
});

const problems = [];
function watch(page, who) {
  page.on('pageerror', (error) => problems.push(`${who}: page error: ${error.message}`));
  page.on('console', (message) => {
    // The browser reports every refused request; those the test provokes (a viewer's
    // retry, a wrong password, a mapping refused) are the page's to handle, not errors.
    if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) problems.push(`${who}: console: ${message.text()}`);
  });
}

let step = 0;
async function shot(page, name) {
  step += 1;
  await page.screenshot({ path: join(shots, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: true });
}

function log(text) {
  process.stdout.write(`console test: ${text}\n`);
}

async function signIn(page, name, password) {
  await page.goto(`${base}/console/`);
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: /^Dashboard/ }).waitFor();
}

async function number(page, selector) {
  return Number((await page.locator(selector).textContent()).trim());
}

try {
  // Sign in as the admin; a wrong password is refused first.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  watch(page, 'admin');
  await page.goto(`${base}/console/`);
  await page.getByRole('heading', { name: 'Sign in to Kontor' }).waitFor();
  await page.getByLabel('Username').fill(adminName);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByText('wrong username or password').waitFor();
  await shot(page, 'sign-in');
  await signIn(page, adminName, adminPassword);
  log('signed in as admin');

  // The dashboard: the demo's orders reach the ERP while we look.
  await page.waitForFunction(() => Number(document.querySelector('#orders-total')?.textContent) > 0, null, { timeout: 60000 });
  const before = await number(page, '#orders-total');
  await page.waitForFunction((n) => Number(document.querySelector('#orders-total')?.textContent) > n, before, { timeout: 60000 });
  assert.ok(await page.locator('#flows tr[data-flow="orders"]').count() === 1, 'the orders flow is listed');
  assert.ok(await page.locator('svg.chart rect.bar').count() > 0, 'the chart shows orders');
  await shot(page, 'dashboard');
  log(`dashboard: orders flowing (${before} → ${await number(page, '#orders-total')})`);

  // Nothing moves while it refreshes (two refreshes at least).
  const shift = await page.evaluate(() => new Promise((resolve) => {
    let total = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) if (!entry.hadRecentInput) total += entry.value;
    }).observe({ type: 'layout-shift', buffered: false });
    setTimeout(() => resolve(total), 11000);
  }));
  assert.ok(shift < 0.01, `the dashboard shifted by ${shift} while refreshing`);
  log(`dashboard: layout shift while refreshing ${shift.toFixed(4)}`);

  // The keyboard: on a fresh page the first Tab reaches the skip link, which moves focus
  // to the page itself.
  await page.reload();
  await page.getByRole('heading', { name: /^Dashboard/ }).waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');

  // The error inbox: the demo's order for a retired product is parked, with its reason.
  await page.getByRole('link', { name: /^Error inbox/ }).click();
  const group = page.locator('section.group[data-code="unknown_sku"]');
  for (let i = 0; i < 60 && (await group.count()) === 0; i += 1) {
    await page.waitForTimeout(1000);
    await page.reload();
  }
  await group.waitFor();
  assert.match(await group.textContent(), /MUG-250/);
  await shot(page, 'inbox');
  await group.getByRole('button', { name: /^Show \d+ jobs/ }).click();
  const jobLink = group.locator('a[href*="/jobs/"]').first();
  await jobLink.waitFor();
  const jobPath = new URL(await jobLink.getAttribute('href'), base).pathname;
  await jobLink.click();
  await page.locator('#error-message').waitFor();
  assert.match(await page.locator('#error-message').textContent(), /MUG-250.*not found/);
  await page.getByRole('button', { name: 'Retry', exact: true }).waitFor();
  await shot(page, 'parked-order');
  log(`opened the parked order ${jobPath}`);

  // A viewer sees the same order but no way to retry it, and the API refuses anyway.
  const viewerContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const viewer = await viewerContext.newPage();
  watch(viewer, 'viewer');
  await signIn(viewer, viewerName, viewerPassword);
  await viewer.goto(`${base}/console/demo/inbox`);
  await viewer.locator('section.group[data-code="unknown_sku"]').waitFor();
  assert.equal(await viewer.getByRole('button', { name: /^Retry all/ }).count(), 0, 'a viewer has no retry-all button');
  assert.equal(await viewer.getByRole('button', { name: 'Save mapping and retry' }).count(), 0, 'a viewer has no fix form');
  await viewer.goto(`${base}${jobPath}`);
  await viewer.locator('#error-message').waitFor();
  assert.equal(await viewer.getByRole('button', { name: 'Retry', exact: true }).count(), 0, 'a viewer has no retry button');
  await shot(viewer, 'parked-order-as-viewer');
  const refused = await viewer.evaluate(async (path) => {
    const session = await (await fetch('/api/v1/session')).json();
    const id = path.split('/').pop();
    const response = await fetch(`/api/v1/tenants/demo/jobs/${id}/retry`, { method: 'POST', headers: { 'x-csrf-token': session.csrf_token } });
    return { status: response.status, body: await response.json() };
  }, jobPath);
  assert.equal(refused.status, 403, JSON.stringify(refused));
  assert.equal(refused.body.error.code, 'forbidden');
  await viewer.goto(`${base}/console/demo/mappings`);
  await viewer.locator('#mapping-sku').waitFor();
  assert.equal(await viewer.getByRole('button', { name: 'Save mappings' }).count(), 0, 'a viewer cannot change mappings');
  await viewerContext.close();
  log('a viewer sees no retry, and the API refused one with 403');

  // Fix the mapping the order complains about: the retired MUG-250 is sold as MUG-330.
  await page.getByRole('link', { name: 'Mappings' }).click();
  await page.locator('#mapping-sku').waitFor();
  await page.getByRole('button', { name: 'Add a SKU mapping' }).click();
  const row = page.locator('#mapping-sku tbody tr').last();
  await row.locator('input[name=from]').fill('MUG-250');
  await row.locator('input[name=to]').fill('MUG-250');
  await page.getByRole('button', { name: 'Save mappings' }).click();
  // A SKU mapped to itself is refused, and the row says why.
  await row.locator('.field-error', { hasText: 'itself' }).waitFor();
  await shot(page, 'mappings-refused');
  await row.locator('input[name=to]').fill('MUG-330');
  await page.getByRole('button', { name: 'Save mappings' }).click();
  await page.locator('#mappings-status', { hasText: 'Saved' }).waitFor();
  await shot(page, 'mappings-saved');
  log('mapped MUG-250 to MUG-330');

  // Retry the order, and see it succeed.
  await page.goto(`${base}${jobPath}`);
  await page.getByRole('button', { name: 'Retry', exact: true }).click();
  await page.locator('.state.succeeded').first().waitFor({ timeout: 30000 });
  const outcome = await page.locator('#outcome').textContent();
  assert.match(outcome, /→ SO\//, `the order is in the ERP: ${outcome}`);
  await shot(page, 'order-retried');
  log(`the order went through: ${outcome}`);

  // Its record across systems, found by its number.
  const orderNumber = outcome.match(/#\d+/)[0];
  await page.goto(`${base}/console/demo/entities?q=${encodeURIComponent(orderNumber)}`);
  const inSystems = page.getByRole('heading', { name: 'In each system' });
  const orderHit = page.locator('tr', { has: page.locator('td', { hasText: /^order$/ }) }).locator('a');
  await inSystems.or(orderHit).first().waitFor();
  if (!(await inSystems.isVisible())) await orderHit.first().click();
  await inSystems.waitFor();
  const systems = await page.locator('section.panel table tbody tr td:first-child').allTextContents();
  assert.ok(systems.includes('erp') && systems.includes('shop'), `linked in both: ${systems}`);
  await shot(page, 'order-record');

  // The other pages.
  await page.goto(`${base}/console/demo/log?q=${encodeURIComponent('MUG')}`);
  await page.locator('tbody tr').first().waitFor();
  await shot(page, 'sync-log');
  await page.goto(`${base}/console/demo/connections`);
  await page.locator('section[data-connection="erp"]').getByRole('button', { name: 'Test connection' }).click();
  await page.locator('section[data-connection="erp"] .steps li').nth(2).waitFor();
  assert.equal(await page.locator('section[data-connection="erp"] .steps li.bad').count(), 0, 'the ERP connection works');
  await shot(page, 'connections');
  await page.goto(`${base}/console/demo/reports`);
  await page.locator('.card .value').first().waitFor();
  const csv = await page.evaluate(async () => {
    const href = [...document.querySelectorAll('a[download]')][0].getAttribute('href');
    return (await fetch(href)).text();
  });
  assert.match(csv, /^day,channel,currency,orders,units,gross,tax\n\d{4}-\d\d-\d\d,shop,PLN,\d+/);
  await shot(page, 'reports');
  await page.goto(`${base}/console/demo/access`);
  await page.getByRole('table', { name: 'Accounts' }).waitFor();
  await shot(page, 'access');

  // A phone: the menu folds behind a button that opens it.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const mobile = await phone.newPage();
  watch(mobile, 'phone');
  await signIn(mobile, adminName, adminPassword);
  assert.equal(await mobile.locator('#nav').isVisible(), false, 'the menu is folded');
  await mobile.getByRole('button', { name: 'Menu' }).click();
  await mobile.getByRole('link', { name: /^Error inbox/ }).waitFor({ state: 'visible' });
  await shot(mobile, 'phone-menu');
  await mobile.getByRole('link', { name: 'Dashboard' }).click();
  await mobile.locator('#flows table').waitFor();
  const overflow = await mobile.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone`);
  await shot(mobile, 'phone-dashboard');
  await phone.close();

  // Signing out ends the session.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to Kontor' }).waitFor();
  // (The demo trusts this machine, so the API still answers — but not for a session.)
  const after = await page.evaluate(async () => (await (await fetch('/api/v1/session')).json()).via);
  assert.notEqual(after, 'session', 'the session ended');

  assert.deepEqual(problems, [], 'no script errors on any page');
  log(`done; screenshots in ${shots}`);
} finally {
  await browser.close();
}
