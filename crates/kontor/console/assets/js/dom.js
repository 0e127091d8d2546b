// A small element builder: h('td', {class: 'num'}, '12'). Text is always set as text,
// never parsed as HTML, so nothing a shop or ERP sends can run in the console.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

/** "3 min ago", "in 20 s" — with the exact time as a tooltip. */
export function ago(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const at = new Date(iso);
  const seconds = Math.round((Date.now() - at.getTime()) / 1000);
  const abs = Math.abs(seconds);
  const [n, unit] = abs < 60 ? [abs, 's'] : abs < 3600 ? [Math.round(abs / 60), 'min'] :
    abs < 86400 ? [Math.round(abs / 3600), 'h'] : [Math.round(abs / 86400), 'd'];
  const text = seconds >= 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
  return h('time', { datetime: iso, title: at.toISOString() }, text);
}

export function stateBadge(state) {
  return h('span', { class: `state ${state}` }, state);
}

export function table(headers, rows, { caption, empty = 'Nothing here.' } = {}) {
  const head = h('thead', {}, h('tr', {}, headers.map((title) =>
    h('th', { scope: 'col', class: title.num ? 'num' : null }, title.label ?? title))));
  const body = h('tbody', {}, rows.length ? rows :
    h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, empty)));
  return h('div', { class: 'table-wrap' },
    h('table', {}, caption ? h('caption', { class: 'visually-hidden' }, caption) : null, head, body));
}

let noticeTimer;
/** A short message at the bottom of the screen, read out by screen readers. */
export function notice(text, { error = false } = {}) {
  const el = document.getElementById('notice');
  el.className = error ? 'notice error' : 'notice';
  el.textContent = text;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { el.textContent = ''; }, error ? 9000 : 4000);
}

export function json(value) {
  return h('pre', {}, JSON.stringify(value, null, 2));
}
