/**
 * HTTP access logs, read into API calls (who called which workload with which method and
 * path). Two formats, told apart per line:
 *
 * - Envoy's JSON access log (a format dictionary, `json_format`; Istio's JSON encoding uses
 *   the same keys): `method`, `path`, `authority`, `response_code`, `upstream_cluster`,
 *   `downstream_remote_address`, `x_forwarded_for`, and the caller's identity when the line
 *   carries one: `downstream_peer_uri_san` (`%DOWNSTREAM_PEER_URI_SAN%`, the SPIFFE ID of an
 *   mTLS client), `source_principal`, or the `x-forwarded-client-cert` header
 *   (`%REQ(X-FORWARDED-CLIENT-CERT)%`, its last element's `URI=`).
 * - Python http.server's log (the corpus web app, `scripts/corpus/webapp.py`): the common log
 *   format `HOST - - [DATE] "METHOD PATH HTTP/x" STATUS SIZE`; Apache's common log format
 *   reads the same way. Its error lines (`code 400, message …`) are counted as skipped.
 *
 * A JSON line with neither method nor path but connection keys (a TCP proxy's line) is
 * skipped; a line that is neither format is counted as malformed, never thrown.
 */

export type Caller =
  | { kind: 'principal'; value: string }
  /** Only with AuthzOptions.source = namespace: a principal widened to its namespace. */
  | { kind: 'namespace'; value: string }
  | { kind: 'ip'; value: string }
  | { kind: 'unknown'; value: '' };

export interface ApiCall {
  caller: Caller;
  /** `ns/name` of the called workload (or Service), or a host when nothing better is known. */
  destination: string;
  method: string;
  /** Path without query string or fragment. */
  path: string;
  status?: number;
  format: 'envoy-json' | 'common-log';
}

export interface ParsedLog {
  calls: ApiCall[];
  lines: number;
  malformed: number;
  /** Up to 5 examples: `file:line: reason`. */
  malformedSamples: string[];
  /** Lines that are log lines but no request (http.server error lines). */
  skipped: number;
  notes: string[];
}

export interface ParseOptions {
  /** The destination of every call (common-log lines name none); `ns/name`. */
  destination?: string;
}

