/**
 * One request to a cluster's API server as plain JSON text. client-node's typed APIs turn
 * answers into its models (`from` becomes `_from`, timestamps become Dates), but posture
 * scans, the live inventory and response actions read objects as the API serves them, so
 * they use the KubeConfig for authentication (certificates, tokens, exec plugins, proxies)
 * and Node's http(s) for the request. Callers map statuses to their own errors.
 */
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface KubeAnswer {
  status: number;
  text: string;
  url: URL;
}

export interface KubeRequestOptions {
  body?: Buffer;
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs: number;
}

/** Sends the request to the kubeconfig's current cluster; rejects only when no answer came. */
export async function kubeRequest(kc: KubeConfig, method: string, path: string, opts: KubeRequestOptions): Promise<KubeAnswer> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig names no current cluster');
  // The server URL may carry a path prefix (API proxies): keep it.
  const url = new URL(server.replace(/\/$/, '') + path);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.body) {
    headers['content-type'] = opts.contentType ?? 'application/json';
    headers['content-length'] = String(opts.body.length);
  }
  const reqOpts: RequestOptions & { headers: Record<string, string> } = { method, headers, ...(opts.signal ? { signal: opts.signal } : {}) };
  await kc.applyToHTTPSOptions(reqOpts);
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, reqOpts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), url }));
    });
    req.on('error', reject);
    req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`no answer to ${method} ${url.pathname} within ${opts.timeoutMs / 1000} s`)));
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

/** The message of an error answer: its Status object's, else `HTTP <status>`. */
export function statusMessage(answer: Pick<KubeAnswer, 'status' | 'text'>): string {
  try {
    return (JSON.parse(answer.text) as { message?: string }).message ?? `HTTP ${answer.status}`;
  } catch {
    return `HTTP ${answer.status}`; // not a Status object
  }
}

export const isSuccess = (status: number): boolean => status >= 200 && status <= 299;
