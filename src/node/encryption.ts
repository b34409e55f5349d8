/**
 * EncryptionConfiguration (apiserver.config.k8s.io/v1): which provider writes each
 * resource. The first provider of an entry encrypts new writes; `identity` first means the
 * resources of that entry are stored in plaintext whatever follows it.
 */
import { parseDocument } from 'yaml';

export const STRONG_PROVIDERS = ['aescbc', 'kms', 'secretbox'] as const;
const ALL_PROVIDERS = ['identity', 'aescbc', 'aesgcm', 'secretbox', 'kms'];

export interface EncryptionEntry {
  resources: string[];
  providers: string[];
  /** The provider that encrypts new writes. */
  writer: string;
}

export interface EncryptionAnalysis {
  entries: EncryptionEntry[];
  /** The entry that governs Secrets (first entry listing secrets, `*.` or `*.*`), if any. */
  secrets?: EncryptionEntry;
  problems: string[];
}

/** Throws an Error with a one-line message for a file that is not an EncryptionConfiguration. */
export function parseEncryptionConfig(text: string): EncryptionAnalysis {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new Error(`not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const cfg = doc.toJS() as any;
  if (cfg?.kind !== 'EncryptionConfiguration') throw new Error(`kind is ${JSON.stringify(cfg?.kind)}, expected EncryptionConfiguration`);
  if (!Array.isArray(cfg.resources) || cfg.resources.length === 0) throw new Error('no resources: nothing is encrypted');
  const problems: string[] = [];
  const entries: EncryptionEntry[] = cfg.resources.map((r: any, i: number) => {
    const resources = Array.isArray(r?.resources) ? r.resources.map(String) : [];
    if (resources.length === 0) problems.push(`resources[${i}] lists no resources`);
    const providers: string[] = (Array.isArray(r?.providers) ? r.providers : []).map((p: any, j: number) => {
      const name = p && typeof p === 'object' ? Object.keys(p)[0] : undefined;
      if (!name || !ALL_PROVIDERS.includes(name)) problems.push(`resources[${i}].providers[${j}]: unknown provider ${JSON.stringify(name)}`);
      else if (name !== 'identity' && name !== 'kms' && !(Array.isArray(p[name]?.keys) && p[name].keys.length > 0)) problems.push(`resources[${i}].providers[${j}]: ${name} has no keys`);
      return name ?? '?';
    });
    if (providers.length === 0) problems.push(`resources[${i}] has no providers`);
    return { resources, providers, writer: providers[0] ?? 'none' };
  });
  const secrets = entries.find((e) => e.resources.some((r) => r === 'secrets' || r === '*.' || r === '*.*'));
  return { entries, secrets, problems };
}
