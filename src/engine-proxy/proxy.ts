/**
 * The engine proxy: an HTTP server in front of the engine's API socket that classifies
 * every request, decides it against the policy, writes the decision to the audit log and
 * then either answers 403 in the engine's error shape or passes the request through
 * untouched — bodies and responses streamed, hijacked connections (attach, exec start)
 * spliced byte for byte. Node's HTTP parser (llhttp, strict mode) already refuses
 * conflicting Content-Length/Transfer-Encoding and malformed framing, so requests reach
 * the engine re-framed by this proxy, never as the client framed them.
 */
import { existsSync, mkdirSync, chmodSync, unlinkSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { UserError, describeError } from '../util/errors.js';
import { secondsSince } from '../util/metrics.js';
import { EngineProxyMetrics } from './metrics.js';
import { formatAddress, type Address } from './address.js';
import type { Finding } from '../findings/finding.js';
import { enforcementOf, evaluate } from '../policy/evaluate.js';
import { decisionReport, edgeFindings, postAlert, type AuditRecord, type AuditSink } from './audit.js';
import { BODY_ACTIONS, CONTAINER_TARGET_ACTIONS, classify, type Endpoint } from './endpoints.js';
import { baseFacts, createFacts, execFacts, imageEndpointFacts, targetFacts, updateFacts, volumeFacts, type Facts, type TargetContainer } from './facts.js';
import { peerCredentialsAvailable, tlsPeer, unixPeer, type Caller } from './identity.js';
import { findAmbiguousKey, memberPath, member, asString, isObject, type Json } from './json-body.js';
import type { EnginePolicies } from './policy.js';
import { spliceHijack } from './hijack.js';
import { connectRelayedTo, enlargeSendBuffer } from './pooled-pipe.js';
import { getJson, rawConnect, upstreamRequestOptions } from './upstream.js';

/**
 * Extension point for the trust policy (signed images, src/trust/): when given, the proxy
 * asks it about the image of every container.create and image.pull and exposes the answer
 * as the `image.signed` fact (and `image.trust` detail) for rules to use.
 */
export interface ImageVerifier {
  verify(imageRef: string, caller: Caller): Promise<{ signed: boolean; detail?: string }>;
}

export type LogFn = (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void;

export interface EngineProxyOptions {
  listen: Address;
  upstream: Address;
  /** The compiled engine-request packs (policy.ts loadEnginePolicies). */
  policy: EnginePolicies;
  /** Loads the packs again (SIGHUP); without it reloadPolicy() keeps the current set. */
  loadPolicy?: () => Promise<EnginePolicies>;
  /** Every enforcement becomes inform: violations are let through and logged as would-deny. */
  informOnly?: boolean;
  /** Required for tcp:// listen: server cert/key and the CA client certificates must chain to. */
  tls?: { cert: Buffer; key: Buffer; ca: Buffer };
  audit?: AuditSink;
  alertWebhook?: string;
  imageVerifier?: ImageVerifier;
  log?: LogFn;
  /** Largest JSON body the proxy reads to decide on (default 1 MiB); larger gets 413. */
  maxBodyBytes?: number;
  /** Largest request head (default 64 KiB); larger gets 431. */
  maxHeaderBytes?: number;
  /** Time allowed for a request head, and for a decided JSON body (default 30 s). */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** Permissions of the listening unix socket (default 0660). */
  socketMode?: number;
  /** Where the counters go (default: a registry of its own; the CLI serves it on --metrics-listen). */
  metrics?: EngineProxyMetrics;
}

/** The endpoints that legitimately upgrade the connection to a raw stream. */
const HIJACK_ACTIONS: ReadonlySet<string> = new Set(['container.attach', 'exec.start']);
/** GET endpoints whose answers are bulk streams, passed through raw (see forwardRaw). */
const RAW_STREAM_ACTIONS: ReadonlySet<string> = new Set(['container.archive.get', 'container.export', 'image.save']);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'transfer-encoding', 'content-length']);
const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 408: 'Request Timeout', 413: 'Payload Too Large', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 502: 'Bad Gateway' };

