/** The hint prefilter never hides a secret: one real-shaped example per rule is still found. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findSecrets } from '../../src/hygiene/secrets.js';
import { hygieneRules } from '../../src/hygiene/rules.js';

const EXAMPLES: Record<string, string[]> = {
  'private-key': ['-----BEGIN OPENSSH PRIVATE KEY-----', '-----BEGIN PRIVATE KEY-----'],
  'aws-access-key-id': ['id = AKIAABCDEFGHIJKLMNOP', 'ASIAABCDEFGHIJKLMNOP'],
  'aws-secret-access-key': ['aws_secret_access_key = "abcdABCD0123abcdABCD0123abcdABCD0123abcd"', 'AWS_SECRET_ACCESS_KEY=abcdABCD0123abcdABCD0123abcdABCD0123abcd', 'AwsSecretAccessKey: abcdABCD0123abcdABCD0123abcdABCD0123abcd'],
  'github-token': ['ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'ghs_abcdefghijklmnopqrstuvwxyz0123456789AB'],
  'gitlab-token': ['glpat-abcdefghij0123456789'],
  'slack-token': ['xoxb-1234567890-abcdef'],
  'gcp-service-account': ['{"type": "service_account", "project_id": "x"}'],
  'stripe-secret-key': ['sk_live_abcdefghijklmnopqrstuvwx', 'rk_live_abcdefghijklmnopqrstuvwxyz'],
};

test('every rule has examples, and each example is found (inside other text, on its line)', () => {
  assert.deepEqual(Object.keys(EXAMPLES).sort(), hygieneRules().secrets.map((r) => r.kind).sort(), 'one example set per rule');
  for (const [kind, examples] of Object.entries(EXAMPLES)) {
    for (const ex of examples) {
      const hits = findSecrets(`line one\nconst config = 1;\n${ex}\nmore text`);
      assert.ok(hits.some((h) => h.kind === kind && h.line === 3), `${kind}: ${ex} → ${JSON.stringify(hits)}`);
    }
  }
  assert.deepEqual(findSecrets('nothing secret here: AKIA is a prefix, sk_live is short'), []);
});
