/**
 * Notifiers with real sockets on 127.0.0.1 port 0: a generic webhook (JSON POST), a
 * Slack-compatible webhook ({text}), syslog RFC 5424 over UDP and over TCP (octet-counting
 * framing), and alerts in Falco's JSON shape to a file; the Responder sends one notice per
 * action; a failing channel does not stop the response.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ActionSet } from '../../src/respond/action-sets.js';
import { FalcoJsonNotifier } from '../../src/respond/notify/falco.js';
import { resultNotice, type Notice } from '../../src/respond/notify/notice.js';
import { SlackNotifier } from '../../src/respond/notify/slack.js';
import { SyslogNotifier } from '../../src/respond/notify/syslog.js';
import { WebhookNotifier } from '../../src/respond/notify/webhook.js';
import { Responder } from '../../src/respond/responder.js';
import type { ActionResult } from '../../src/respond/types.js';
import { alertFor, judgeFor, judged, packText } from './policy-helper.js';

const result: ActionResult = { action: 'kill', target: { type: 'container', container: 'abc123', endpoint: 'unix:///run/podman/podman.sock' }, outcome: 'done', detail: 'killed container abc123 with SIGKILL', evidence: '/var/lib/gh/ev/1' };
const trigger = { by: 'sensor', policies: ['runtime-shell-in-container'], alert: { rule: 'Terminal shell in container', time: '2026-12-07T06:00:00Z' } };
const notice = (): Notice => resultNotice(result, trigger, new Date('2026-12-07T06:00:01.250Z'), alertFor('Terminal shell in container', { 'container.id': 'abc123' }));

async function httpSink(status = 200) {
  const bodies: { url: string; type: string; body: any }[] = [];
  const server = createHttpServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push({ url: req.url ?? '', type: req.headers['content-type'] ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.statusCode = status;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { bodies, url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const RFC5424 = /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) (-|\[[^\]]*(?:\\\][^\]]*)*\](?:\[.*\])?) (.*)$/s;

describe('notifiers', () => {
  test('webhook: one JSON POST with the action, outcome, target, trigger and alert', async () => {
    const sink = await httpSink();
    try {
      await new WebhookNotifier(`${sink.url}/hook`).send(notice());
      assert.equal(sink.bodies.length, 1);
      const { url, type, body } = sink.bodies[0]!;
      assert.equal(url, '/hook');
      assert.match(type, /application\/json/);
      assert.equal(body.action, 'kill');
      assert.equal(body.outcome, 'done');
      assert.equal(body.target.container, 'abc123');
      assert.deepEqual(body.trigger.policies, ['runtime-shell-in-container']);
      assert.equal(body.alert.rule, 'Terminal shell in container');
      assert.equal(body.evidence, '/var/lib/gh/ev/1');
      assert.equal(body.time, '2026-12-07T06:00:01.250Z');
    } finally {
      await sink.close();
    }
  });

  test('Slack-compatible: {"text": …} only; an error answer is an error naming the origin only', async () => {
    const sink = await httpSink();
    const failing = await httpSink(500);
    try {
      await new SlackNotifier(`${sink.url}/services/T000/B000/XXXX`).send(notice());
      assert.deepEqual(Object.keys(sink.bodies[0]!.body), ['text']);
      assert.match(sink.bodies[0]!.body.text, /Gatehouse response: kill done/);
      assert.match(sink.bodies[0]!.body.text, /kill container abc123 .*: done: killed container abc123 with SIGKILL \(policy runtime-shell-in-container\)/);
      await assert.rejects(new SlackNotifier(`${failing.url}/services/SECRET`).send(notice()), (e: Error) => /answered HTTP 500/.test(e.message) && !e.message.includes('SECRET'));
      assert.throws(() => new SlackNotifier('ftp://x'), /must be http\(s\)/);
    } finally {
      await sink.close();
      await failing.close();
    }
  });

  test('syslog RFC 5424 over UDP: one datagram, PRI from facility and priority, structured data', async () => {
    const server = createSocket('udp4');
    const got = new Promise<string>((resolve) => server.once('message', (m) => resolve(m.toString('utf8'))));
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const { port } = server.address();
    const n = new SyslogNotifier({ url: `udp://127.0.0.1:${port}`, facility: 'authpriv', hostname: 'node1' });
    try {
      await n.send(notice());
      const line = await got;
      const m = RFC5424.exec(line);
      assert.ok(m, line);
      // authpriv (10) * 8 + warning (4): a done action is a Warning.
      assert.equal(Number(m[1]), 10 * 8 + 4);
      assert.equal(m[2], '2026-12-07T06:00:01.250Z');
      assert.equal(m[3], 'node1');
      assert.equal(m[4], 'gatehouse');
      assert.equal(m[5], String(process.pid));
      assert.equal(m[6], 'response');
      assert.match(m[7]!, /^\[gatehouse@32473 action="kill" outcome="done" target="container abc123 on unix:\/\/\/run\/podman\/podman.sock" policies="runtime-shell-in-container" rule="Terminal shell in container" evidence="\/var\/lib\/gh\/ev\/1"\]$/);
      assert.match(m[8]!, /^kill container abc123/);
    } finally {
      await n.close();
      server.close();
    }
  });

  test('syslog over TCP: octet-counted frames on one connection; quotes and brackets escaped in SD values', async () => {
    const frames: string[] = [];
    let buffer = Buffer.alloc(0);
    let connections = 0;
    let resolveTwo!: () => void;
    const two = new Promise<void>((r) => (resolveTwo = r));
    const server = createTcpServer((s) => {
      connections++;
      s.on('data', (d: Buffer) => {
        buffer = Buffer.concat([buffer, d]);
        for (;;) {
          const sp = buffer.indexOf(0x20);
          if (sp < 0) break;
          const len = Number(buffer.subarray(0, sp).toString());
          if (buffer.length < sp + 1 + len) break;
          frames.push(buffer.subarray(sp + 1, sp + 1 + len).toString('utf8'));
          buffer = buffer.subarray(sp + 1 + len);
        }
        if (frames.length >= 2) resolveTwo();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const n = new SyslogNotifier({ url: `tcp://127.0.0.1:${port}` });
    try {
      await n.send(notice());
      const odd = resultNotice({ ...result, outcome: 'failed', detail: 'engine said "no" ]' }, { by: 'user', incident: 'INC "7"]' }, new Date('2026-12-07T06:00:02Z'));
      await n.send(odd);
      await two;
      assert.equal(connections, 1);
      assert.ok(frames.every((f) => RFC5424.test(f)), frames.join('\n'));
      assert.equal(Number(RFC5424.exec(frames[1]!)![1]), 16 * 8 + 3, 'local0, a failed action is an Error');
      assert.match(frames[1]!, /incident="INC \\"7\\"\\]"/);
      assert.throws(() => new SyslogNotifier({ url: 'syslog://x' }), /expected udp:\/\/HOST\[:PORT\] or tcp:\/\/HOST\[:PORT\]/);
      assert.throws(() => new SyslogNotifier({ url: 'udp://x', facility: 'nope' }), /unknown syslog facility "nope"/);
    } finally {
      await n.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test("Falco JSON lines to a file: Falco's alert shape, the response as rule `Gatehouse response`", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-respond-notify-'));
    try {
      const file = join(dir, 'alerts.jsonl');
      const n = new FalcoJsonNotifier(file);
      await n.send(notice());
      await n.close();
      const [line] = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(Object.keys(line).sort(), ['hostname', 'output', 'output_fields', 'priority', 'rule', 'source', 'tags', 'time']);
      assert.equal(line.rule, 'Gatehouse response');
      assert.equal(line.source, 'gatehouse');
      assert.equal(line.priority, 'Warning');
      assert.match(line.time, /^2026-12-07T06:00:01\.250000000Z$/);
      assert.match(line.output, /^06:00:01\.250000000: Warning kill container abc123/);
      assert.equal(line.output_fields['container.id'], 'abc123');
      assert.equal(line.output_fields['gatehouse.action'], 'kill');
      assert.equal(line.output_fields['gatehouse.alert.rule'], 'Terminal shell in container');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the Responder notifies every channel once per action; a failing channel does not stop the others', async () => {
    const hook = await httpSink();
    const slack = await httpSink();
    const errors: string[] = [];
    const set: ActionSet = {
      resolve: (e, req) =>
        e === 'kill' && req.container
          ? { action: { name: 'kill', destructive: false, plan: async () => ({ state: 'todo', detail: 'kill', apply: async () => ({ detail: 'killed' }) }) }, target: { type: 'container', container: req.container.id } }
          : undefined,
    };
    try {
      const r = new Responder({
        actions: set,
        clock: () => Date.parse('2026-12-07T06:00:00Z'),
        notifiers: [new WebhookNotifier(hook.url), new SlackNotifier(slack.url), new WebhookNotifier('http://127.0.0.1:1/closed')],
        onNotifyError: (name, error) => errors.push(`${name}: ${error}`),
      });
      const judge = judgeFor(packText([['Shell in app', ['kill']]]));
      for (let i = 0; i < 50; i++) r.respondTo(judged(judge, 'Shell in app', { 'container.id': 'c1' }));
      await r.idle();
      assert.equal(hook.bodies.length, 1);
      assert.equal(slack.bodies.length, 1);
      assert.equal(errors.length, 1);
      assert.match(errors[0]!, /^webhook: /);
    } finally {
      await hook.close();
      await slack.close();
    }
  });
});
