// Kontor's API, as the console calls it: the session cookie goes with every request, and
// every change carries the session's CSRF token. Errors come back as ApiError with the
// API's stable code and the field at fault.

export class ApiError extends Error {
  constructor(status, body) {
    const error = body?.error ?? {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || 'http_error';
    this.field = error.field;
    this.details = error.details;
  }
}

let csrf = null;
let onSignedOut = () => {};

export function session(token, signedOut) {
  csrf = token;
  if (signedOut) onSignedOut = signedOut;
}

export async function call(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = text; }
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (response.status === 401 && !path.startsWith('/session')) onSignedOut(error);
    throw error;
  }
  return parsed;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body ?? {});
export const put = (path, body) => call('PUT', path, body);
export const del = (path) => call('DELETE', path);

/** A path under the current tenant. */
export function tenantPath(tenant, rest) {
  return `/tenants/${encodeURIComponent(tenant)}${rest}`;
}
