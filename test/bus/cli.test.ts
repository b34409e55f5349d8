/**
 * `--nats` on the command line: bad values are one-line usage errors (exit 2, no stack
 * trace), `gatehouse server --nats` shows the bus in its banner and applies the stream limits
 * given by --nats-max-age / --nats-max-bytes, and the bus refuses what breaks the contract.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { BUS_STREAM, parseBusBytes, parseBusDuration, subjectToken } from '../../src/central/client/bus-stream.js';
import { parseBusMessage } from '../../src/central/bus/ingest.js';
import { runCli } from '../helpers/cli.js';
import { natsSkip, startCentralCli, startNats, tempDir } from './helpers.js';

const enc = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
const source = { kind: 'sensor', cluster: 'c1' };
const event = { id: 'e1', type: 'alert', time: '2026-01-01T00:00:00Z', finding: { id: 'r', kind: 'runtime', severity: 'HIGH', title: 't', resource: { host: 'h' } } };

test('bus messages are checked against the ingest contract', () => {
  assert.deepEqual(parseBusMessage(enc({ source, event })), { source, event });
  const flow = { protocol: 'TCP', direction: 'egress', local: { ip: '10.0.0.5', port: 40000, container: { id: 'abc' } }, remote: { ip: '10.0.0.9', port: 5432 }, firstSeen: '2026-01-01T00:00:00Z', lastSeen: '2026-01-01T00:00:05Z', connections: 3, observedBy: 'ebpf' };
  const flowEvent = { id: 'f1', type: 'flow', time: '2026-01-01T00:00:00.5+02:00', data: flow };
  assert.deepEqual(parseBusMessage(enc({ source, event: flowEvent })), { source, event: flowEvent });
  assert.match(String(parseBusMessage(enc({ source, event: { ...flowEvent, data: { protocol: 'tcp' } } }))), /bad flow/);
  assert.match(String(parseBusMessage(enc({ source, event: { ...flowEvent, finding: event.finding } }))), /a flow carries no finding/);
  assert.equal(parseBusMessage(new TextEncoder().encode('{')), 'not JSON');
  assert.match(String(parseBusMessage(enc({ source: { kind: 'robot' }, event }))), /unknown source kind/);
  assert.match(String(parseBusMessage(enc({ source, event: { ...event, extra: 1 } }))), /unknown field in event/);
  assert.match(String(parseBusMessage(enc({ source, event: { ...event, id: 'x'.repeat(201) } }))), /event id/);
  assert.match(String(parseBusMessage(enc({ source, event: { ...event, time: 'yesterday' } }))), /RFC 3339/);
  assert.match(String(parseBusMessage(enc({ source, event: { ...event, finding: { ...event.finding, severity: 'WORSE' } } }))), /bad finding: \/severity/);
  assert.match(String(parseBusMessage(enc({ source, event: { ...event, finding: { ...event.finding, surprise: true } } }))), /bad finding/);
});

test('stream limits and subject tokens', () => {
  assert.equal(parseBusDuration('7d', '--x'), 7 * 86_400_000);
  assert.equal(parseBusDuration('90s', '--x'), 90_000);
  assert.throws(() => parseBusDuration('7 days', '--nats-max-age'), /--nats-max-age must be a duration/);
  assert.equal(parseBusBytes('1GiB', '--x'), 1 << 30);
  assert.equal(parseBusBytes('20GB', '--x'), 20e9);
  assert.throws(() => parseBusBytes('12', '--nats-max-bytes'), /at least 1MiB/);
  assert.throws(() => parseBusBytes('1 parsec', '--nats-max-bytes'), /--nats-max-bytes must be a size/);
  assert.equal(subjectToken('prod.eu-1 *>'), 'prod_eu-1___');
});

test('--nats usage errors are one line, exit 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['server', '--insecure-http', '--listen', '127.0.0.1:0', '--data-dir', tempDir('cli'), '--nats', 'http://127.0.0.1:4222'], /--nats: "http:\/\/127.0.0.1:4222" is not a nats:\/\/HOST:PORT URL/],
    [['server', '--insecure-http', '--listen', '127.0.0.1:0', '--data-dir', tempDir('cli'), '--nats', 'nats://127.0.0.1:4222', '--nats-max-age', 'forever'], /--nats-max-age must be a duration/],
    [['sensor', '-r', '/nonexistent.yaml', '--nats', 'nats://127.0.0.1:4222', '--server', 'https://central.example:8443'], /either to Central \(--server\) or to the event bus \(--nats\): give one/],
    [['sensor', '-r', '/nonexistent.yaml', '--nats', 'not a url'], /--nats: "not a url" is not a URL/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args, { env: { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined } });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('gatehouse server --nats: banner, stream limits from the flags', { skip: natsSkip(), timeout: 120_000 }, async () => {
  const nats = await startNats();
  const central = await startCentralCli(['--nats', nats.url, '--nats-max-age', '36h', '--nats-max-bytes', '256MiB']);
  try {
    assert.match(central.output(), new RegExp(`event bus:\\s+${nats.url.replace(/[.]/g, '\\.')} \\(JetStream stream GATEHOUSE_EVENTS\\)`));
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await (async () => {
        for (let i = 0; i < 100; i++) {
          const s = await jsm.streams.info(BUS_STREAM).catch(() => undefined);
          if (s && (await jsm.consumers.info(BUS_STREAM, 'gatehouse-central').catch(() => undefined))) return s;
          await new Promise((r) => setTimeout(r, 200));
        }
        throw new Error('stream and consumer not made');
      })();
      assert.equal(info.config.max_age, 36 * 3600 * 1e9);
      assert.equal(info.config.max_bytes, 256 * 1024 * 1024);
      assert.equal(info.config.storage, 'file');
      const consumer = await jsm.consumers.info(BUS_STREAM, 'gatehouse-central');
      assert.equal(consumer.config.ack_policy, 'explicit');
      assert.equal(consumer.config.ack_wait, 30e9);
    } finally {
      await nc.close();
    }
  } finally {
    await central.stop();
    await nats.stop();
  }
});
