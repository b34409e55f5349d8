/**
 * yarn.lock (yarn 1 and yarn 4) and pnpm-lock.yaml (lockfile 9.0 and 6.0) inventories equal
 * what the tools that wrote them list as installed (`yarn list`, `yarn info --all
 * --recursive`, `pnpm list --depth Infinity`), on projects installed from the npm registry
 * by .ci/setup.d/56-lockfiles.sh (scoped packages, two versions of one package, peer
 * dependencies, a dev dependency). Broken lockfiles give a warning naming the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inventoryDirectory } from '../../src/inventory/index.js';
import { nameFromSpecifier } from '../../src/inventory/analyzers/yarn-lock.js';
import { pinOf } from '../../src/inventory/analyzers/pnpm-lock.js';
import { cachedPath, missing } from '../helpers/components.js';
import { sorted } from './helpers.js';

const dir = cachedPath('lockfiles');
const ready = existsSync(join(dir, '.done-v1'));

/** name@version → [name, version], the name possibly scoped. */
const split = (s: string): [string, string] => {
  const at = s.lastIndexOf('@');
  return [s.slice(0, at), s.slice(at + 1)];
};

function yarnClassicListing(file: string): string[] {
  const out = new Set<string>();
  const walk = (nodes: { name: string; shadow?: boolean; children?: unknown[] }[]) => {
    for (const n of nodes) {
      if (!n.shadow) out.add(n.name);
      walk((n.children ?? []) as typeof nodes);
    }
  };
  walk(JSON.parse(readFileSync(file, 'utf8')).data.trees);
  return sorted(out);
}

function yarnBerryListing(file: string): string[] {
  const out = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const value = JSON.parse(line).value as string;
    if (value.includes('@workspace:')) continue;
    const [name, version] = value.split(/@npm:/) as [string, string];
    out.add(`${name}@${version}`);
  }
  return sorted(out);
}

function pnpmListing(file: string): string[] {
  const out = new Set<string>();
  type Dep = { from?: string; version: string; dependencies?: Record<string, Dep> };
  const walk = (deps: Record<string, Dep> | undefined) => {
    for (const [name, d] of Object.entries(deps ?? {})) {
      out.add(`${d.from ?? name}@${d.version}`);
      walk(d.dependencies);
    }
  };
  for (const project of JSON.parse(readFileSync(file, 'utf8')) as { dependencies?: Record<string, Dep>; devDependencies?: Record<string, Dep> }[]) {
    walk(project.dependencies);
    walk(project.devDependencies);
  }
  return sorted(out);
}

describe('lockfile inventories equal the tools\' own listings', { skip: missing(ready, 'lockfile fixtures (bash .ci/setup.d/56-lockfiles.sh)') }, () => {
  const cases: [string, string, string, (f: string) => string[]][] = [
    ['yarn 1 (classic yarn.lock)', 'yarn1', 'yarn-lock', yarnClassicListing],
    ['yarn 4 (berry yarn.lock)', 'berry', 'yarn-lock', yarnBerryListing],
    ['pnpm 9 (lockfile 9.0)', 'pnpm9', 'pnpm-lock', pnpmListing],
    ['pnpm 8 (lockfile 6.0)', 'pnpm8', 'pnpm-lock', pnpmListing],
  ];
  for (const [label, sub, analyzer, listing] of cases) {
    test(label, async () => {
      const want = listing(join(dir, sub, 'expected.json'));
      assert.ok(want.length >= 10, `the tool listed ${want.length} packages`);
      assert.ok(want.includes('ms@2.0.0') && want.includes('ms@2.1.2'), 'two versions of ms are installed');
      const inv = await inventoryDirectory(join(dir, sub));
      assert.deepEqual(inv.warnings, []);
      const got = inv.packages.filter((p) => p.analyzer === analyzer);
      assert.deepEqual(sorted(got.map((p) => `${p.name}@${p.version}`)), want);
      const scoped = got.find((p) => p.name === '@isaacs/string-locale-compare');
      assert.equal(scoped?.purl, 'pkg:npm/%40isaacs/string-locale-compare@1.1.0');
      assert.ok(got.every((p) => p.ecosystem === 'npm' && p.location.path.endsWith(sub === 'pnpm9' || sub === 'pnpm8' ? '/pnpm-lock.yaml' : '/yarn.lock')));
    });
  }
});

test('lockfile key spellings across versions, and npm aliases', () => {
  assert.deepEqual(pinOf('/@babel/core/7.24.0_supports-color@8.1.1', null, 5.4), { name: '@babel/core', version: '7.24.0' });
  assert.deepEqual(pinOf('/react-dom@18.2.0(react@18.2.0)', null, 6), { name: 'react-dom', version: '18.2.0' });
  assert.deepEqual(pinOf('@scope/x@1.0.0', null, 9), { name: '@scope/x', version: '1.0.0' });
  assert.equal(pinOf('local@link:../local', null, 9), undefined);
  assert.deepEqual(pinOf('pkg@https://example.com/pkg.tgz', { name: 'pkg', version: '2.0.0' }, 9), { name: 'pkg', version: '2.0.0' });
  assert.equal(nameFromSpecifier('"@scope/name@^1.0.0"'), '@scope/name');
  assert.equal(nameFromSpecifier('my-lodash@npm:lodash@^4.17.21'), 'lodash');
  assert.equal(nameFromSpecifier('"my-scoped@npm:@scope/real@1.0.0"'), '@scope/real');
  assert.equal(split('@a/b@1.2.3')[0], '@a/b');
});

test('broken lockfiles: a warning naming the file, the other lockfiles still read', async () => {
  const root = mkdtempSync(join(tmpdir(), 'gh-lockfiles-'));
  mkdirSync(join(root, 'a'));
  mkdirSync(join(root, 'b'));
  mkdirSync(join(root, 'c'));
  writeFileSync(join(root, 'a', 'yarn.lock'), '# yarn lockfile v1\n\nfoo@^1:\n  version "1.0.0"\nnot a yarn line\n');
  writeFileSync(join(root, 'b', 'pnpm-lock.yaml'), 'lockfileVersion: [\n');
  writeFileSync(join(root, 'c', 'pnpm-lock.yaml'), "lockfileVersion: '9.0'\npackages:\n  ok@1.2.3:\n    resolution: {integrity: sha512-x}\n");
  const inv = await inventoryDirectory(root);
  assert.deepEqual(inv.warnings.map((w) => `${w.analyzer} ${w.path}`).sort(), ['pnpm-lock /b/pnpm-lock.yaml', 'yarn-lock /a/yarn.lock']);
  assert.deepEqual(inv.packages.map((p) => `${p.name}@${p.version}`), ['ok@1.2.3']);
});
