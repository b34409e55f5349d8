/**
 * The parts of evidence capture that need no engine: reading a writable layer without
 * following anything the container made, /proc/net address decoding, the engine's log
 * multiplexing and `top` answers in Docker's and podman's spellings.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readUpperFile } from '../../src/respond/evidence/upperdir.js';
import { decodeAddress, pidBelongsTo } from '../../src/respond/evidence/procfs.js';
import { demuxLogs, normalizeTop } from '../../src/respond/evidence/collect.js';

describe('reading the writable layer', () => {
  const root = mkdtempSync(join(tmpdir(), 'gh-upper-'));
  const upper = join(root, 'diff');
  const outside = join(root, 'host');
  mkdirSync(join(upper, 'tmp', 'real'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'host secret');
  writeFileSync(join(upper, 'tmp', 'real', 'file'), 'in the layer');
  symlinkSync(outside, join(upper, 'tmp', 'dirlink'));
  symlinkSync(join(outside, 'secret'), join(upper, 'tmp', 'filelink'));
  const opts = { copyLimit: 1024, hashLimit: 1 << 20 };
  after(() => rmSync(root, { recursive: true, force: true }));

  it('reads a regular file: hash and content', async () => {
    const f = await readUpperFile(upper, '/tmp/real/file', opts);
    assert.equal(f?.type, 'file');
    assert.equal(f?.content?.toString(), 'in the layer');
    assert.equal(f?.sha256, createHash('sha256').update('in the layer').digest('hex'));
  });

  it('never follows a link: a final link is reported as a link, a directory link is refused', async () => {
    const link = await readUpperFile(upper, '/tmp/filelink', opts);
    assert.deepEqual([link?.type, link?.linkTarget, link?.content], ['symlink', join(outside, 'secret'), undefined]);
    assert.equal(await readUpperFile(upper, '/tmp/dirlink/secret', opts), undefined);
  });

  it('refuses relative and traversing paths, and answers undefined for what is not there', async () => {
    assert.equal(await readUpperFile(upper, 'tmp/real/file', opts), undefined);
    assert.equal(await readUpperFile(upper, '/tmp/../../host/secret', opts), undefined);
    assert.equal(await readUpperFile(upper, '/nope', opts), undefined);
  });

  it('hashes without copying past the copy limit, and reads nothing past the hash limit', async () => {
    writeFileSync(join(upper, 'tmp', 'big'), Buffer.alloc(4096, 1));
    const hashed = await readUpperFile(upper, '/tmp/big', { copyLimit: 100, hashLimit: 1 << 20 });
    assert.equal(hashed?.content, undefined);
    assert.match(hashed?.sha256 ?? '', /^[0-9a-f]{64}$/);
    const statOnly = await readUpperFile(upper, '/tmp/big', { copyLimit: 0, hashLimit: -1 });
    assert.deepEqual([statOnly?.type, statOnly?.size, statOnly?.sha256], ['file', 4096, undefined]);
  });
});

describe('procfs and engine answers', () => {
  it("reads a pid as the container's only when its cgroup names the container", async () => {
    const proc = mkdtempSync(join(tmpdir(), 'gh-proc-'));
    const id = 'ecb5923a1ffdf51a0a27b88f06271c399ea02ad57c22437365d67dbbf90c2159';
    mkdirSync(join(proc, '100'));
    writeFileSync(join(proc, '100', 'cgroup'), `0::/libpod_parent/libpod-${id}\n`);
    mkdirSync(join(proc, '200'));
    writeFileSync(join(proc, '200', 'cgroup'), '0::/user.slice/user-0.slice/session-1.scope\n');
    try {
      assert.equal(await pidBelongsTo(100, id, proc), true);
      assert.equal(await pidBelongsTo(200, id, proc), false, 'a remote engine\'s pid is some local process');
      assert.equal(await pidBelongsTo(300, id, proc), false);
      assert.equal(await pidBelongsTo(100, '', proc), false);
    } finally {
      rmSync(proc, { recursive: true, force: true });
    }
  });

  it('decodes /proc/net addresses (IPv4, IPv6, v4-mapped)', () => {
    assert.equal(decodeAddress('0100007F:1F90'), '127.0.0.1:8080');
    assert.equal(decodeAddress('00000000000000000000000000000000:1F90'), '[::]:8080');
    assert.equal(decodeAddress('0000000000000000FFFF00000100007F:0050'), '[::ffff:127.0.0.1]:80');
    assert.equal(decodeAddress('B80D0120000000000000000001000000:01BB'), '[2001:db8::1]:443');
  });

  it('demultiplexes the log stream into stdout/stderr lines; a TTY stream is kept as is', () => {
    const frame = (stream: number, text: string) => {
      const h = Buffer.alloc(8);
      h[0] = stream;
      h.writeUInt32BE(Buffer.byteLength(text), 4);
      return Buffer.concat([h, Buffer.from(text)]);
    };
    assert.equal(demuxLogs(Buffer.concat([frame(1, 'out\n'), frame(2, 'err')])).toString(), 'stdout out\nstderr err\n');
    assert.equal(demuxLogs(Buffer.from('plain tty output\n')).toString(), 'plain tty output\n');
  });

  it("reads top answers as Docker and podman spell them", () => {
    assert.deepEqual(normalizeTop({ Titles: ['PID', 'PPID', 'USER', 'COMMAND'], Processes: [['1', '0', 'root', 'sleep 600']] }), [{ PID: '1', PPID: '0', USER: 'root', COMMAND: 'sleep 600' }]);
    assert.deepEqual(normalizeTop({ Titles: ['PID   PPID  USER     COMMAND'], Processes: [['1     0 root     sleep 600']] }), [{ PID: '1', PPID: '0', USER: 'root', COMMAND: 'sleep 600' }]);
  });
});
