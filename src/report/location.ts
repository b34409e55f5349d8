/** Shared helpers for formatters: where a finding lives, as text. */
import type { Finding } from '../findings/finding.js';

export function locationOf(f: Finding): { file?: string; line?: number; column?: number } {
  const file = f.resource.file?.path ?? f.resource.k8s?.file ?? f.resource.image?.path;
  const line = f.resource.file?.line ?? f.resource.k8s?.line;
  return { file, line, column: f.resource.file?.column };
}

export function subjectOf(f: Finding): string {
  const k = f.resource.k8s;
  if (k) return `${k.kind}/${k.namespace ? `${k.namespace}/` : ''}${k.name}${k.container ? `[${k.container}]` : ''}`;
  if (f.resource.image) return `${f.resource.image.ref ?? f.resource.image.digest ?? ''}${f.resource.image.path ? `:${f.resource.image.path}` : ''}`;
  if (f.resource.container) return `container ${f.resource.container.name ?? f.resource.container.id}`;
  if (f.resource.file) return f.resource.file.path;
  return f.resource.host ?? '';
}
