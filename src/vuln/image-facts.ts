/**
 * The `image` subject's value: the facts of one scanned image (or directory) as plain data.
 * `image scan` builds it from the scan report, the inventory, the hygiene walk and, when
 * asked, a trust-policy verification; `policy test`/`policy eval` read the same shape from
 * YAML or JSON. Nothing here reads an image: the CLI assembles the parts (src/cli/image-subject.ts).
 *
 * Secrets carry their rule and where they were found, never their value.
 */
import type { Finding, Severity } from '../findings/finding.js';
import { SEVERITIES } from '../findings/finding.js';
import { closest } from '../policy/fields.js';
import { UserError } from '../util/errors.js';
import { isRootUser, type HygieneFacts } from '../hygiene/index.js';
import { parseReference } from '../image/index.js';
import type { Inventory } from '../inventory/inventory.js';

export interface ImageVulnerability {
  id: string;
  aliases?: string[];
  severity: Severity;
  /** Highest CVSS base score of the advisory, when it has a vector. */
  cvssScore?: number;
  fixedVersion?: string;
  /** fixed, no-fix-yet, will-not-fix, end-of-life, under-investigation. */
  status?: string;
  /** When the advisory was published (ISO), if the feed says. */
  published?: string;
  package: { name: string; version: string; type?: string; purl?: string };
  /** File the package was found in, its layer index and digest. */
  path?: string;
  layer?: number;
  layerDigest?: string;
  title?: string;
}

export interface ImageComponent {
  name: string;
  version: string;
  /** purl type (deb, apk, npm, pypi, golang, maven, …). */
  type?: string;
  purl?: string;
  licenses?: string[];
  path?: string;
  layer?: number;
}

export interface ImageSecret {
  /** The rule that matched (private-key, aws-access-key-id, secret-in-env, …). */
  rule: string;
  severity: Severity;
  /** File the secret is in (absent for one in the config's environment). */
  path?: string;
  /** Environment variable name, for secrets in the image config. */
  env?: string;
  layer?: number;
  line?: number;
}

/** A hygiene check the scanner reported (GH-HYG-ROOT, GH-HYG-AGE, …), as the --severity gate sees it. */
export interface ImageCheck {
  id: string;
  severity: Severity;
  title: string;
  layer?: number;
}

/** The hygiene facts of the walk (src/hygiene), as the image subject reads them. */
export type ImageHygiene = HygieneFacts;

export interface ImageSignature {
  /** At least one signature verified with a key the trust policy names. */
  signed: boolean;
  /** The trust policy's decision (a required signature present, or an exempt rule). */
  trusted: boolean;
  /** Key names of the verified signatures. */
  signers: string[];
  /** The trust rule that matched, and the decision's one-line reason. */
  rule?: string;
  reason?: string;
}

export interface ImageFacts {
  /** When the facts were gathered (ISO): ages are computed against it, so evaluation is deterministic. */
  now: string;
  /** The reference as given (REF or a directory). */
  ref: string;
  registry?: string;
  repository?: string;
  tag?: string;
  digest?: string;
  /** The config's `created` (ISO). */
  created?: string;
  os?: { id: string; versionId?: string; prettyName?: string };
  layers?: { index: number; digest: string; createdBy?: string }[];
  vulnerabilities: ImageVulnerability[];
  components: ImageComponent[];
  secrets: ImageSecret[];
  /** Absent when the hygiene scan did not run (a directory, --scanners without hygiene). */
  hygiene?: ImageHygiene;
  checks?: ImageCheck[];
  /** Absent when no verification was done (no --trust-policy). */
  signature?: ImageSignature;
}

