import { RecordAssembler } from './src/sensor/records.js';
import { EventBuilder } from './src/sensor/event-builder.js';
import { ProcessTable } from './src/sensor/process-table.js';
import { ContainerResolver } from './src/sensor/containers.js';
import { loadRuleSet } from './src/runtime/rules/index.js';
const rs = loadRuleSet(['../shared/reference/falco/rules/falco_rules.yaml']);
const table = new ProcessTable('/proc'); table.seed();
const containers = new ContainerResolver();
const builder = new EventBuilder({ procRoot: '/proc', table, host: containers.host, clockOffset: 0n });
const asm = new RecordAssembler();
const pid = process.pid;
const H = (ts: number) => JSON.stringify({ type: 'printf', data: ['H', pid, pid, process.ppid, 0, 0, 0, 0, 4294967295, 4026531841, 1234, 0x1ffffffffff, 0, 0, 0, ts, 'open', 3, 0, 0, -100, 2, 0, 1, 'node'].join('\x1f') + '\n' });
const S = JSON.stringify({ type: 'printf', data: ['S', pid, '/etc/shadow'].join('\x1f') + '\n' });
let matched = 0;
const t = { asm: 0n, build: 0n, rules: 0n };
let ts = 1000;
const one = () => {
  const a = process.hrtime.bigint();
  const recs = [...asm.push(H(ts++)), ...asm.push(S)];
  const b = process.hrtime.bigint();
  for (const rec of recs) {
    if (rec.t !== 'event') continue;
    const proc = table.touch(rec.head.pid, () => ({ pid, ppid: 1, name: 'node', exe: 'node', exepath: '', args: [], cwd: '', tty: 0, sid: 0, vpgid: 0, loginuid: 0, mntns: 0 }));
    const sp = builder.specific(rec.head, rec.strings, rec.bytes, proc)!;
    const ev = builder.common(rec.head, proc, null);
    Object.assign(ev, sp);
    const c = process.hrtime.bigint();
    matched += rs.countMatches(ev);
    const d = process.hrtime.bigint();
    t.asm += b - a; t.build += c - b; t.rules += d - c;
  }
};
const N = Number(process.argv[2] ?? 500);
for (let i = 0; i < 300; i++) { one(); await new Promise((r) => setTimeout(r, 10)); }
t.asm = t.build = t.rules = 0n;
const c0 = process.cpuUsage();
for (let i = 0; i < N; i++) { one(); await new Promise((r) => setTimeout(r, 10)); }
const c = process.cpuUsage(c0);
console.log('sparse per event µs: cpu', ((c.user + c.system) / N).toFixed(1), 'asm', Number(t.asm / BigInt(N)) / 1e3, 'build', Number(t.build / BigInt(N)) / 1e3, 'rules', Number(t.rules / BigInt(N)) / 1e3);
await containers.close();
