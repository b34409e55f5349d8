/**
 * Paged lists as plain JSON. client-node's typed APIs turn answers into its models
 * (`from` becomes `_from`, timestamps become Dates), but the inventory keeps the objects as
 * the API serves them (policies and risk read them like manifests), so lists use the
 * KubeConfig for authentication (certificates, tokens, exec plugins, proxies) and Node's
 * http(s) for the request, as src/kube/cluster.ts does for posture scans.
 */
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';

/** An HTTP error answer of the apiserver (its Status message when it sent one). */
export class ApiStatusError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
    this.name = 'ApiStatusError';
  }
}

export interface ListResult {
  items: KubernetesObject[];
  resourceVersion: string;
}

/** Lists a collection page by page (`limit`/`continue`); the last page's resourceVersion is the list's. */
export async function listAll(kc: KubeConfig, path: string, pageSize: number, signal: AbortSignal): Promise<ListResult> {
  const items: KubernetesObject[] = [];
  let token = '';
  let resourceVersion = '';
  do {
    const query = `limit=${pageSize}${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
    const page = (await getJson(kc, `${path}?${query}`, signal)) as { items?: KubernetesObject[]; metadata?: { continue?: string; resourceVersion?: string } };
    items.push(...(page.items ?? []));
    token = page.metadata?.continue ?? '';
    resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
  } while (token);
  return { items, resourceVersion };
}

async function getJson(kc: KubeConfig, path: string, signal: AbortSignal): Promise<unknown> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig names no current cluster');
  // The server URL may carry a path prefix (API proxies): keep it.
  const url = new URL(server.replace(/\/$/, '') + path);
  const opts: RequestOptions & { headers: Record<string, string> } = { method: 'GET', headers: { accept: 'application/json' }, signal };
  await kc.applyToHTTPSOptions(opts);
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) {
          let message = `HTTP ${status}`;
          try {
            message = (JSON.parse(body) as { message?: string }).message ?? message;
          } catch {
            // not a Status object
          }
          reject(new ApiStatusError(status, message));
          return;
        }
        try {
          resolve(JSON.parse(body));
        } catch {
          reject(new Error(`${url.pathname}: the apiserver did not answer JSON`));
        }
      });
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error(`no answer to GET ${url.pathname} within 60 s`)));
    req.end();
  });
}
