/**
 * `image scan --policy` / `fs scan --policy`: the scan builds the `image` subject and the one
 * policy engine decides. The debootstrap-built Debian image (.ci/setup.d/40-test-images.sh)
 * runs as root, so a pack forbidding root fails the build with the policy's id in the
 * output; the gate flags are an inline policy through the same evaluate().
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cacheHas, missing, testRegistry } from '../helpers/components.js';
import { pushTestImage, registryUp, uniqueRepo } from '../trust/fixtures.js';
import { generateKeyPair } from '../../src/trust/keys.js';
import { runCli } from '../helpers/cli.js';
import { OCI_DIR } from '../fixtures/test-images.js';
import { OciLayoutWriter } from '../fixtures/oci-builder.js';
import { compilePolicySet, evaluate } from '../../src/policy/evaluate.js';
import { loadPacks, resolvePackInput } from '../../src/policy/pack.js';
import { createSubjects } from '../../src/subjects/index.js';
import { gatePolicies } from '../../src/vuln/gate-policy.js';
import { imageFactsFromData, type ImageFacts } from '../../src/vuln/image-facts.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-image-policy-'));
after(() => rmSync(work, { recursive: true, force: true }));
const put = (name: string, text: string): string => {
  const p = join(work, name);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
};

const debian = `oci:${OCI_DIR}:debian`;
const noImages = missing(cacheHas('oci', 'index.json'), 'test images not built (.ci/setup.d/40-test-images.sh)');

const rootPack = `apiVersion: gatehouse.dev/v1
kind: PolicyPack
metadata: { name: no-root }
subject: image
policies:
  - id: team-no-root-images
    name: Images must not run as root
    severity: HIGH
    criteria: { field: image.runsAsRoot, op: equals, value: true }
    enforcement: [fail-build]
    mappings: { cis: [Docker 4.1], nist: ["SP 800-190 4.1.2"] }
  - id: team-no-dpkg
    severity: LOW
    criteria: { field: component.name, op: equals, value: dpkg }
    enforcement: [inform]
`;

let db = '';
let nonRoot = '';
before(async () => {
  const osv = put('osv.json', JSON.stringify({ id: 'GHSA-test-0000-0000', modified: '2024-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'npm', name: 'nothing-here' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] }] }));
  db = join(work, 'vuln.db');
  const imp = await runCli(['db', 'import', '--db', db, osv]);
  assert.equal(imp.code, 0, imp.stderr);
  const w = new OciLayoutWriter(join(work, 'oci'));
  const img = await w.image({ created: new Date().toISOString(), config: { User: '10001', Env: ['PATH=/usr/bin'] }, layers: [{ entries: [{ name: 'app/server', content: 'ELF', mode: 0o755 }] }] });
  w.tag(img, 'nonroot');
  nonRoot = `oci:${w.dir}:nonroot`;
});

const scan = (...args: string[]) => runCli(['image', 'scan', '--db', db, '--db-max-age', '100000', ...args]);

describe('image scan --policy', () => {
  test('a root-user image fails the build (exit 1) with the policy id in table, json and sarif output', { skip: noImages }, async () => {
    const pack = put('no-root.yaml', rootPack);
    const table = await scan(debian, '--policy', pack);
    assert.equal(table.code, 1, table.stderr);
    assert.match(table.stdout, /team-no-root-images +HIGH +fail-build +image .*no USER set: runs as root/);
    assert.match(table.stdout, /team-no-dpkg +LOW +inform +dpkg /);
    assert.match(table.stdout, /Decision: deny \(fail-build\)/);

    const json = await scan(debian, '--policy', pack, '--format', 'json');
    assert.equal(json.code, 1, json.stderr);
    const report = JSON.parse(json.stdout);
    const violations = report.findings.filter((f: { kind: string }) => f.kind === 'policy');
    assert.deepEqual(violations.map((f: { id: string }) => f.id).sort(), ['team-no-dpkg', 'team-no-root-images']);
    const root = violations.find((f: { id: string }) => f.id === 'team-no-root-images');
    assert.equal(root.policy.id, 'team-no-root-images');
    assert.match(root.resource.image.digest, /^sha256:[0-9a-f]{64}$/);
    assert.match(root.fingerprint, /^[0-9a-f]{32}$/);
    // Element violations point at the layer and file the package came from.
    const dpkg = violations.find((f: { id: string }) => f.id === 'team-no-dpkg');
    assert.equal(dpkg.resource.image.path, '/var/lib/dpkg/status');
    assert.equal(typeof dpkg.resource.image.layer, 'number');
    assert.equal(report.policy.decision, 'deny');
    assert.deepEqual(report.policy.enforcement, ['fail-build']);

    const sarif = await scan(debian, '--policy', pack, '--format', 'sarif', '--output', join(work, 'out.sarif'));
    assert.equal(sarif.code, 1, sarif.stderr);
    assert.equal(sarif.stdout, '', 'the report goes to the --output file');
    const doc = JSON.parse(readFileSync(join(work, 'out.sarif'), 'utf8'));
    assert.ok(doc.runs[0].results.some((r: { ruleId: string }) => r.ruleId === 'team-no-root-images'));

    // --exit-code says otherwise: the violations are still reported.
    const lenient = await scan(debian, '--policy', pack, '--exit-code', '0');
    assert.equal(lenient.code, 0, lenient.stderr);
    assert.match(lenient.stdout, /team-no-root-images/);
    const custom = await scan(debian, '--policy', pack, '--exit-code', '7');
    assert.equal(custom.code, 7, custom.stderr);
  });

  test('the built-in build pack by name: root and age fail the build; a non-root fresh image passes', { skip: noImages }, async () => {
    const r = await scan(debian, '--policy', 'build', '--format', 'json');
    assert.equal(r.code, 1, r.stderr);
    const ids = JSON.parse(r.stdout).findings.filter((f: { kind: string }) => f.kind === 'policy').map((f: { id: string }) => f.id);
    assert.ok(ids.includes('image-runs-as-root'), ids.join(','));
    assert.ok(ids.includes('image-older-than-180-days'), ids.join(',')); // the test image is created 2024-06-01
    assert.ok(!ids.includes('image-not-signed-by-trusted-key'), 'no verification was done: the signature policy does not apply');
    const clean = await scan(nonRoot, '--policy', 'build', '--policy', put('again.yaml', rootPack), '--format', 'json');
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(JSON.parse(clean.stdout).policy.decision, 'allow');
  });

  test('a pack with an unknown field is exit 2 with file:line, before any image is read', async () => {
    const bad = put('bad.yaml', rootPack.replace('image.runsAsRoot', 'image.runAsRoot'));
    const r = await scan('oci:/nonexistent/layout:x', '--policy', bad);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^gatehouse: .*bad\.yaml:9: policy team-no-root-images: unknown field "image\.runAsRoot" for subject image \(did you mean "image\.runsAsRoot"\?\)/);
    assert.doesNotMatch(r.stderr, /nonexistent|\n\s+at /);
  });

  test('the gate flags are an inline policy: --severity exact levels with --exit-code, and an ignore entry suppresses through the same exceptions', async () => {
    const w = new OciLayoutWriter(join(work, 'oci2'));
    const img = await w.image({
      created: new Date().toISOString(),
      config: { User: '10001', Env: ['PATH=/usr/bin', `UPLOAD_KEY=${'AKIA' + 'Q3EGRV7XBN5HTWSZ'}`] },
      layers: [{ entries: [{ name: 'usr/bin/curl', content: 'ELF', mode: 0o755 }] }],
    });
    w.tag(img, 'x');
    const ref = `oci:${w.dir}:x`;
    // CRITICAL (the key in ENV) is present; MEDIUM (curl) is present; LOW is not.
    assert.equal((await scan(ref, '--severity', 'LOW', '--exit-code', '3')).code, 0);
    assert.equal((await scan(ref, '--severity', 'MEDIUM', '--exit-code', '3')).code, 3);
    assert.equal((await scan(ref, '--severity', 'CRITICAL', '--exit-code', '4')).code, 4);
    assert.equal((await scan(ref)).code, 0, 'no --exit-code and no --policy: nothing fails');
    // A pack exception in YAML ignore-file form (with an owner) covers a policy violation too.
    const pack = put('secrets.yaml', 'apiVersion: gatehouse.dev/v1\nkind: PolicyPack\nsubject: image\npolicies:\n  - id: no-secrets\n    severity: CRITICAL\n    criteria: { field: secret.rule, op: exists }\n    enforcement: [fail-build]\n');
    assert.equal((await scan(ref, '--policy', pack, '--scanners', 'secret')).code, 1);
    const ignore = put('ignore.yaml', 'vulnerabilities:\n  - id: no-secrets\n    owner: security-team\n    reason: test key, revoked\n    expires: 2099-01-01\n');
    const excepted = await scan(ref, '--policy', pack, '--scanners', 'secret', '--ignorefile', ignore, '--format', 'json');
    assert.equal(excepted.code, 0, excepted.stderr);
    assert.deepEqual(JSON.parse(excepted.stdout).policy.excepted, [{ id: 'no-secrets', owner: 'security-team', reason: 'test key, revoked' }]);
  });
});

describe('image scan --trust-policy: the signature facts through src/trust', { skip: missing(registryUp(), `no registry at ${testRegistry} (.ci/setup.d/30-registry.sh)`) }, () => {
  test('a signed image satisfies "signed by a trusted key"; an unsigned one fails the build; a non-registry ref is a usage error', async () => {
    const env = { GATEHOUSE_PASSWORD: 'test-pass' };
    const pair = await generateKeyPair(env.GATEHOUSE_PASSWORD);
    const key = put('trust/k.key', pair.privatePem);
    put('trust/k.pub', pair.publicPem);
    const signed = await pushTestImage(uniqueRepo('scan-signed'));
    const unsigned = await pushTestImage(uniqueRepo('scan-unsigned'));
    const s = await runCli(['image', 'sign', '--key', key, signed.ref], { env });
    assert.equal(s.code, 0, s.stderr);
    const trust = put('trust/policy.yaml', `keys:\n  release: k.pub\nrules:\n  - name: test-images\n    match: ["${testRegistry}/trust-test/**"]\n    action: require\n    keys: [release]\n`);
    const run = (ref: string) => scan(ref, '--insecure', '--policy', 'build', '--trust-policy', trust, '--format', 'json');
    const policyIds = (r: { stdout: string }) => JSON.parse(r.stdout).findings.filter((f: { kind: string }) => f.kind === 'policy');
    // The pushed test images set no USER, so the root policy fails both; only the unsigned one misses the signature.
    const ok = await run(signed.ref);
    assert.equal(ok.code, 1, ok.stderr);
    assert.deepEqual(policyIds(ok).map((f: { id: string }) => f.id), ['image-runs-as-root']);
    const bad = await run(unsigned.ref);
    assert.equal(bad.code, 1, bad.stderr);
    const v = policyIds(bad);
    assert.deepEqual(v.map((f: { id: string }) => f.id).sort(), ['image-not-signed-by-trusted-key', 'image-runs-as-root']);
    assert.match(v.find((f: { id: string }) => f.id === 'image-not-signed-by-trusted-key').detail, /rule test-images requires signatures by 1 of \[release\], found 0/);
    const local = await scan(nonRoot, '--trust-policy', trust);
    assert.equal(local.code, 2);
    assert.match(local.stderr, /^gatehouse: --trust-policy: "oci:.*" is not in a registry/);
  });
});

describe('fs scan --policy', () => {
  test('component and vulnerability policies over a directory; hygiene fields do not apply to it', async () => {
    const root = join(work, 'root');
    put('root/etc/os-release', 'ID=alpine\nVERSION_ID=3.19.1\n');
    put('root/lib/apk/db/installed', 'P:busybox\nV:1.36.1-r15\nA:x86_64\no:busybox\nL:GPL-2.0-only\n\n');
    const pack = put('fs.yaml', `apiVersion: gatehouse.dev/v1
kind: PolicyPack
subject: image
policies:
  - id: no-gpl-2
    severity: MEDIUM
    criteria: { field: component.licenses, op: equals, value: GPL-2.0-only }
    enforcement: [fail-build]
  - id: root-dir
    severity: HIGH
    criteria: { field: image.runsAsRoot, op: notEquals, value: false }
    enforcement: [fail-build]
`);
    const r = await runCli(['fs', 'scan', root, '--db', db, '--db-max-age', '100000', '--policy', pack, '--format', 'json']);
    assert.equal(r.code, 1, r.stderr);
    const findings = JSON.parse(r.stdout).findings as { id: string; resource: { image: { path?: string } } }[];
    assert.deepEqual(findings.map((f) => f.id), ['no-gpl-2'], 'image.runsAsRoot is not applicable to a directory, so even notEquals does not hold');
    assert.equal(findings[0]!.resource.image.path, '/lib/apk/db/installed');
  });
});

describe('the image subject and the inline gate policy, without a scan', () => {
  const subjects = createSubjects();
  const facts = (extra: Record<string, unknown> = {}): ImageFacts =>
    imageFactsFromData({
      now: '2026-06-01T00:00:00Z',
      ref: 'registry.example/app:1',
      digest: 'sha256:abc',
      vulnerabilities: [
        { id: 'CVE-1', severity: 'HIGH', fixedVersion: '2', published: '2026-01-01T00:00:00Z', package: { name: 'a', version: '1' }, layer: 2, layerDigest: 'sha256:l2', path: '/var/lib/dpkg/status' },
        { id: 'CVE-2', severity: 'LOW', package: { name: 'b', version: '1' } },
      ],
      ...extra,
    }, 'inline');
  const verdict = (policies: ReturnType<typeof gatePolicies>, f = facts()) => evaluate({ kind: 'image', value: f }, compilePolicySet(policies, subjects), { stage: 'build' });

  test('gatePolicies: exactly the listed levels; --ignore-unfixed leaves unfixed ones out; all levels without a list', () => {
    assert.equal(verdict(gatePolicies({ severities: ['CRITICAL'] })).decision, 'allow');
    const high = verdict(gatePolicies({ severities: ['HIGH'] }));
    assert.equal(high.decision, 'deny');
    assert.deepEqual(high.violations.map((v) => `${v.id} ${v.data?.vulnerability}`), ['scan-gate-vulnerability CVE-1']);
    assert.deepEqual(high.violations[0]!.resource.image, { ref: 'registry.example/app:1', digest: 'sha256:abc', layer: 2, layerDigest: 'sha256:l2', path: '/var/lib/dpkg/status' });
    assert.equal(verdict(gatePolicies({ severities: ['LOW'], ignoreUnfixed: true })).decision, 'allow');
    assert.equal(verdict(gatePolicies({})).violations.length, 2);
    const secret = verdict(gatePolicies({ severities: ['CRITICAL'] }), facts({ secrets: [{ rule: 'aws-access-key-id', severity: 'CRITICAL', env: 'KEY' }] }));
    assert.deepEqual(secret.violations.map((v) => v.id), ['scan-gate-secret']);
  });

  test('days since published come from the facts\' own clock', async () => {
    const { policies } = await loadPacks([resolvePackInput('build')], subjects);
    const critical = (now: string) => facts({ now, vulnerabilities: [{ id: 'CVE-9', severity: 'CRITICAL', fixedVersion: '2', published: '2026-05-01T00:00:00Z', package: { name: 'a', version: '1' } }] });
    const set = compilePolicySet(policies, subjects);
    const ids = (now: string) => evaluate({ kind: 'image', value: critical(now) }, set, { stage: 'build' }).violations.map((v) => v.id);
    assert.deepEqual(ids('2026-05-31T00:00:00Z'), []); // 30 days: not more than 30
    assert.deepEqual(ids('2026-06-01T00:00:00Z'), ['image-critical-fixable-vulnerability']);
  });

  test('facts given as data: unknown keys and bad values are one-line errors', () => {
    assert.throws(() => imageFactsFromData({ ref: 'x', vulnerabilites: [] }, 'f.yaml'), /f\.yaml: unknown key "vulnerabilites" \(did you mean "vulnerabilities"\?\)/);
    assert.throws(() => imageFactsFromData({ vulnerabilities: [{ id: 'C', severity: 'SEVERE', package: { name: 'a' } }] }, 'f.yaml'), /f\.yaml\.vulnerabilities\[0\]\.severity: must be one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL/);
    assert.throws(() => imageFactsFromData({ secrets: [{ rule: 'k', value: 'hunter2' }] }, 'f.yaml'), /f\.yaml\.secrets\[0\]: unknown key "value"/);
    assert.throws(() => imageFactsFromData([1], 'f.yaml'), /f\.yaml: image facts must be a mapping/);
    const named = imageFactsFromData({ ref: 'registry.example/team/app:1.2' }, 'f.yaml');
    assert.deepEqual([named.registry, named.repository, named.tag], ['registry.example', 'team/app', '1.2']);
    const dir = imageFactsFromData({ ref: './rootfs' }, 'f.yaml');
    assert.deepEqual([dir.registry, dir.repository, dir.tag], [undefined, undefined, undefined]);
  });
});