/** What the proxy does with one request, from the policy engine's verdict. */
export interface ProxyDecision {
  /** allow; deny: a violated policy blocks (403); warn: only inform policies (or --audit-only), let through. */
  verdict: 'allow' | 'deny' | 'warn';
  /** Every violated policy, one Finding each. */
  violations: Finding[];
  /** One line for the client and the log, naming the policies. */
  message: string;
}

class HttpFailure extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class EngineProxy {
  private server: http.Server | https.Server | undefined;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  private readonly callers = new WeakMap<object, Caller>();
  private readonly hijacked = new Set<Duplex>();
  private current: EnginePolicies;
  private readonly log: LogFn;
  private readonly host = hostname();
  readonly metrics: EngineProxyMetrics;

  constructor(private readonly opts: EngineProxyOptions) {
    this.current = opts.policy;
    this.log = opts.log ?? (() => {});
    this.metrics = opts.metrics ?? new EngineProxyMetrics();
  }

  get policy(): EnginePolicies {
    return this.current;
  }

  /** Loads the packs again; on any problem keeps the running set and logs why. */
  async reloadPolicy(): Promise<boolean> {
    if (!this.opts.loadPolicy) {
      this.log('info', 'no policy loader to reload with');
      return false;
    }
    try {
      this.current = await this.opts.loadPolicy();
      this.log('info', `policy reloaded from ${this.current.inputs.join(', ')}`, { policies: this.current.policies.length });
      return true;
    } catch (e) {
      this.log('error', `policy reload failed, keeping the previous policy: ${describeError(e)}`);
      return false;
    }
  }

  /** The one decision: the compiled set evaluated over this request's facts (src/policy/evaluate.ts). */
  decide(facts: Facts): ProxyDecision {
    const policy = this.current;
    const v = evaluate({ kind: 'engine-request', value: facts }, policy.set, { stage: 'runtime', informOnly: this.opts.informOnly });
    // A deny names the policies that block; a warn names every violated one.
    const shown = v.decision === 'deny' ? v.violations.filter((f) => enforcementOf(f).some((e) => v.enforcement.includes(e))) : v.violations;
    const message =
      v.decision === 'allow'
        ? 'allowed'
        : `${v.decision === 'deny' ? 'denied' : 'would deny (audit mode)'} by gatehouse policy "${policy.name}": ${shown.map((f) => `${f.id} ${f.title}`).join('; ')}`;
    return { verdict: v.decision, violations: v.violations, message };
  }

