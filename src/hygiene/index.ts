/**
 * Image hygiene as findings: runs as root, secrets in env vars and files, package managers
 * and attacker tools present, image age, and layers whose files later layers delete or
 * replace (wasted size). Works from one walk shared with the inventory.
 */
import type { Finding, Severity } from '../findings/finding.js';
import type { FileVisitor, ImageWalk, OpenedImage } from '../image/index.js';
import { hygieneRules } from './rules.js';
import { envSecrets, secretsVisitor, type SecretHit } from './secrets.js';

export { findSecrets, envSecrets, secretsVisitor } from './secrets.js';

export interface HygieneOptions {
  /** Report images older than this many days (default 180, like `registry audit`). */
  maxAgeDays?: number;
  /** Report layers wasting at least this many bytes (default 1 MiB). */
  wasteBytes?: number;
  now?: Date;
  /** Which checks: 'secret' and/or 'hygiene' (default both). */
  scanners?: ('secret' | 'hygiene')[];
}

export function hygieneVisitors(opts: HygieneOptions = {}): FileVisitor[] {
  return (opts.scanners ?? ['secret', 'hygiene']).includes('secret') ? [secretsVisitor()] : [];
}

function finding(image: OpenedImage, f: Omit<Finding, 'resource'> & { path?: string; layer?: number }): Finding {
  const { path, layer, ...rest } = f;
  return {
    ...rest,
    resource: { image: { ref: image.name, digest: image.digest, ...(path ? { path } : {}), ...(layer !== undefined ? { layer, layerDigest: image.layers[layer]?.digest } : {}) } },
  };
}

export function imageHygiene(image: OpenedImage, walk: ImageWalk, opts: HygieneOptions = {}): Finding[] {
  const scanners = opts.scanners ?? ['secret', 'hygiene'];
  const out: Finding[] = [];
  const cfg = image.config.config ?? {};
  if (scanners.includes('secret')) {
    for (const s of envSecrets(cfg.Env ?? [])) {
      out.push(finding(image, {
        id: `GH-SECRET-${s.kind}`, kind: 'secret', severity: s.severity,
        title: `environment variable ${s.name} holds a secret (${s.kind})`,
        detail: 'Secrets baked into the image config are visible to anyone who can pull the image.',
        remediation: 'Pass the secret at run time (a mounted file or a secrets manager), not in ENV.',
        data: { env: s.name, secretKind: s.kind },
      }));
    }
    for (const r of walk.results.get('hygiene-secrets') ?? []) {
      for (const hit of r.result as SecretHit[]) {
        out.push(finding(image, {
          id: `GH-SECRET-${hit.kind}`, kind: 'secret', severity: hit.severity, path: r.path, layer: r.layer,
          title: `${hit.kind} in ${r.path} (line ${hit.line})`,
          remediation: 'Remove the file from the image (and from every layer: a later delete does not erase it) and rotate the secret.',
          data: { secretKind: hit.kind, line: hit.line },
        }));
      }
    }
  }
  if (!scanners.includes('hygiene')) return out;
  const facts = hygieneFacts(image, walk, opts);
  if (facts.runsAsRoot) {
    out.push(finding(image, {
      id: 'GH-HYG-ROOT', kind: 'hygiene', severity: 'MEDIUM',
      title: facts.user ? `image runs as ${facts.user.split(':')[0]}` : 'image runs as root (no USER set)',
      remediation: 'Add a USER instruction with a non-root uid.',
      references: ['https://csrc.nist.gov/publications/detail/sp/800-190/final'],
    }));
  }
  for (const [category, found] of [['package-manager', facts.packageManagers], ['attacker-tool', facts.attackerTools]] as const) {
    if (found.length) {
      const severity: Severity = category === 'attacker-tool' ? 'MEDIUM' : 'LOW';
      out.push(finding(image, {
        id: `GH-HYG-${category.toUpperCase()}`, kind: 'hygiene', severity,
        title: `${category.replace('-', ' ')}s present: ${[...new Set(found.map((p) => p.slice(p.lastIndexOf('/') + 1)))].join(', ')}`,
        remediation: 'Use a minimal or distroless base, or remove them in the same layer that installs them.',
        data: { paths: found },
      }));
    }
  }
  const created = Date.parse(image.config.created ?? '');
  const maxAge = opts.maxAgeDays ?? 180;
  if (Number.isFinite(created)) {
    const days = Math.floor(((opts.now ?? new Date()).getTime() - created) / 86_400_000);
    if (days > maxAge) {
      out.push(finding(image, {
        id: 'GH-HYG-AGE', kind: 'hygiene', severity: 'LOW',
        title: `image is ${days} days old (created ${image.config.created})`,
        remediation: 'Rebuild regularly so base-image fixes reach it.',
        data: { days, created: image.config.created, maxAgeDays: maxAge },
      }));
    }
  }
  const threshold = opts.wasteBytes ?? 1024 * 1024;
  for (const [index, wasted] of wastePerLayer(walk)) {
    if (wasted >= threshold) {
      out.push(finding(image, {
        id: 'GH-HYG-WASTE', kind: 'hygiene', severity: 'LOW', layer: index,
        title: `layer ${index} adds ${wasted} bytes of files that later layers delete or replace`,
        detail: image.layers[index]?.createdBy,
        remediation: 'Delete temporary files in the same RUN step that creates them (or use a multi-stage build).',
        data: { wastedBytes: wasted },
      }));
    }
  }
  return out;
}

