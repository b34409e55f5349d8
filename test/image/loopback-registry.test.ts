/**
 * Issue 24 item 9: a loopback registry without --insecure. Like `image sign`, the image
 * commands use plain HTTP for loopback registries (as the Docker engine does); a registry
 * reached over HTTPS that answers in plain HTTP gets one line naming --insecure, not
 * OpenSSL's "wrong version number".
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RegistryClient } from '../../src/image/registry/client.js';
import { UserError } from '../../src/util/errors.js';
import { runCli } from '../helpers/cli.js';
import { missing, testRegistry } from '../helpers/components.js';
import { pushTestImage, uniqueRepo } from '../trust/fixtures.js';

const skip = missing(await fetch(`http://${testRegistry}/v2/`).then((r) => r.ok, () => false), `local registry ${testRegistry} not running (bash .ci/setup)`);

describe('loopback registry without --insecure', { skip }, () => {
  it('image inspect and image scan reach it over plain HTTP, like image sign', async () => {
    const img = await pushTestImage(uniqueRepo('loopback'));
    const res = await runCli(['image', 'inspect', '--format', 'json', img.ref]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(JSON.parse(res.stdout).digest, img.digest);

    // A one-record database (the image has no packages; the scan must only reach the registry).
    const work = mkdtempSync(join(tmpdir(), 'gatehouse-loopback-'));
    try {
      const osv = join(work, 'osv.json');
      writeFileSync(osv, JSON.stringify({ id: 'GHSA-test-0000-0000', modified: '2024-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'npm', name: 'nothing-here' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] }] }));
      const db = join(work, 'vuln.db');
      const imp = await runCli(['db', 'import', '--db', db, osv]);
      assert.equal(imp.code, 0, imp.stderr);
      const scan = await runCli(['image', 'scan', '--db', db, '--db-max-age', '100000', '--format', 'json', img.ref]);
      assert.equal(scan.code, 0, scan.stderr);
      assert.equal(JSON.parse(scan.stdout).target, img.ref);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('HTTPS to a plain-HTTP registry fails with one line naming --insecure', async () => {
    const client = new RegistryClient(testRegistry, { insecure: false, retry: { attempts: 1 } });
    try {
      await assert.rejects(client.getManifest('gatehouse-test/debian', 'bookworm'), (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.equal(e.message, `registry ${testRegistry} speaks plain HTTP, not HTTPS: add --insecure to use it`);
        return true;
      });
    } finally {
      await client.close();
    }
  });
});
