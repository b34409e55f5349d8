/** Declared licence strings → SPDX, where they are valid SPDX; the rest stay free text. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import parse from 'spdx-expression-parse';
import { parse as parseYaml } from 'yaml';

const require = createRequire(import.meta.url);
/** SPDX licence ids (current and deprecated), from spdx-license-ids (spdx-expression-parse's list). */
const DEPRECATED = new Set(require('spdx-license-ids/deprecated.json') as string[]);
const BY_LOWER = new Map([...(require('spdx-license-ids') as string[]), ...DEPRECATED].map((id) => [id.toLowerCase(), id]));
const ALIASES = parseYaml(readFileSync(new URL('./license-aliases.yaml', import.meta.url), 'utf8')) as Record<string, string>;
const GNU = /^(AGPL|LGPL|GPL|GFDL)-(\d+(?:\.\d+)?)(\+)?$/i;

/**
 * The SPDX id a declared licence name stands for, when it stands for exactly one: an id in
 * another case (BSD-3-clause), a GNU licence in Debian's spelling (GPL-2+ → GPL-2.0-or-later,
 * LGPL-2.1 → LGPL-2.1-only), a version without its ".0" (Apache-2), or an alias from
 * license-aliases.yaml (Expat → MIT). Deprecated ids are not answers.
 */
export function spdxIdFor(name: string): string | undefined {
  const current = (id: string | undefined) => (id && !DEPRECATED.has(id) ? id : undefined);
  if (ALIASES[name]) return ALIASES[name];
  const gnu = GNU.exec(name);
  if (gnu) {
    const version = gnu[2]!.includes('.') ? gnu[2]! : `${gnu[2]}.0`;
    return current(BY_LOWER.get(`${gnu[1]}-${version}-${gnu[3] ? 'or-later' : 'only'}`.toLowerCase()));
  }
  return current(BY_LOWER.get(name.toLowerCase())) ?? (/-\d+$/.test(name) ? current(BY_LOWER.get(`${name}.0`.toLowerCase())) : undefined);
}

export function isSpdxExpression(s: string): boolean {
  try {
    parse(s);
    return true;
  } catch {
    return false;
  }
}

/** One SPDX expression for a package's declared licences, or undefined if any is not SPDX. */
export function spdxExpressionOf(licenses: string[] | undefined): string | undefined {
  if (!licenses?.length) return undefined;
  if (!licenses.every(isSpdxExpression)) return undefined;
  return licenses.length === 1 ? licenses[0] : licenses.map((l) => (/\s/.test(l) ? `(${l})` : l)).join(' AND ');
}
