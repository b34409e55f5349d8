/**
 * Node packages a yarn.lock pins, for source trees (in images node_modules is what counts).
 * Two formats share the name:
 * - yarn 1 ("# yarn lockfile v1"): yarn's own indented format, parsed here by hand because
 *   no maintained npm library reads it (@yarnpkg/lockfile is unmaintained since 2018);
 *   only the entry headers (specifier lists) and their `version` lines matter.
 * - yarn 2+ (berry): YAML with `__metadata`; each entry's `resolution` names the package
 *   (`name@npm:1.2.3`), workspaces (`workspace:`) are the project itself.
 */
import { parse as parseYaml } from 'yaml';
import type { Analyzer } from '../analyzer.js';
import type { Package } from '../package.js';
import { readText } from '../streams.js';
import { npmPackage } from './npm.js';

const MAX_LOCK_BYTES = 128 * 1024 * 1024;

export const yarnLockAnalyzer: Analyzer = {
  name: 'yarn-lock',
  sources: ['directory'],
  wants: (path) => path.endsWith('/yarn.lock') && !path.includes('/node_modules/'),
  async visit({ path, content }) {
    const text = await readText(content, MAX_LOCK_BYTES);
    const pins = /^__metadata:/m.test(text) ? berryPins(text) : classicPins(text);
    const seen = new Set<string>();
    const packages: Package[] = [];
    for (const { name, version } of pins) {
      const key = `${name}@${version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      packages.push({ ...npmPackage(name, version, path), analyzer: 'yarn-lock' });
    }
    return { packages };
  },
};

interface Pin {
  name: string;
  version: string;
}

/** The package a specifier names: `@scope/name@^1`, `name@npm:^1`, `alias@npm:real@^1`. */
export function nameFromSpecifier(spec: string): string {
  const s = spec.trim().replace(/^"|"$/g, '');
  const at = s.indexOf('@', 1);
  const name = at > 0 ? s.slice(0, at) : s;
  const range = at > 0 ? s.slice(at + 1) : '';
  // An npm alias installs another package under this name: report the real package.
  const alias = /^npm:((?:@[^/@]+\/)?[^@]+)@/.exec(range);
  return alias ? alias[1]! : name;
}

function classicPins(text: string): Pin[] {
  if (!/^# yarn lockfile v1/m.test(text)) throw new Error('not a yarn lockfile (no "# yarn lockfile v1" header and no __metadata)');
  const pins: Pin[] = [];
  let header: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    if (!/^\s/.test(line)) {
      if (!line.endsWith(':')) throw new Error(`unexpected line in yarn.lock: ${line.slice(0, 80)}`);
      header = line.slice(0, -1);
      continue;
    }
    const m = /^ {2}version:? "?([^"\s]+)"?\s*$/.exec(line);
    if (m && header !== undefined) {
      pins.push({ name: nameFromSpecifier(header.split(/,\s*/)[0]!), version: m[1]! });
      header = undefined;
    }
  }
  return pins;
}

function berryPins(text: string): Pin[] {
  const doc = parseYaml(text, { maxAliasCount: 100 }) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object') throw new Error('yarn.lock is not a YAML mapping');
  const pins: Pin[] = [];
  for (const [key, entry] of Object.entries(doc)) {
    if (key === '__metadata' || !entry || typeof entry !== 'object') continue;
    const e = entry as { version?: unknown; resolution?: unknown };
    const resolution = typeof e.resolution === 'string' ? e.resolution : '';
    if (typeof e.version !== 'string' || resolution.includes('@workspace:') || resolution.includes('@link:') || resolution.includes('@portal:')) continue;
    // `name@npm:1.2.3`, `name@patch:name@npm%3A1.2.3#…`: the name is what precedes the protocol.
    const at = resolution.indexOf('@', 1);
    const name = at > 0 ? resolution.slice(0, at) : nameFromSpecifier(key.split(/,\s*/)[0]!);
    pins.push({ name, version: e.version });
  }
  return pins;
}
