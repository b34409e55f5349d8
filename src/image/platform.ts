/** Platform strings (linux/arm64/v8) and the host default, as podman and skopeo use them. */
import { UserError } from '../util/errors.js';
import type { Descriptor, Platform } from './types.js';

const NODE_TO_OCI_ARCH: Record<string, string> = {
  x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64',
};

export function hostPlatform(): Platform {
  const architecture = NODE_TO_OCI_ARCH[process.arch] ?? process.arch;
  return { os: 'linux', architecture, ...(architecture === 'arm64' ? { variant: 'v8' } : {}) };
}

export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !p)) {
    throw new UserError(`invalid platform "${text}" (expected os/arch[/variant], e.g. linux/arm64)`, 'bad-platform');
  }
  return { os: parts[0]!, architecture: parts[1]!, ...(parts[2] ? { variant: parts[2] } : {}) };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** arm64 defaults to v8, arm to v7, when an index leaves the variant out. */
function normalizedVariant(p: Platform): string | undefined {
  if (p.variant) return p.variant;
  if (p.architecture === 'arm64') return 'v8';
  if (p.architecture === 'arm') return 'v7';
  return undefined;
}

/** Picks the manifest for `wanted` from an index (exact variant first, then any variant). */
export function selectPlatform(manifests: Descriptor[], wanted: Platform): Descriptor | undefined {
  const candidates = manifests.filter(
    (d) => d.platform && d.platform.os === wanted.os && d.platform.architecture === wanted.architecture,
  );
  const variant = normalizedVariant(wanted);
  return (
    candidates.find((d) => normalizedVariant(d.platform!) === variant) ??
    (wanted.variant ? undefined : candidates[0])
  );
}
