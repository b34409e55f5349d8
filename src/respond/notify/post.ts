/** One JSON POST with a timeout; a non-2xx answer is an error naming the URL (without its secret path). */
import { request } from 'undici';
import { UserError } from '../../util/errors.js';

export function checkUrl(url: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserError(`invalid ${what} URL "${url}"`, 'usage');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UserError(`${what} URL must be http(s): "${url}"`, 'usage');
  return u;
}

export async function postJson(url: URL, body: unknown, timeoutMs = 10_000): Promise<void> {
  const res = await request(url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  await res.body.dump();
  // Slack's incoming-webhook URLs carry the secret in the path: only the origin is named.
  if (res.statusCode < 200 || res.statusCode > 299) throw new Error(`${url.origin} answered HTTP ${res.statusCode}`);
}
