/** Trust policy: parsing, glob matching, k-of-n decisions, and strict validation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decide, findRule, loadTrustPolicy, parseTrustPolicy } from '../../src/trust/policy.js';
import type { SignatureEvidence } from '../../src/trust/verify.js';
import { scratchDir } from './fixtures.js';

const pubPem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }) as string;

function evidence(keys: string[][]): SignatureEvidence {
  return {
    reference: 'r@d',
    digest: 'd',
    verified: keys.map((k) => ({ keys: k, source: 's', format: 'simple-signing' as const, dockerReference: 'r', digest: 'd', annotations: null })),
    rejected: [{ source: 's', reason: 'signature does not verify' }],
  };
}

test('rules: first match wins, globs span segments only with **, k-of-n counts distinct keys', async () => {
  const { dir, cleanup } = scratchDir();
  try {
    writeFileSync(join(dir, 'a.pub'), pubPem());
    writeFileSync(
      join(dir, 'policy.yaml'),
      `keys:
  a: a.pub
  b: { pem: ${JSON.stringify(pubPem())} }
rules:
  - name: blocked
    match: "evil.example/**"
    action: reject
  - name: prod
    match: ["reg.example/prod/**", "reg.example:5000/prod/*"]
    action: require
    keys: [a, b]
    threshold: 2
  - name: dev
    match: reg.example/dev/*
    action: require
    keys: [a, b]
  - name: base
    match: docker.io/library/*
    action: exempt
default: reject
`,
    );
    const p = await loadTrustPolicy(join(dir, 'policy.yaml'));
    assert.equal(findRule(p, 'evil.example/x/y')?.name, 'blocked');
    assert.equal(findRule(p, 'reg.example/prod/a/b')?.name, 'prod');
    assert.equal(findRule(p, 'reg.example:5000/prod/a')?.name, 'prod');
    assert.equal(findRule(p, 'reg.example:5000/prod/a/b'), undefined);
    assert.equal(findRule(p, 'reg.example/dev/a')?.name, 'dev');
    assert.equal(findRule(p, 'reg.example/dev/a/b'), undefined);
    assert.equal(findRule(p, 'docker.io/library/nginx')?.name, 'base');
    const prod = findRule(p, 'reg.example/prod/x')!;
    assert.equal(decide(p, prod, evidence([['a']])).allowed, false);
    assert.equal(decide(p, prod, evidence([['a'], ['a']])).allowed, false, 'two signatures by one key are one key');
    assert.equal(decide(p, prod, evidence([['a'], ['b']])).allowed, true);
    assert.match(decide(p, prod, evidence([['a']])).reason, /requires signatures by 2 of \[a, b\], found 1 \(a\); rejected signatures: signature does not verify/);
    assert.equal(decide(p, findRule(p, 'reg.example/dev/x'), evidence([['b']])).allowed, true);
    assert.equal(decide(p, findRule(p, 'evil.example/x')).allowed, false);
    assert.equal(decide(p, findRule(p, 'docker.io/library/nginx')).allowed, true);
    assert.equal(decide(p, undefined).allowed, false);
    assert.equal(decide({ ...p, default: 'exempt' }, undefined).allowed, true);
  } finally {
    cleanup();
  }
});

test('invalid policies are rejected with the field at fault', async () => {
  const k = { pem: pubPem() };
  const cases: [unknown, RegExp][] = [
    [[], /must be a YAML mapping/],
    [{ rulez: [] }, /unknown field "rulez"/],
    [{ keys: { a: k }, rules: [{ match: 'x/*', action: 'require', keys: ['b'] }] }, /rule 1: unknown key "b"/],
    [{ keys: { a: k }, rules: [{ match: 'x/*', action: 'require' }] }, /needs at least one key/],
    [{ keys: { a: k }, rules: [{ match: 'x/*', action: 'require', keys: ['a'], threshold: 2 }] }, /threshold/],
    [{ rules: [{ match: 'x/*', action: 'allow' }] }, /"action" must be require, reject or exempt/],
    [{ rules: [{ action: 'exempt' }] }, /"match" must be a glob/],
    [{ rules: [{ match: 'x', action: 'exempt', keyz: [] }] }, /rule 1: unknown field "keyz"/],
    [{ default: 'allow' }, /"default" must be reject or exempt/],
    [{ keys: { a: 42 } }, /key "a" must be/],
    [{ keys: { a: { pem: 'junk' } } }, /no PEM block found/],
  ];
  for (const [doc, re] of cases) await assert.rejects(parseTrustPolicy(doc, 'p.yaml', '/nonexistent'), re);
});
