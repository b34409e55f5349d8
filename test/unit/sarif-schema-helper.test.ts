/** The SARIF schema check used by the output tests rejects what the standard rejects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertValidSarif } from '../helpers/sarif-schema.js';

test('the official SARIF 2.1.0 schema accepts a minimal log and rejects malformed ones', () => {
  const ok = { version: '2.1.0', runs: [{ tool: { driver: { name: 'gatehouse' } }, results: [{ ruleId: 'X', message: { text: 'm' }, level: 'error' }] }] };
  assertValidSarif(ok);
  assert.throws(() => assertValidSarif({ ...ok, version: '2.0.0' }), /does not validate/);
  assert.throws(() => assertValidSarif({ version: '2.1.0', runs: [{ tool: { driver: {} } }] }), /does not validate/);
  assert.throws(() => assertValidSarif({ version: '2.1.0', runs: [{ tool: { driver: { name: 'g' } }, results: [{ message: { text: 'm' }, level: 'fatal' }] }] }), /does not validate/);
});