  async start(): Promise<void> {
    const o = this.opts;
    const common: http.ServerOptions = {
      maxHeaderSize: o.maxHeaderBytes ?? 64 * 1024,
      headersTimeout: o.headersTimeoutMs ?? 30_000,
      // Uploads (docker cp, build contexts, image loads) may legitimately take long.
      requestTimeout: 0,
      connectionsCheckingInterval: Math.min(1000, o.headersTimeoutMs ?? 1000),
      keepAliveTimeout: 60_000,
    };
    if (o.listen.kind === 'tcp') {
      if (!o.tls) throw new UserError('tcp:// listen needs --tls-cert, --tls-key and --tls-ca (client certificates are how callers are identified)', 'bad-option');
      const server = https.createServer({ ...common, cert: o.tls.cert, key: o.tls.key, ca: o.tls.ca, requestCert: true, rejectUnauthorized: true });
      server.on('secureConnection', (s: TLSSocket) => this.callers.set(s, tlsPeer(s)));
      this.server = server;
    } else {
      const server = http.createServer(common);
      server.on('connection', (s: Socket) => this.callers.set(s, unixPeer(s)));
      this.server = server;
    }
    const server = this.server;
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.handle(req, res).catch((e: unknown) => this.failClosed(req, res, e));
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      this.handleUpgrade(req, socket, head).catch((e: unknown) => {
        this.log('error', `hijack failed: ${describeError(e)}`);
        writeRaw(socket, 500, 'gatehouse engine-proxy: internal error; request denied (fail closed)');
      });
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      this.log('warn', `refused malformed request: ${err.code ?? ''} ${describeError(err)}`.trim());
      writeRaw(socket, status, `gatehouse engine-proxy: malformed request refused (${err.code ?? 'bad request'})`);
    });
    if (o.listen.kind === 'unix') await prepareSocketPath(o.listen.path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const onListening = () => {
        server.off('error', reject);
        resolve();
      };
      if (o.listen.kind === 'unix') server.listen(o.listen.path, onListening);
      else server.listen(o.listen.port, o.listen.host, onListening);
    }).catch((e: unknown) => {
      throw new UserError(`cannot listen on ${formatAddress(o.listen)}: ${describeError(e)}`, 'listen');
    });
    if (o.listen.kind === 'unix') chmodSync(o.listen.path, o.socketMode ?? 0o660);
    if (o.listen.kind === 'unix' && !peerCredentialsAvailable()) {
      this.log('warn', 'unix peer credentials unavailable (sockopt addon not built: npm rebuild sockopt); callers are unknown and caller rules fail closed');
    }
    this.log('info', `engine-proxy listening on ${formatAddress(o.listen)}, upstream ${formatAddress(o.upstream)}, policy "${this.current.name}" (${this.current.inputs.join(', ')}, ${this.current.policies.length} policies)${this.opts.informOnly ? ', audit only' : ''}`);
  }

  /** Bound TCP port (tcp listen with port 0). */
  port(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    for (const s of this.hijacked) s.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.agent.destroy();
    if (this.opts.listen.kind === 'unix' && existsSync(this.opts.listen.path)) unlinkSync(this.opts.listen.path);
  }

  private callerOf(req: http.IncomingMessage): Caller {
    return this.callers.get(req.socket) ?? { transport: this.opts.listen.kind === 'tcp' ? 'tls' : 'unix' };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const caller = this.callerOf(req);
    const method = req.method ?? 'GET';
    const classified = classify(method, req.url ?? '/');
    if (!classified.ok) return this.refuse(req, res, caller, 400, `gatehouse engine-proxy: ${classified.error}`);
    const ep = classified.endpoint;
    // Go merges urlencoded form bodies into the query parameters (taking precedence), so
    // a form body could change fromImage after the proxy read it: the Docker API never
    // sends one, refuse it.
    if (/^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '') || /^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) {
      return this.refuse(req, res, caller, 400, 'gatehouse engine-proxy: form-encoded request bodies are not accepted', ep);
    }
    let body: Buffer | undefined;
    let json: Json | undefined;
    if (BODY_ACTIONS.has(ep.action)) {
      const enc = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
      if (enc !== 'identity') return this.refuse(req, res, caller, 400, `gatehouse engine-proxy: content-encoding ${enc} not accepted on ${ep.action}`, ep);
      try {
        body = await readBody(req, this.opts.maxBodyBytes ?? 1 << 20, this.opts.bodyTimeoutMs ?? 30_000);
        json = body.length ? (JSON.parse(body.toString('utf8')) as Json) : null;
      } catch (e) {
        const status = e instanceof HttpFailure ? e.status : 400;
        const msg = e instanceof HttpFailure ? e.message : `malformed JSON body: ${describeError(e)}`;
        return this.refuse(req, res, caller, status, `gatehouse engine-proxy: ${msg}`, ep);
      }
      const ambiguous = findAmbiguousKey(json);
      if (ambiguous) return this.refuse(req, res, caller, 400, `gatehouse engine-proxy: ambiguous JSON body: key ${ambiguous} repeats another key up to letter case`, ep);
    }
    const facts = await this.factsFor(ep, method, caller, json);
    const decision = this.decide(facts);
    this.record(req, caller, ep, facts, decision, started);
    if (decision.verdict === 'deny') {
      if (body === undefined && (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0)) {
        // Do not take in a denied upload (image load, build context): answer and close.
        res.setHeader('Connection', 'close');
        res.on('finish', () => setTimeout(() => req.socket.destroy(), 50).unref());
      }
      return sendError(res, 403, decision.message);
    }
    if (RAW_STREAM_ACTIONS.has(ep.action) && method === 'GET' && !req.headers['transfer-encoding'] && !Number(req.headers['content-length'] ?? 0)) {
      this.forwardRaw(req, res);
    } else this.forward(req, res, body);
  }

  /**
   * Bulk downloads (docker cp out, export, save): the engine's answer is spliced byte for
   * byte onto the client's socket instead of being parsed and re-framed, which costs about
   * half the throughput. The request goes upstream with `Connection: close`, so the
   * engine's own framing ends the exchange and both connections close after it.
   */
  private forwardRaw(req: http.IncomingMessage, res: http.ServerResponse): void {
    const socket = req.socket;
    if (this.opts.listen.kind === 'unix') enlargeSendBuffer(socket);
    const up = connectRelayedTo(this.opts.upstream, socket);
    let connected = false;
    up.on('error', (e) => {
      this.metrics.upstreamErrors.inc({ stage: 'stream' });
      if (!connected && !res.headersSent) {
        res.setHeader('Connection', 'close');
        sendError(res, 502, `gatehouse engine-proxy: engine unreachable at ${formatAddress(this.opts.upstream)}: ${describeError(e)}`);
      } else socket.destroy();
    });
    socket.on('close', () => up.destroy());
    up.on('connect', () => {
      connected = true;
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (HOP_BY_HOP.has(req.rawHeaders[i]!.toLowerCase())) continue;
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      }
      lines.push('Connection: close');
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      socket.setTimeout(0);
    });
  }

  private async handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const started = process.hrtime.bigint();
    const caller = this.callers.get(socket) ?? this.callerOf(req);
    const method = req.method ?? 'GET';
    const classified = classify(method, req.url ?? '/');
    if (!classified.ok) {
      this.log('warn', `refused hijack request: ${classified.error}`);
      return writeRaw(socket, 400, `gatehouse engine-proxy: ${classified.error}`);
    }
    const ep = classified.endpoint;
    if (!HIJACK_ACTIONS.has(ep.action)) {
      // Anything else asking to upgrade would have its body spliced through unread.
      this.log('warn', `refused upgrade request for ${ep.action}`);
      return writeRaw(socket, 400, `gatehouse engine-proxy: connection upgrade is not accepted on ${ep.action}`);
    }
    let facts: Facts;
    try {
      facts = await this.factsFor(ep, method, caller, undefined);
    } catch (e) {
      const status = e instanceof HttpFailure ? e.status : 500;
      return writeRaw(socket, status, `gatehouse engine-proxy: ${describeError(e)}; request denied (fail closed)`);
    }
    const decision = this.decide(facts);
    this.record(req, caller, ep, facts, decision, started);
    if (decision.verdict === 'deny') return writeRaw(socket, 403, decision.message);

    const bodyLength = Number(req.headers['content-length'] ?? 0);
    if (req.headers['transfer-encoding'] !== undefined || !Number.isSafeInteger(bodyLength) || bodyLength < 0 || bodyLength > (this.opts.maxBodyBytes ?? 1 << 20)) {
      return writeRaw(socket, 400, 'gatehouse engine-proxy: upgrade requests need a small Content-Length body (no chunked encoding)');
    }
    const up = rawConnect(this.opts.upstream);
    this.hijacked.add(socket);
    (socket as Socket).setTimeout?.(0);
    up.once('error', (e) => {
      this.metrics.upstreamErrors.inc({ stage: 'hijack' });
      this.hijacked.delete(socket);
      writeRaw(socket, 502, `gatehouse engine-proxy: engine unreachable at ${formatAddress(this.opts.upstream)}: ${describeError(e)}`);
    });
    up.once('connect', () => {
      up.removeAllListeners('error');
      const lines = [`${method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      spliceHijack({
        client: socket,
        upstream: up,
        requestHead: `${lines.join('\r\n')}\r\n\r\n`,
        bodyLength,
        head,
        onDone: () => this.hijacked.delete(socket),
      });
    });
  }

  /** Everything the policy may look at for this request. */
  private async factsFor(ep: Endpoint, method: string, caller: Caller, json: Json | undefined): Promise<Facts> {
    let facts: Facts = baseFacts(ep, method, caller);
    if (ep.target) facts['target.ref'] = ep.target;
    switch (ep.action) {
      case 'container.create':
        facts = { ...facts, ...createFacts(json ?? null, ep.query) };
        break;
      case 'exec.create':
        facts = { ...facts, ...execFacts(json ?? null) };
        break;
      case 'container.update':
        facts = { ...facts, ...updateFacts(json ?? null) };
        break;
      case 'container.commit':
        facts = { ...facts, 'target.ref': ep.query.get('container') ?? '' };
        break;
      case 'volume.create':
        facts = { ...facts, ...volumeFacts(json ?? null) };
        break;
      default:
        if (ep.action.startsWith('image.')) facts = { ...facts, ...imageEndpointFacts(ep) };
    }
    const targetRef = ep.action === 'container.commit' ? ep.query.get('container') : ep.target;
    if (targetRef && (CONTAINER_TARGET_ACTIONS.has(ep.action) || ep.action === 'container.commit') && this.current.readsTarget(ep.action)) {
      const target = await this.inspectContainer(targetRef);
      if (target) facts = { ...facts, ...targetFacts(target) };
    }
    if (this.opts.imageVerifier && (ep.action === 'container.create' || ep.action === 'image.pull') && typeof facts['image.ref'] === 'string') {
      const v = await this.opts.imageVerifier.verify(facts['image.ref'], caller);
      facts['image.signed'] = v.signed;
      if (v.detail) facts['image.trust'] = v.detail;
    }
    return facts;
  }

  private async inspectContainer(ref: string): Promise<TargetContainer | undefined> {
    let doc: unknown;
    try {
      doc = await getJson(this.opts.upstream, this.agent, `/containers/${encodeURIComponent(ref)}/json`);
    } catch (e) {
      this.metrics.upstreamErrors.inc({ stage: 'inspect' });
      throw new HttpFailure(502, `cannot inspect container ${ref} to decide: ${describeError(e)}`);
    }
    if (doc === undefined) return undefined;
    const j = doc as Json;
    const labels = memberPath(j, 'Config', 'Labels');
    return {
      id: asString(member(j, 'Id')) ?? ref,
      name: asString(member(j, 'Name')) ?? '',
      image: asString(memberPath(j, 'Config', 'Image')) ?? '',
      labels: isObject(labels) ? Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])) : {},
    };
  }

  private record(req: http.IncomingMessage, caller: Caller, ep: Endpoint, facts: Facts, d: ProxyDecision, started: bigint): void {
    this.metrics.requests.inc({ decision: d.verdict, action: ep.action });
    this.metrics.decisionLatency.observe({ decision: d.verdict }, secondsSince(started));
    const rec: AuditRecord = {
      time: new Date().toISOString(),
      caller,
      method: req.method ?? '',
      path: req.url ?? '',
      action: ep.action,
      container: strOf(facts['target.name']) ?? strOf(facts['target.ref']) ?? strOf(facts['container.name']),
      image: strOf(facts['image.ref']),
      decision: d.verdict,
      policy: this.current.name,
      rules: d.violations.map((f) => f.id),
      message: d.message,
    };
    if (d.verdict !== 'allow') rec.findings = edgeFindings(d.violations, rec, this.host);
    this.opts.audit?.write(rec);
    if (d.verdict !== 'allow') {
      this.log(d.verdict === 'deny' ? 'warn' : 'info', d.message, { action: ep.action, caller });
      if (this.opts.alertWebhook) postAlert(this.opts.alertWebhook, decisionReport(rec, this.host), (e) => this.log('warn', `alert webhook: ${describeError(e)}`));
    }
  }

  private refuse(req: http.IncomingMessage, res: http.ServerResponse, caller: Caller, status: number, message: string, ep?: Endpoint): void {
    this.metrics.requests.inc({ decision: 'error', action: ep?.action ?? 'invalid' });
    this.opts.audit?.write({
      time: new Date().toISOString(),
      caller,
      method: req.method ?? '',
      path: req.url ?? '',
      action: ep?.action ?? 'invalid',
      decision: 'error',
      policy: this.current.name,
      rules: [],
      message,
      status,
    });
    this.log('warn', message, { caller });
    res.setHeader('Connection', 'close');
    sendError(res, status, message);
    // Do not read (possibly huge) bodies of refused requests: close once the answer is out.
    res.on('finish', () => setTimeout(() => req.socket.destroy(), 50).unref());
  }

  private failClosed(req: http.IncomingMessage, res: http.ServerResponse, e: unknown): void {
    const status = e instanceof HttpFailure ? e.status : 500;
    this.log('error', `request failed: ${describeError(e)}`);
    if (!res.headersSent) {
      res.setHeader('Connection', 'close');
      sendError(res, status, `gatehouse engine-proxy: ${describeError(e)}; request denied (fail closed)`);
    } else res.destroy();
    req.resume();
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer | undefined): void {
    const headers: Record<string, string | string[]> = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i]!;
      const lk = k.toLowerCase();
      if (HOP_BY_HOP.has(lk)) continue;
      const prev = headers[k];
      headers[k] = prev === undefined ? req.rawHeaders[i + 1]! : ([] as string[]).concat(prev, req.rawHeaders[i + 1]!);
    }
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (body !== undefined) headers['Content-Length'] = String(body.length);
    else if (chunked) headers['Transfer-Encoding'] = 'chunked';
    else if (req.headers['content-length'] !== undefined) headers['Content-Length'] = req.headers['content-length'];
    const upReq = http.request({ ...upstreamRequestOptions(this.opts.upstream, this.agent), method: req.method, path: req.url, headers, setHost: false });
    upReq.on('response', (upRes) => {
      const out: Record<string, string | string[]> = {};
      for (let i = 0; i < upRes.rawHeaders.length; i += 2) {
        const k = upRes.rawHeaders[i]!;
        const lk = k.toLowerCase();
        if (HOP_BY_HOP.has(lk) && lk !== 'content-length') continue;
        const prev = out[k];
        out[k] = prev === undefined ? upRes.rawHeaders[i + 1]! : ([] as string[]).concat(prev, upRes.rawHeaders[i + 1]!);
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, out);
      // Streams (events, logs -f, stats) must reach the client as they come; an answer
      // of known length goes out with its body in one write.
      if (upRes.headers['content-length'] === undefined) res.flushHeaders();
      upRes.pipe(res);
      upRes.on('error', () => res.destroy());
    });
    upReq.on('error', (e) => {
      this.metrics.upstreamErrors.inc({ stage: 'forward' });
      if (!res.headersSent) {
        res.setHeader('Connection', 'close');
        sendError(res, 502, `gatehouse engine-proxy: engine unreachable at ${formatAddress(this.opts.upstream)}: ${describeError(e)}`);
        req.resume();
      } else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) upReq.destroy();
    });
    if (body !== undefined) upReq.end(body);
    else req.pipe(upReq);
  }
}

function strOf(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : undefined;
}

function sendError(res: http.ServerResponse, status: number, message: string): void {
  const payload = JSON.stringify({ message });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
  res.end(payload);
}

/** An error answer written straight to a socket (hijack requests, parser errors). */
function writeRaw(socket: Duplex, status: number, message: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const payload = JSON.stringify({ message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
  );
}

function readBody(req: http.IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > limit) return reject(new HttpFailure(413, `request body of ${declared} bytes exceeds the ${limit}-byte limit for decided requests`));
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => reject(new HttpFailure(408, `request body not received within ${timeoutMs} ms`)), timeoutMs);
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > limit) {
        clearTimeout(timer);
        req.pause();
        reject(new HttpFailure(413, `request body exceeds the ${limit}-byte limit for decided requests`));
      } else chunks.push(d);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Creates the socket's directory; replaces a stale socket, refuses a live one. */
async function prepareSocketPath(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  if (!existsSync(path)) return;
  if (!statSync(path).isSocket()) throw new UserError(`${path} exists and is not a socket; refusing to replace it`, 'listen');
  const live = await new Promise<boolean>((resolve) => {
    const s = netConnect(path);
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
  if (live) throw new UserError(`${path} is in use by another process`, 'listen');
  unlinkSync(path);
}