/** The hygiene facts of an image (the `image` policy subject reads these). */
export interface HygieneFacts {
  /** The config's USER ("" when unset). */
  user: string;
  runsAsRoot: boolean;
  packageManagers: string[];
  attackerTools: string[];
  /** Bytes of files that later layers delete or replace, over all layers. */
  wastedBytes: number;
  /** Regular files with the setuid or setgid bit. */
  setuidFiles: string[];
}

/** USER "" (unset), "0", "root", "0:…", "root:…" → root. */
export function isRootUser(user: string): boolean {
  const u = user.split(':')[0] ?? '';
  return u === '' || u === '0' || u === 'root';
}

/** Bytes each layer adds in files that do not survive into the final filesystem. */
function wastePerLayer(walk: ImageWalk): [number, number][] {
  const surviving = new Map<number, number>();
  for (const e of walk.files.entries()) if (e.type === 'file') surviving.set(e.layer, (surviving.get(e.layer) ?? 0) + e.size);
  return walk.layers.map((l) => [l.index, l.fileBytes - (surviving.get(l.index) ?? 0)]);
}

export function hygieneFacts(image: OpenedImage, walk: ImageWalk, _opts: HygieneOptions = {}): HygieneFacts {
  const user = image.config.config?.User ?? '';
  const rules = hygieneRules();
  const tools: Record<string, string[]> = {};
  for (const [category, names] of Object.entries(rules.tools)) {
    const found: string[] = [];
    for (const dir of rules.binDirs) {
      for (const name of names) {
        const path = `${dir}/${name}`;
        const e = walk.files.get(path);
        if (e && (e.type === 'file' || e.type === 'hardlink' || e.type === 'symlink')) found.push(path);
      }
    }
    tools[category] = found;
  }
  const setuidFiles: string[] = [];
  for (const e of walk.files.entries()) if (e.type === 'file' && (e.mode & 0o6000) !== 0) setuidFiles.push(e.path);
  return {
    user,
    runsAsRoot: isRootUser(user),
    packageManagers: tools['package-manager'] ?? [],
    attackerTools: tools['attacker-tool'] ?? [],
    wastedBytes: wastePerLayer(walk).reduce((n, [, w]) => n + Math.max(0, w), 0),
    setuidFiles,
  };
}
