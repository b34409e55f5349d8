import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatReference, parseReference } from '../../src/image/reference.js';
import { parseChallenges } from '../../src/image/registry/challenge.js';
import { parsePlatform, selectPlatform } from '../../src/image/platform.js';
import { parseSize } from '../../src/image/limits.js';
import { normalizeEntryPath } from '../../src/image/squash.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('image references (as skopeo/podman name them)', () => {
  const cases: [string, string][] = [
    ['nginx', 'docker.io/library/nginx:latest'],
    ['nginx:1.25', 'docker.io/library/nginx:1.25'],
    ['library/nginx', 'docker.io/library/nginx:latest'],
    ['bitnami/redis:7', 'docker.io/bitnami/redis:7'],
    ['docker.io/nginx', 'docker.io/library/nginx:latest'],
    ['index.docker.io/library/nginx:1', 'docker.io/library/nginx:1'],
    ['docker://alpine:3.19', 'docker.io/library/alpine:3.19'],
    ['registry.example:5000/team/app:1.2', 'registry.example:5000/team/app:1.2'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/a/b/c', 'localhost:5000/a/b/c:latest'],
    ['127.0.0.1:5000/x/y:v1', '127.0.0.1:5000/x/y:v1'],
    [`ghcr.io/org/app@${D}`, `ghcr.io/org/app@${D}`],
    [`ghcr.io/org/app:1.0@${D}`, `ghcr.io/org/app:1.0@${D}`],
    ['oci:/tmp/layout', 'oci:/tmp/layout'],
    ['oci:/tmp/layout:v1', 'oci:/tmp/layout:v1'],
    ['oci:relative/dir:tag', 'oci:relative/dir:tag'],
    ['docker-archive:/tmp/img.tar', 'docker-archive:/tmp/img.tar'],
    ['docker-archive:/tmp/img.tar:app:1', 'docker-archive:/tmp/img.tar:app:1'],
    ['docker-daemon:app:latest', 'docker-daemon:app:latest'],
  ];
  for (const [input, canonical] of cases) {
    it(`${input} → ${canonical}`, () => assert.equal(formatReference(parseReference(input)), canonical));
  }

  it('keeps tag and digest separate', () => {
    const r = parseReference(`quay.io/a/b:2@${D}`);
    assert.deepEqual(r, { transport: 'docker', registry: 'quay.io', repository: 'a/b', tag: '2', digest: D });
  });

  for (const bad of ['', 'UPPER/case', 'nginx:bad tag', 'nginx@sha256:short', 'a//b', 'oci:', 'docker-daemon:']) {
    it(`rejects "${bad}" with a clear message`, () => {
      assert.throws(() => parseReference(bad), (e: Error) => e.name === 'UserError' && e.message.length > 0 && !e.message.includes('\n'));
    });
  }
});

describe('WWW-Authenticate challenges', () => {
  it('parses Bearer with quoted params', () => {
    assert.deepEqual(
      parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'),
      [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } }],
    );
  });
  it('parses Basic and several challenges', () => {
    assert.deepEqual(parseChallenges('Basic realm="Registry Realm", Bearer realm="https://t/x",service=svc'), [
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
      { scheme: 'bearer', params: { realm: 'https://t/x', service: 'svc' } },
    ]);
  });
  it('handles escapes and commas inside quotes', () => {
    assert.deepEqual(parseChallenges('Bearer realm="a,b\\"c"'), [{ scheme: 'bearer', params: { realm: 'a,b"c' } }]);
  });
});

describe('platforms', () => {
  const m = (os: string, architecture: string, variant?: string) => ({ mediaType: 'x', digest: `${architecture}${variant ?? ''}`, size: 1, platform: { os, architecture, variant } });
  const list = [m('linux', 'amd64'), m('linux', 'arm', 'v6'), m('linux', 'arm', 'v7'), m('linux', 'arm64', 'v8'), m('windows', 'amd64')];
  it('selects exact os/arch/variant', () => {
    assert.equal(selectPlatform(list, parsePlatform('linux/arm/v6'))?.digest, 'armv6');
    assert.equal(selectPlatform(list, parsePlatform('linux/arm64'))?.digest, 'arm64v8');
    assert.equal(selectPlatform(list, parsePlatform('linux/arm'))?.digest, 'armv7');
    assert.equal(selectPlatform(list, parsePlatform('windows/amd64'))?.digest, 'amd64');
    assert.equal(selectPlatform(list, parsePlatform('linux/s390x')), undefined);
  });
  it('rejects malformed platforms', () => assert.throws(() => parsePlatform('linux'), /invalid platform/));
});

describe('sizes and entry paths', () => {
  it('parses sizes', () => {
    assert.equal(parseSize('512'), 512);
    assert.equal(parseSize('10k'), 10240);
    assert.equal(parseSize('2G'), 2 * 1024 ** 3);
    assert.equal(parseSize('1.5MiB'), 1.5 * 1024 ** 2);
    assert.throws(() => parseSize('lots'));
  });
  it('normalizes tar names and refuses escapes', () => {
    assert.equal(normalizeEntryPath('./etc/passwd', 'x'), '/etc/passwd');
    assert.equal(normalizeEntryPath('usr//bin/./a/../b', 'x'), '/usr/bin/b');
    assert.throws(() => normalizeEntryPath('../etc/passwd', 'x'), /escapes the image root/);
    assert.throws(() => normalizeEntryPath('a/../../b', 'x'), /escapes the image root/);
    // A leading "/" is relative to the root, as GNU tar, containerd and Trivy read it (umoci insert).
    assert.equal(normalizeEntryPath('/etc/passwd', 'x'), '/etc/passwd');
    assert.equal(normalizeEntryPath('/', 'x'), '/');
    assert.throws(() => normalizeEntryPath('/../etc/passwd', 'x'), /escapes the image root/);
  });
});
