/**
 * The sensor's parts that need no kernel: probe record assembly (heads and parts, losses),
 * Falco-style names, container id and image parsing, the bounded queue, path resolution
 * and the drop alert.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RecordAssembler, decodeRBuf } from '../../src/sensor/records.js';
import { capNames, openFlags, ptraceRequest, resName, openIsRead, openIsWrite } from '../../src/sensor/names.js';
import { containerIdFromCgroup, parsePasswd, splitImage } from '../../src/sensor/containers.js';
import { BoundedQueue } from '../../src/sensor/queue.js';
import { resolvePath } from '../../src/sensor/event-builder.js';
import { dropAlert, DROP_RULE } from '../../src/sensor/drop-alert.js';
import { checkPrerequisites } from '../../src/sensor/bpftrace.js';
import { isUserError } from '../../src/util/errors.js';

const US = '\x1f';
const line = (data: string) => JSON.stringify({ type: 'printf', data: `${data}\n` });
// tid pid ppid uid gid euid egid loginuid mntns cgroup capeff tty sid vpgid ts kind ret a1..a5 nparts comm
const head = (tid: number, kind: string, nparts: number, comm = 'cat', a = [0, 0, 0, 0, 0]) =>
  line(['H', tid, tid, 1, 0, 0, 0, 0, 4294967295, 4026531841, 4414, 2097152, 34816, 7, 7, 123456789, kind, 3, ...a, nparts, comm].join(US));

describe('record assembly', () => {
  it('joins a head with its string and byte parts', () => {
    const a = new RecordAssembler();
    assert.deepEqual(a.push(head(42, 'execve', 2)), []);
    assert.deepEqual(a.push(line(`S${US}42${US}/bin/cat`)), []);
    const [rec] = a.push(line(`B${US}42${US}cat\\x00/etc/shadow\\x00`));
    assert.ok(rec && rec.t === 'event');
    assert.equal(rec.head.kind, 'execve');
    assert.equal(rec.head.cgroup, 4414);
    assert.equal(rec.head.capEffective, 2097152n);
    assert.equal(rec.head.tty, 34816);
    assert.equal(rec.head.comm, 'cat');
    assert.deepEqual(rec.strings, ['/bin/cat']);
    assert.deepEqual(rec.bytes[0]!.toString('utf8').split('\0'), ['cat', '/etc/shadow', '']);
  });

  it('keeps separators inside the last field (comm, strings)', () => {
    const a = new RecordAssembler();
    a.push(head(7, 'open', 1, `evil${US}name`));
    const [rec] = a.push(line(`S${US}7${US}/tmp/a${US}b\tc`));
    assert.ok(rec && rec.t === 'event');
    assert.equal(rec.head.comm, `evil${US}name`);
    assert.deepEqual(rec.strings, [`/tmp/a${US}b\tc`]);
  });

  it("decodes bpftrace 0.17's sign-extended high bytes back to UTF-8, and only those", () => {
    const a = new RecordAssembler();
    a.push(head(9, 'open', 1));
    // what bpftrace -f json prints for /tmp/é-ü and a literal backslash-u text after it
    const raw = '{"type": "printf", "data": "S\\u001f9\\u001f/tmp/\\uffffffc3\\uffffffa9-\\uffffffc3\\uffffffbc \\\\uffffffc3\\n"}';
    const [rec] = a.push(raw);
    assert.ok(rec && rec.t === 'event');
    assert.deepEqual(rec.strings, ['/tmp/é-ü \\uffffffc3']);
  });

  it('counts a head whose parts never came, and parts without a head', () => {
    const a = new RecordAssembler();
    a.push(head(1, 'open', 1));
    a.push(head(1, 'open', 1)); // the first one's part was lost
    assert.equal(a.incomplete, 1);
    a.push(line(`S${US}99${US}/orphan`));
    assert.equal(a.incomplete, 2);
    a.ignoreTids.add(5);
    a.push(head(5, 'open', 1));
    a.push(line(`S${US}5${US}/x`));
    assert.equal(a.incomplete, 2, 'the sensor\'s own bpftrace is ignored, not counted');
  });

  it('reports kernel losses, lifecycle records and the ready signal', () => {
    const a = new RecordAssembler();
    assert.deepEqual(a.push(JSON.stringify({ type: 'lost_events', data: { events: 17 } })), [{ t: 'lost', count: 17 }]);
    assert.deepEqual(a.push(line(`F${US}10${US}11${US}500${US}bash`)), [{ t: 'fork', ppid: 10, pid: 11, ts: 500n, comm: 'bash' }]);
    assert.deepEqual(a.push(line(`X${US}11${US}900`)), [{ t: 'exit', pid: 11, ts: 900n }]);
    assert.deepEqual(a.push(line(`R${US}1`)), [{ t: 'ready' }]);
    assert.deepEqual(a.push('not json'), []);
    assert.equal(a.malformed, 1);
  });

  it('decodes bpftrace %r buffers', () => {
    assert.deepEqual([...decodeRBuf('a\\x00\\xffb')], [0x61, 0, 0xff, 0x62]);
  });
});

describe('Falco names', () => {
  it('renders open flags, access mode and results', () => {
    assert.equal(openFlags(0o1101), 'O_WRONLY|O_CREAT|O_TRUNC');
    assert.equal(openFlags(0), 'O_RDONLY');
    assert.equal(openFlags(0o2000002), 'O_RDWR|O_CLOEXEC');
    assert.ok(openIsRead(0) && !openIsWrite(0));
    assert.ok(openIsWrite(1) && !openIsRead(1));
    assert.ok(openIsWrite(2) && openIsRead(2));
    assert.equal(resName(3), 'SUCCESS');
    assert.equal(resName(-2), 'ENOENT');
    assert.equal(resName(-115), 'EINPROGRESS');
  });
  it('renders capabilities and ptrace requests', () => {
    assert.equal(capNames((1n << 21n) | 1n), 'CAP_CHOWN CAP_SYS_ADMIN');
    assert.equal(capNames(0n), '');
    assert.equal(ptraceRequest(16), 'PTRACE_ATTACH');
    assert.equal(ptraceRequest(0), 'PTRACE_TRACEME');
  });
});

describe('container attribution helpers', () => {
  const id = 'a'.repeat(64);
  it('finds the container id in cgroup paths of podman, docker, CRI and cgroupfs', () => {
    assert.equal(containerIdFromCgroup(`0::/libpod_parent/libpod-${id}`), id);
    assert.equal(containerIdFromCgroup(`0::/machine.slice/libpod-${id}.scope/container`), id);
    assert.equal(containerIdFromCgroup(`0::/system.slice/docker-${id}.scope`), id);
    assert.equal(containerIdFromCgroup(`0::/kubepods/burstable/pod1/cri-containerd-${id}.scope`), id);
    assert.equal(containerIdFromCgroup(`12:memory:/docker/${id}`), id);
    assert.equal(containerIdFromCgroup('0::/user.slice/session-1.scope'), undefined);
    assert.equal(containerIdFromCgroup(`0::/libpod-${id.slice(1)}`), undefined);
  });
  it('splits image references into repository and tag', () => {
    assert.deepEqual(splitImage('localhost/gatehouse-sensor-test:1'), { repository: 'localhost/gatehouse-sensor-test', tag: '1' });
    assert.deepEqual(splitImage('127.0.0.1:5000/debian'), { repository: '127.0.0.1:5000/debian', tag: 'latest' });
    assert.deepEqual(splitImage('docker.io/library/nginx@sha256:abc'), { repository: 'docker.io/library/nginx', tag: '' });
  });
  it('reads user tables', () => {
    const m = parsePasswd('root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1::/:/bin/false\nbad line\n');
    assert.equal(m.get(0), 'root');
    assert.equal(m.get(1), 'daemon');
    assert.equal(m.size, 2);
  });
});

describe('bounded queue', () => {
  it('drops and counts what does not fit, keeps FIFO order', () => {
    const q = new BoundedQueue<number>(3);
    for (let i = 0; i < 5; i++) q.push(i);
    assert.equal(q.dropped, 2);
    assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift()], [0, 1, 2, undefined]);
    q.push(9);
    assert.equal(q.shift(), 9);
  });
});

describe('paths', () => {
  it('normalizes and resolves relative paths against the cwd', () => {
    assert.equal(resolvePath('/proc', 1, '/etc/../etc/../etc/shadow', -100, '/'), '/etc/shadow');
    assert.equal(resolvePath('/proc', 1, 'shadow', -100, '/etc/'), '/etc/shadow');
    assert.equal(resolvePath('/proc', 1, '../x/', -100, '/a/b/'), '/a/x');
  });
});

describe('drop alert', () => {
  it('is a Falco-shaped Critical alert naming every kind of loss', () => {
    const a = dropAlert({ lostInKernel: 3, droppedInQueue: 4, incomplete: 1, total: 8 }, 'h', 1_700_000_000_000_000_000n);
    assert.equal(a.rule, DROP_RULE);
    assert.equal(a.priority, 'Critical');
    assert.equal(a.hostname, 'h');
    assert.equal(a.output_fields['sensor.drops'], 8);
    assert.match(a.output, /dropped 8 events \(lost in kernel buffer=3 dropped by full queue=4 incomplete=1\)/);
    assert.equal(a.time, '2023-11-14T22:13:20.000000000Z');
  });
});

describe('prerequisites', () => {
  it('a missing bpftrace is one clear user error', { skip: process.getuid?.() !== 0 ? 'needs root to get past the root check' : false }, () => {
    assert.throws(() => checkPrerequisites({ bpftrace: 'no-such-bpftrace-binary' }), (e) => isUserError(e) && /bpftrace not found/.test(e.message));
  });
  it('an unusable tracefs is one clear user error', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
    assert.throws(() => checkPrerequisites({ bpftrace: 'sh', tracefs: '/nonexistent/tracing' }), (e) => isUserError(e) && /tracefs is not available at \/nonexistent\/tracing/.test(e.message));
  });
});

describe('gatehouse sensor: bad input', () => {
  it('needs something to do', async () => {
    const { runCli } = await import('../helpers/cli.js');
    const r = await runCli(['sensor']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim(), 'gatehouse: nothing to do: give --rules FILE… (alerts), --baseline-dir DIR (anomalies) and/or --events FILE|- (events)');
  });
  it('rejects a bad queue size and names a missing bpftrace in one line', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async () => {
    const { runCli } = await import('../helpers/cli.js');
    const q = await runCli(['sensor', '--events', '-', '--queue', '0']);
    assert.equal(q.code, 2);
    assert.match(q.stderr, /^gatehouse: --queue must be a positive integer, got '0'\n$/);
    const b = await runCli(['sensor', '--events', '-', '--bpftrace', 'no-such-bpftrace']);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /gatehouse: bpftrace not found \(no-such-bpftrace\): install it/);
    assert.doesNotMatch(b.stderr, /at .*\.ts:\d+/, 'no stack trace');
  });
  it('exits when bpftrace fails to start with --flows (the engine watch is closed)', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async () => {
    const { runCli } = await import('../helpers/cli.js');
    // /bin/false stands for a bpftrace that dies at once (no privilege, a verifier refusal).
    const r = await runCli(['sensor', '--flows', '-', '--bpftrace', '/bin/false'], { timeoutMs: 60_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /gatehouse: bpftrace could not start the Gatehouse probe: exited/);
  });
});

describe('reorder buffer', () => {
  it('releases records in kernel time order once they are older than the window', async () => {
    const { ReorderBuffer } = await import('../../src/sensor/reorder.js');
    const out: number[] = [];
    const rb = new ReorderBuffer(50n, (r) => out.push(r.t === 'exit' ? r.pid : -1));
    const exit = (pid: number, ts: bigint) => ({ t: 'exit' as const, pid, ts });
    rb.push(exit(3, 130n));
    rb.push(exit(1, 100n));
    rb.push(exit(2, 100n)); // same time: arrival order kept
    rb.push(exit(4, 200n));
    rb.flush(160n);
    assert.deepEqual(out, [1, 2]);
    rb.flush(400n);
    assert.deepEqual(out, [1, 2, 3, 4]);
    rb.push(exit(5, 1000n));
    rb.flush(0n, true);
    assert.deepEqual(out, [1, 2, 3, 4, 5]);
  });
});

describe('the reader, fed by a stand-in for bpftrace', () => {
  it('joins lines split across writes, in time order, and ends with the output', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { Sensor } = await import('../../src/sensor/sensor.js');
    const dir = mkdtempSync(join(tmpdir(), 'gh-fake-bpftrace-'));
    const open = (tid: number, ts: number, path: string) =>
      line(['H', tid, tid, 1, 0, 0, 0, 0, 4294967295, 4026531841, 1, 0, 0, 7, 7, ts, 'open', 3, 0, 0, 4294967196, 2, 0, 1, 'cat'].join(US)) + '\n' + line(`S${US}${tid}${US}${path}`) + '\n';
    const second = open(902, 200, '/etc/second');
    // the ready line, one record split in the middle of a line over two writes, and an
    // older record from another CPU arriving after a newer one
    const script = `#!/bin/sh
printf '%s\\n' '${line(`R${US}1`)}'
printf '%s' '${second.slice(0, 40)}'
sleep 0.2
printf '%s' '${second.slice(40)}'
printf '%s' '${open(901, 100, '/etc/first')}'
sleep 0.2
`;
    const fake = join(dir, 'bpftrace');
    writeFileSync(fake, script, { mode: 0o755 });
    try {
      const s = await Sensor.start({ bpftrace: fake });
      const names: unknown[] = [];
      for await (const ev of s.events()) names.push(ev['fd.name']);
      assert.deepEqual(names, ['/etc/first', '/etc/second']);
      assert.equal(s.stats().incomplete, 0);
      assert.equal(s.stats().malformed, 0);
      await s.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
