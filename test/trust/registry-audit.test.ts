/** `gatehouse registry audit` against the local registry, with images of chosen ages. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { missing, testRegistry } from '../helpers/components.js';
import { generateKeyPair } from '../../src/trust/keys.js';
import { pushTestImage, registryUp, scratchDir, uniqueRepo } from './fixtures.js';

const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString();

describe('registry audit', { skip: missing(registryUp(), `no registry at ${testRegistry}`) }, () => {
  let dir: string;
  let cleanup: () => void;
  before(() => ({ dir, cleanup } = scratchDir()));
  after(() => cleanup?.());

  test('reports digest, created, age, size, signed/verified; flags stale, unsigned, moved; paginates', async () => {
    const prefix = uniqueRepo('audit');
    const oldImg = await pushTestImage(`${prefix}/old`, 'v1', daysAgo(400));
    const fresh = await pushTestImage(`${prefix}/fresh`, 'v2', daysAgo(10));
    const pair = await generateKeyPair('a');
    writeFileSync(join(dir, 'k.key'), pair.privatePem);
    writeFileSync(join(dir, 'k.pub'), pair.publicPem);
    const signed = await runCli(['image', 'sign', '--key', join(dir, 'k.key'), fresh.ref], { env: { GATEHOUSE_PASSWORD: 'a' } });
    assert.equal(signed.code, 0, signed.stderr);
    writeFileSync(join(dir, 'policy.yaml'), `keys: { k: k.pub }\nrules:\n  - { match: "${testRegistry}/${prefix}/**", action: require, keys: [k] }\n`);
    const state = join(dir, 'state.json');

    // Page size 2 forces Link pagination through the catalog (other tests' repositories included).
    const args = ['registry', 'audit', testRegistry, '--repo', `${prefix}/**`, '--format', 'json', '--page-size', '2', '--state', state];
    const r = await runCli([...args, '--policy', join(dir, 'policy.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout);
    assert.deepEqual(rows.map((x: any) => `${x.repository}:${x.tag}`), [`${prefix}/fresh:v2`, `${prefix}/old:v1`], 'signature tags are not listed as images');
    const [f, o] = rows;
    assert.equal(o.digest, oldImg.digest);
    assert.ok(o.ageDays >= 399 && o.ageDays <= 401, String(o.ageDays));
    assert.deepEqual(o.flags, ['stale', 'unsigned', 'unverified']);
    assert.equal(f.digest, fresh.digest);
    assert.equal(f.signed, true);
    assert.equal(f.verified, true);
    assert.deepEqual(f.flags, []);
    assert.ok(f.size > 100 && f.size < 10_000);
    assert.deepEqual(JSON.parse(readFileSync(state, 'utf8')), { [`${prefix}/fresh:v2`]: fresh.digest, [`${prefix}/old:v1`]: oldImg.digest });

    // Move a tag; the next audit flags it, and --max-age changes what counts as stale.
    const moved = await pushTestImage(`${prefix}/fresh`, 'v2', daysAgo(1));
    const again = await runCli(['registry', 'audit', testRegistry, '--repo', `${prefix}/**`, '--format', 'csv', '--state', state, '--max-age', '2y', '--exit-code', '3']);
    assert.equal(again.code, 3, again.stderr);
    const lines = again.stdout.trim().split('\n');
    assert.equal(lines[0], 'repository,tag,digest,created,ageDays,size,signed,verified,flags,error');
    assert.match(lines[1]!, new RegExp(`^${prefix}/fresh,v2,${moved.digest},.*,1,\\d+,false,,unsigned moved,$`));
    assert.match(lines[2]!, new RegExp(`^${prefix}/old,v1,${oldImg.digest},.*,false,,unsigned,$`));
  });

  test('bad input: unknown age unit, broken state file', async () => {
    const bad = await runCli(['registry', 'audit', testRegistry, '--max-age', '6 months']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^gatehouse: invalid age "6 months"/);
    writeFileSync(join(dir, 'bad-state.json'), '[1,2]');
    const st = await runCli(['registry', 'audit', testRegistry, '--repo', 'none/**', '--state', join(dir, 'bad-state.json')]);
    assert.equal(st.code, 2);
    assert.match(st.stderr, /not an audit state file/);
  });
});