const SPIFFE = /spiffe:\/\/([^\s,;"]+)/;

/** `spiffe://td/ns/x/sa/y` → Istio's principal form `td/ns/x/sa/y`. */
export function principalOf(uri: string): string | undefined {
  const m = SPIFFE.exec(uri);
  return m ? m[1] : undefined;
}

/** The client's URI from an XFCC header: its last element (the immediate client), `URI=`. */
export function xfccPrincipal(xfcc: string): string | undefined {
  const elements = xfcc.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/);
  for (let i = elements.length - 1; i >= 0; i--) {
    for (const kv of elements[i]!.split(/;(?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
      const [k, ...rest] = kv.split('=');
      if (k?.trim().toUpperCase() === 'URI') {
        const p = principalOf(rest.join('=').replace(/^"|"$/g, ''));
        if (p) return p;
      }
    }
  }
  return undefined;
}

const field = (o: Record<string, unknown>, ...names: string[]): string | undefined => {
  for (const n of names) {
    const v = o[n] ?? o[n.replace(/_/g, '-')];
    if (typeof v === 'string' && v !== '' && v !== '-') return v;
    if (typeof v === 'number') return String(v);
  }
  return undefined;
};

function hostOnly(authority: string): string {
  return authority.replace(/^\[([^\]]+)\](?::\d+)?$/, '$1').replace(/:\d+$/, '');
}

/** `reviews.default.svc.cluster.local` → default/reviews; `reviews` → NS/reviews with the given namespace. */
function serviceRef(host: string, ns: string | undefined): string | undefined {
  if (/^[\d.]+$/.test(host) || host.includes(':')) return undefined;
  const parts = host.split('.');
  if (parts.length >= 2 && (parts.length === 2 || parts[2] === 'svc')) return `${parts[1]}/${parts[0]}`;
  if (parts.length === 1 && ns) return `${ns}/${parts[0]}`;
  return undefined;
}

function stripQuery(path: string): string {
  const i = path.search(/[?#]/);
  return i < 0 ? path : path.slice(0, i);
}

function ipOfAddress(addr: string): string {
  const v6 = /^\[([^\]]+)\]:\d+$/.exec(addr);
  if (v6) return v6[1]!;
  return /^[\d.]+:\d+$/.test(addr) ? addr.replace(/:\d+$/, '') : addr;
}

function envoyCall(o: Record<string, unknown>, opts: ParseOptions): ApiCall | string {
  const method = field(o, 'method');
  const rawPath = field(o, 'path', 'x_envoy_original_path');
  if (!method || !rawPath) return 'JSON without method and path';
  if (!/^[A-Z][A-Z0-9_-]*$/.test(method)) return `not an HTTP method: ${method.slice(0, 20)}`;
  const status = field(o, 'response_code');
  const authority = field(o, 'authority');
  const podNs = field(o, 'pod_namespace', 'namespace');
  let destination = opts.destination;
  if (!destination) {
    const cluster = field(o, 'upstream_cluster') ?? '';
    const out = /^outbound\|\d*\|[^|]*\|(.+)$/.exec(cluster);
    if (out) destination = serviceRef(out[1]!, podNs);
    if (!destination && authority) destination = serviceRef(hostOnly(authority), podNs) ?? hostOnly(authority);
  }
  if (!destination) return 'no destination (no upstream_cluster or authority; give --destination)';
  const principal =
    principalOf(field(o, 'downstream_peer_uri_san', 'source_principal', 'peer_principal') ?? '') ??
    xfccPrincipal(field(o, 'x_forwarded_client_cert', 'xfcc') ?? '');
  let caller: Caller = { kind: 'unknown', value: '' };
  if (principal) caller = { kind: 'principal', value: principal };
  else {
    const remote = field(o, 'downstream_remote_address') ?? field(o, 'x_forwarded_for')?.split(',')[0]?.trim();
    if (remote) caller = { kind: 'ip', value: ipOfAddress(remote) };
  }
  return { caller, destination, method, path: stripQuery(rawPath), status: status !== undefined && /^\d+$/.test(status) ? Number(status) : undefined, format: 'envoy-json' };
}

// host ident user [date] "METHOD PATH PROTO" status size
const COMMON = /^(\S+) \S+ \S+ \[[^\]]+\] "([A-Z][A-Z0-9_-]*) (\S+)(?: HTTP\/[\d.]+)?" (\d{3}) (?:\d+|-)\s*$/;
const HTTP_SERVER_ERROR = /^\S+ \S+ \S+ \[[^\]]+\] code \d{3}, message /;

/** Parses access log text (both formats may be mixed). */
export function parseAccessLog(text: string, file: string, opts: ParseOptions = {}): ParsedLog {
  const out: ParsedLog = { calls: [], lines: 0, malformed: 0, malformedSamples: [], skipped: 0, notes: [] };
  const bad = (n: number, reason: string) => {
    out.malformed++;
    if (out.malformedSamples.length < 5) out.malformedSamples.push(`${file}:${n}: ${reason}`);
  };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    out.lines++;
    if (line.startsWith('{') || line.startsWith('[')) {
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch {
        bad(i + 1, 'invalid JSON');
        continue;
      }
      if (!o || typeof o !== 'object' || Array.isArray(o)) {
        bad(i + 1, 'JSON that is not an object');
        continue;
      }
      const rec = o as Record<string, unknown>;
      // A TCP proxy's line (Istio logs TCP connections with the same keys): no method, no path.
      if (field(rec, 'method') === undefined && field(rec, 'path') === undefined && (field(rec, 'upstream_cluster') ?? field(rec, 'downstream_remote_address')) !== undefined) {
        out.skipped++;
        continue;
      }
      const c = envoyCall(rec, opts);
      if (typeof c === 'string') bad(i + 1, c);
      else out.calls.push(c);
      continue;
    }
    const m = COMMON.exec(line);
    if (m) {
      if (!opts.destination) {
        bad(i + 1, 'a common-log line names no destination (give --destination NS/NAME)');
        continue;
      }
      out.calls.push({ caller: { kind: 'ip', value: m[1]! }, destination: opts.destination, method: m[2]!, path: stripQuery(m[3]!), status: Number(m[4]), format: 'common-log' });
      continue;
    }
    if (HTTP_SERVER_ERROR.test(line)) {
      out.skipped++;
      continue;
    }
    bad(i + 1, 'neither an Envoy JSON line nor a common log line');
  }
  return out;
}
