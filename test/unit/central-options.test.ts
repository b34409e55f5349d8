import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { centralClientFrom } from '../../src/cli/central-options.js';
import { UserError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'gh-token-file-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
/** The Authorization header the client will send (a private field, read here on purpose). */
const authorizationOf = (c: unknown) => (c as { authorization: string }).authorization;

test('--token-file and GATEHOUSE_TOKEN_FILE give the token; --token wins; no server reads nothing', () => {
  const server = 'https://central.example:8443';
  const f = file('token', '\n  gh_fromfile  \nsecond line\n');
  assert.ok(centralClientFrom({ server, tokenFile: f }, {}));
  assert.ok(centralClientFrom({ server }, { GATEHOUSE_TOKEN_FILE: f }));
  assert.equal(centralClientFrom({ tokenFile: join(dir, 'missing') }, {}), undefined, 'no server: the file is not read');
  // The token read is the one the client sends: checked through the same precedence the client documents.
  const fromFile = centralClientFrom({ server, tokenFile: f }, { GATEHOUSE_TOKEN: 'gh_env' });
  const fromFlag = centralClientFrom({ server, token: 'gh_flag', tokenFile: f }, {});
  assert.ok(fromFile && fromFlag);
  assert.equal(authorizationOf(fromFile), 'Bearer gh_fromfile');
  assert.equal(authorizationOf(fromFlag), 'Bearer gh_flag');
});

test('an unreadable or empty token file is a one-line usage error', () => {
  const server = 'https://central.example:8443';
  assert.throws(() => centralClientFrom({ server, tokenFile: join(dir, 'missing') }, {}), (e: unknown) => e instanceof UserError && /cannot read the Central token file .*missing/.test(e.message) && !e.message.includes('\n'));
  const empty = file('empty', '\n \n');
  assert.throws(() => centralClientFrom({ server }, { GATEHOUSE_TOKEN_FILE: empty }), (e: unknown) => e instanceof UserError && /token file .* is empty/.test(e.message));
});
