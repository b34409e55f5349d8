/**
 * Paged lists as plain JSON. client-node's typed APIs turn answers into its models
 * (`from` becomes `_from`, timestamps become Dates), but the inventory keeps the objects as
 * the API serves them (policies and risk read them like manifests), so lists use the
 * KubeConfig for authentication and Node's http(s) for the request (src/kube/http.ts), as
 * posture scans do.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { isSuccess, kubeRequest, statusMessage } from '../../../kube/http.js';

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
  const answer = await kubeRequest(kc, 'GET', path, { signal, timeoutMs: 60_000 });
  if (!isSuccess(answer.status)) throw new ApiStatusError(answer.status, statusMessage(answer));
  try {
    return JSON.parse(answer.text);
  } catch {
    throw new Error(`${answer.url.pathname}: the apiserver did not answer JSON`);
  }
}
