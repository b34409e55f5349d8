/** Downloads an API response as a file (the token goes in a header, never in a URL): the name from Content-Disposition. */
import { ApiError } from './client';
import { session } from './session';

export async function downloadFile(path: string, fallbackName: string): Promise<string> {
  const res = await fetch(path, { headers: { authorization: `Bearer ${session.token() ?? ''}` } });
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
    throw new ApiError(res.status, body.error ?? 'error', body.message ?? `HTTP ${res.status}`);
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}
