/** The simple-signing payload's exact bytes and its parser's checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cosignDockerReference, parseSimpleSigningPayload, simpleSigningPayload } from '../../src/trust/simple-signing.js';
import { goJsonStringMap } from '../../src/trust/go-json.js';

const digest = `sha256:${'ab'.repeat(32)}`;

test('payload field set and order match cosign (optional null without annotations)', () => {
  assert.equal(
    simpleSigningPayload('127.0.0.1:5000/a/b', digest).toString(),
    `{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/a/b"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":null}`,
  );
});

test('annotations: Go map order (UTF-8 bytes) and Go HTML escaping', () => {
  assert.equal(goJsonStringMap({ b: '1', a: '<&>', 'é': 'x', Z: '\u2028' }), '{"Z":"\\u2028","a":"\\u003c\\u0026\\u003e","b":"1","é":"x"}');
});

test('Docker Hub repositories are named as go-containerregistry names them', () => {
  assert.equal(cosignDockerReference('docker.io', 'library/nginx'), 'index.docker.io/library/nginx');
  assert.equal(cosignDockerReference('ghcr.io', 'o/r'), 'ghcr.io/o/r');
});

test('parser round-trips and rejects malformed payloads', () => {
  const claims = parseSimpleSigningPayload(simpleSigningPayload('r/x', digest, { k: 'v' }));
  assert.deepEqual(claims, { dockerReference: 'r/x', manifestDigest: digest, annotations: { k: 'v' } });
  assert.throws(() => parseSimpleSigningPayload(Buffer.from('nope')), /not valid JSON/);
  assert.throws(() => parseSimpleSigningPayload(Buffer.from('{}')), /no "critical" section/);
  assert.throws(() => parseSimpleSigningPayload(Buffer.from('{"critical":{"type":"other"}}')), /payload type is "other"/);
  assert.throws(() => parseSimpleSigningPayload(Buffer.from('{"critical":{"type":"cosign container image signature"}}')), /lacks docker-manifest-digest/);
});
