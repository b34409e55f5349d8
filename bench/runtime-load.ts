/**
 * The load of bench:runtime, run by real processes in real podman (runc) containers of the
 * debootstrap Debian test image, with the host's node binary mounted read-only:
 *
 * - `web`: an HTTP server (node:http, no keep-alive) on 127.0.0.1 of the host network
 *   namespace; the bench drives it from the host with `ab` (apache2-utils) in short paced
 *   batches, so every request is one connect (ab, host) and one accept (the container).
 * - `app`: per phase, `podman exec app node /bench/driver.js SPEC`: paced every 10 ms, opens
 *   of watched paths (appending writes below /var/log: they leave the kernel, no rule
 *   alerts), of unwatched paths (reads of /etc/hostname, writes of /tmp: filtered in the
 *   kernel), reads of /etc/shadow (each one must raise "Read sensitive file untrusted"), and
 *   execs of /bin/true by a `sh` loop it feeds counts to (one exec event each).
 *
 * The scripts are plain JS (the container has no tsx); the bench writes them to a temp dir
 * mounted at /bench.
 */
export interface DriverSpec {
  seconds: number;
  /** Per second: watched opens (writes below /var/log), unwatched opens, /etc/shadow reads, execs. */
  watched: number;
  unwatched: number;
  sensitive: number;
  execs: number;
  /** Marks this phase's sensitive reads (the driver's argv, seen in proc.cmdline). */
  tag: string;
}

export const SERVER_JS = `
const http = require('http');
const body = Buffer.from('ok\\n');
const srv = http.createServer((req, res) => { res.writeHead(200, { 'content-length': body.length, connection: 'close' }); res.end(body); });
srv.keepAliveTimeout = 0;
srv.listen(0, '127.0.0.1', () => console.log('PORT ' + srv.address().port));
`;

export const DRIVER_JS = `
const fs = require('fs');
const { spawn } = require('child_process');
const spec = JSON.parse(process.argv[2]);
const sh = spawn('/bin/sh', ['-c', 'while read n; do i=0; while [ $i -lt $n ]; do /bin/true; i=$((i+1)); done; echo $n; done'], { stdio: ['pipe', 'pipe', 'inherit'] });
let execsDone = 0;
let shBuf = '';
sh.stdout.on('data', (d) => { shBuf += d; const lines = shBuf.split('\\n'); shBuf = lines.pop(); for (const l of lines) execsDone += Number(l) || 0; });
const made = { watched: 0, unwatched: 0, sensitive: 0, execs: 0 };
const t0 = Date.now();
const end = t0 + spec.seconds * 1000;
const due = (perSec, now) => Math.floor(((Math.min(now, end) - t0) / 1000) * perSec);
const O = fs.constants;
const W = O.O_WRONLY | O.O_APPEND | O.O_CREAT;
const tick = () => {
  const now = Date.now();
  for (let n = due(spec.watched, now); made.watched < n; made.watched++) fs.closeSync(fs.openSync('/var/log/gh-bench-' + (made.watched & 7) + '.log', W));
  for (let n = due(spec.unwatched, now); made.unwatched < n; made.unwatched++) fs.closeSync(made.unwatched & 1 ? fs.openSync('/etc/hostname', 'r') : fs.openSync('/tmp/gh-bench', W));
  for (let n = due(spec.sensitive, now); made.sensitive < n; made.sensitive++) fs.closeSync(fs.openSync('/etc/shadow', 'r'));
  const e = due(spec.execs, now) - made.execs;
  if (e > 0) { sh.stdin.write(e + '\\n'); made.execs += e; }
  if (now >= end) { sh.stdin.end(); return; }
  setTimeout(tick, 10 - ((Date.now() - t0) % 10));
};
sh.on('close', () => { made.execsDone = execsDone; console.log(JSON.stringify(made)); });
tick();
`;
