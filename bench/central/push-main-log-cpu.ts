/**
 * CPU of fastify's per-request log, one thread: N POSTs through `inject` against an app
 * built like Central's (same logger options, a file destination as Central's log), with
 * fastify's two default lines per request and with Central's access log.
 * `node --import tsx bench/central/push-main-log-cpu.ts [N]`.
 */
import Fastify from 'fastify';
import { openSync } from 'node:fs';
import pino from 'pino';
import { LOG_REDACTED_PATHS } from '../../src/util/log.js';
import { AccessLogController } from '../../src/central/access-log.js';

const N = Number(process.argv[2] ?? 5000);
const dest = pino.destination({ fd: openSync('/dev/null', 'w'), sync: true });

async function run(mode: 'none' | 'fastify' | 'access'): Promise<number> {
  const app = Fastify({
    logger: mode === 'none' ? false : { level: 'info', redact: { paths: LOG_REDACTED_PATHS, censor: '[redacted]' }, stream: dest },
    ...(mode === 'access' ? { logController: new AccessLogController() } : {}),
  });
  app.post('/api/v1/ingest/images', async () => ({ digest: 'sha256:x', created: false }));
  await app.ready();
  const body = '{}';
  const headers = { 'content-type': 'application/json', authorization: 'Bearer secret' };
  for (let i = 0; i < 500; i++) await app.inject({ method: 'POST', url: '/api/v1/ingest/images', headers, payload: body });
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) await app.inject({ method: 'POST', url: '/api/v1/ingest/images', headers, payload: body });
  const d = process.cpuUsage(t0);
  await app.close();
  return (d.user + d.system) / N;
}

for (let round = 0; round < 3; round++) {
  const row: string[] = [];
  for (const mode of ['none', 'fastify', 'access'] as const) row.push(`${mode} ${(await run(mode)).toFixed(1)} µs`);
  console.log(`round ${round + 1}: ${row.join(', ')} CPU a request`);
}