const purlType = (purl: string | undefined): string | undefined => (purl ? /^pkg:([^/]+)\//.exec(purl)?.[1]?.toLowerCase() : undefined);

/** Vulnerability findings (after suppression) → facts. */
export function vulnerabilityFacts(findings: readonly Finding[]): ImageVulnerability[] {
  return findings
    .filter((f) => f.kind === 'vulnerability')
    .map((f) => {
      const d = f.data ?? {};
      const cvss = Array.isArray(d.cvss) ? (d.cvss as { score?: number }[]).map((c) => c.score).filter((s): s is number => typeof s === 'number') : [];
      const purl = typeof d.purl === 'string' ? d.purl : undefined;
      const v: ImageVulnerability = {
        id: f.id,
        severity: f.severity,
        package: { name: String(d.package ?? ''), version: String(d.installedVersion ?? ''), ...(purlType(purl) ? { type: purlType(purl) } : {}), ...(purl ? { purl } : {}) },
      };
      if (Array.isArray(d.aliases) && d.aliases.length) v.aliases = d.aliases.map(String);
      if (cvss.length) v.cvssScore = Math.max(...cvss);
      if (typeof d.fixedVersion === 'string') v.fixedVersion = d.fixedVersion;
      if (typeof d.status === 'string') v.status = d.status;
      if (typeof d.published === 'string') v.published = d.published;
      const img = f.resource.image;
      if (img?.path) v.path = img.path;
      if (img?.layer !== undefined) v.layer = img.layer;
      if (img?.layerDigest) v.layerDigest = img.layerDigest;
      v.title = f.title;
      return v;
    });
}

export function componentFacts(inventory: Inventory): ImageComponent[] {
  return inventory.packages.map((p) => {
    const c: ImageComponent = { name: p.name, version: p.version, purl: p.purl, path: p.location.path };
    const t = purlType(p.purl);
    if (t) c.type = t;
    if (p.licenses?.length) c.licenses = [...p.licenses];
    if (p.location.layer !== undefined) c.layer = p.location.layer;
    return c;
  });
}

/** Secret and hygiene findings → secrets (rule and place, never the value) and checks. */
export function secretAndCheckFacts(findings: readonly Finding[]): { secrets: ImageSecret[]; checks: ImageCheck[] } {
  const secrets: ImageSecret[] = [];
  const checks: ImageCheck[] = [];
  for (const f of findings) {
    const img = f.resource.image;
    if (f.kind === 'secret') {
      const s: ImageSecret = { rule: String(f.data?.secretKind ?? f.id.replace(/^GH-SECRET-/, '')), severity: f.severity };
      if (img?.path) s.path = img.path;
      if (typeof f.data?.env === 'string') s.env = f.data.env;
      if (img?.layer !== undefined) s.layer = img.layer;
      if (typeof f.data?.line === 'number') s.line = f.data.line;
      secrets.push(s);
    } else if (f.kind === 'hygiene') {
      checks.push({ id: f.id, severity: f.severity, title: f.title, ...(img?.layer !== undefined ? { layer: img.layer } : {}) });
    }
  }
  return { secrets, checks };
}

// ---- reading facts given as data (policy test cases, eval files) ----

type Check = (v: unknown, where: string) => void;
const fail = (where: string, msg: string): never => {
  throw new UserError(`${where}: ${msg}`, 'bad-input');
};
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
const str: Check = (v, w) => void (typeof v !== 'string' && fail(w, `must be a string, got ${JSON.stringify(v)}`));
const num: Check = (v, w) => void ((typeof v !== 'number' || !Number.isFinite(v)) && fail(w, `must be a number, got ${JSON.stringify(v)}`));
const bool: Check = (v, w) => void (typeof v !== 'boolean' && fail(w, `must be true or false, got ${JSON.stringify(v)}`));
const sev: Check = (v, w) => void (!(SEVERITIES as readonly unknown[]).includes(v) && fail(w, `must be one of ${SEVERITIES.join(', ')}, got ${JSON.stringify(v)}`));
const date: Check = (v, w) => void ((typeof v !== 'string' || Number.isNaN(Date.parse(v))) && fail(w, `must be an ISO date, got ${JSON.stringify(v)}`));
const strList: Check = (v, w) => void ((!Array.isArray(v) || v.some((x) => typeof x !== 'string')) && fail(w, 'must be a list of strings'));
const obj = (shape: Record<string, Check>, required: string[] = []): Check => (v, w) => {
  if (!isMap(v)) fail(w, 'must be a mapping');
  const m = v as Record<string, unknown>;
  for (const k of Object.keys(m)) {
    const check = shape[k];
    if (!check) {
      const guess = closest(k, Object.keys(shape));
      fail(w, `unknown key "${k}"${guess ? ` (did you mean "${guess}"?)` : ''}`);
    }
    if (m[k] !== undefined) check!(m[k], `${w}.${k}`);
  }
  for (const k of required) if (m[k] === undefined) fail(w, `"${k}" is required`);
};
const list = (item: Check): Check => (v, w) => {
  if (!Array.isArray(v)) fail(w, 'must be a list');
  (v as unknown[]).forEach((x, i) => item(x, `${w}[${i}]`));
};

const FACTS: Check = obj({
  now: date, ref: str, registry: str, repository: str, tag: str, digest: str, created: date,
  os: obj({ id: str, versionId: str, prettyName: str }, ['id']),
  layers: list(obj({ index: num, digest: str, createdBy: str }, ['index', 'digest'])),
  vulnerabilities: list(obj({
    id: str, aliases: strList, severity: sev, cvssScore: num, fixedVersion: str, status: str, published: date,
    package: obj({ name: str, version: str, type: str, purl: str }, ['name']),
    path: str, layer: num, layerDigest: str, title: str,
  }, ['id', 'severity', 'package'])),
  components: list(obj({ name: str, version: str, type: str, purl: str, licenses: strList, path: str, layer: num }, ['name'])),
  secrets: list(obj({ rule: str, severity: sev, path: str, env: str, layer: num, line: num }, ['rule'])),
  hygiene: obj({ user: str, runsAsRoot: bool, packageManagers: strList, attackerTools: strList, wastedBytes: num, setuidFiles: strList }),
  checks: list(obj({ id: str, severity: sev, title: str, layer: num }, ['id', 'severity'])),
  signature: obj({ signed: bool, trusted: bool, signers: strList, rule: str, reason: str }, ['signed']),
});

/**
 * Image facts given as data (YAML/JSON): every key is checked (an unknown key is an error
 * with a did-you-mean, never ignored); lists default to empty, `now` to the current time.
 */
export function imageFactsFromData(data: unknown, file: string, clock: () => Date = () => new Date()): ImageFacts {
  if (!isMap(data)) fail(file, 'image facts must be a mapping (ref, vulnerabilities, components, secrets, hygiene, signature, …)');
  const raw = data as Record<string, unknown>;
  // YAML reads unquoted timestamps as Dates: take them as ISO strings.
  const norm = (v: unknown): unknown => (v instanceof Date ? v.toISOString() : Array.isArray(v) ? v.map(norm) : isMap(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)])) : v);
  const d = norm(raw) as Record<string, unknown>;
  FACTS(d, file);
  const h = d.hygiene as Partial<ImageHygiene> | undefined;
  const s = d.signature as Partial<ImageSignature> | undefined;
  const facts: ImageFacts = {
    ...(d as unknown as ImageFacts),
    now: typeof d.now === 'string' ? new Date(d.now).toISOString() : clock().toISOString(),
    ref: typeof d.ref === 'string' ? d.ref : file,
    vulnerabilities: (d.vulnerabilities as ImageVulnerability[] | undefined) ?? [],
    components: ((d.components as ImageComponent[] | undefined) ?? []).map((c) => ({ ...c, version: c.version ?? '' })),
    secrets: ((d.secrets as ImageSecret[] | undefined) ?? []).map((x) => ({ ...x, severity: x.severity ?? 'HIGH' })),
  };
  facts.vulnerabilities = facts.vulnerabilities.map((v) => ({ ...v, package: { ...v.package, version: v.package.version ?? '' } }));
  // A registry reference names its registry, repository and tag (as `image scan` fills them).
  if (typeof d.ref === 'string' && facts.registry === undefined && facts.repository === undefined) {
    let parsed: ReturnType<typeof parseReference> | undefined;
    try {
      parsed = parseReference(d.ref);
    } catch {
      parsed = undefined; // not an image reference (a directory): no name parts
    }
    if (parsed?.transport === 'docker' && !d.ref.startsWith('/') && !d.ref.startsWith('.')) {
      facts.registry = parsed.registry;
      facts.repository = parsed.repository;
      if (parsed.tag && facts.tag === undefined) facts.tag = parsed.tag;
      if (parsed.digest && facts.digest === undefined) facts.digest = parsed.digest;
    }
  }
  if (h) {
    const user = h.user ?? '';
    facts.hygiene = {
      user,
      runsAsRoot: h.runsAsRoot ?? isRootUser(user),
      packageManagers: h.packageManagers ?? [],
      attackerTools: h.attackerTools ?? [],
      wastedBytes: h.wastedBytes ?? 0,
      setuidFiles: h.setuidFiles ?? [],
    };
  }
  if (s) facts.signature = { signed: s.signed!, trusted: s.trusted ?? s.signed!, signers: s.signers ?? [], ...(s.rule ? { rule: s.rule } : {}), ...(s.reason ? { reason: s.reason } : {}) };
  return facts;
}
