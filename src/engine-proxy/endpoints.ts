/**
 * Classifies a Docker Engine API request (method + path) into a named action such as
 * `container.create` or `exec.create`, the vocabulary policies are written in. The table
 * covers the endpoints the docker CLI, compose and the SDKs use; anything else is
 * `unknown`, which the default policy denies (fail closed) — this includes podman's own
 * `/libpod/...` API, which would otherwise bypass Docker-shaped rules.
 */
export interface Endpoint {
  action: string;
  /** API version from a `/v1.41/...` prefix, if any. */
  version?: string;
  /** The unversioned path, e.g. `/containers/abc/start`. */
  path: string;
  /** Container id or name (container.*, exec.create) or image name (image.*) in the path. */
  target?: string;
  /** Exec id for exec.* endpoints that address an exec instance. */
  execId?: string;
  query: URLSearchParams;
}

type Route = [method: string, pattern: RegExp, action: string, capture?: 'target' | 'execId'];

const C = '([^/]+)';
const ROUTES: Route[] = [
  ['GET|HEAD', /^\/_ping$/, 'system.ping'],
  ['GET', /^\/version$/, 'system.version'],
  ['GET', /^\/info$/, 'system.info'],
  ['GET', /^\/events$/, 'system.events'],
  ['GET', /^\/system\/df$/, 'system.df'],
  ['POST', /^\/auth$/, 'system.auth'],
  ['GET', /^\/containers\/json$/, 'container.list'],
  ['POST', /^\/containers\/create$/, 'container.create'],
  ['POST', /^\/containers\/prune$/, 'container.prune'],
  ['GET', new RegExp(`^/containers/${C}/json$`), 'container.inspect', 'target'],
  ['GET', new RegExp(`^/containers/${C}/top$`), 'container.top', 'target'],
  ['GET', new RegExp(`^/containers/${C}/logs$`), 'container.logs', 'target'],
  ['GET', new RegExp(`^/containers/${C}/changes$`), 'container.changes', 'target'],
  ['GET', new RegExp(`^/containers/${C}/export$`), 'container.export', 'target'],
  ['GET', new RegExp(`^/containers/${C}/stats$`), 'container.stats', 'target'],
  ['GET|HEAD', new RegExp(`^/containers/${C}/archive$`), 'container.archive.get', 'target'],
  ['PUT', new RegExp(`^/containers/${C}/archive$`), 'container.archive.put', 'target'],
  ['POST', new RegExp(`^/containers/${C}/start$`), 'container.start', 'target'],
  ['POST', new RegExp(`^/containers/${C}/stop$`), 'container.stop', 'target'],
  ['POST', new RegExp(`^/containers/${C}/restart$`), 'container.restart', 'target'],
  ['POST', new RegExp(`^/containers/${C}/kill$`), 'container.kill', 'target'],
  ['POST', new RegExp(`^/containers/${C}/update$`), 'container.update', 'target'],
  ['POST', new RegExp(`^/containers/${C}/rename$`), 'container.rename', 'target'],
  ['POST', new RegExp(`^/containers/${C}/pause$`), 'container.pause', 'target'],
  ['POST', new RegExp(`^/containers/${C}/unpause$`), 'container.unpause', 'target'],
  ['POST', new RegExp(`^/containers/${C}/wait$`), 'container.wait', 'target'],
  ['POST', new RegExp(`^/containers/${C}/resize$`), 'container.resize', 'target'],
  ['POST', new RegExp(`^/containers/${C}/attach$`), 'container.attach', 'target'],
  ['GET', new RegExp(`^/containers/${C}/attach/ws$`), 'container.attach', 'target'],
  ['DELETE', new RegExp(`^/containers/${C}$`), 'container.remove', 'target'],
  ['POST', new RegExp(`^/containers/${C}/exec$`), 'exec.create', 'target'],
  ['POST', new RegExp(`^/exec/${C}/start$`), 'exec.start', 'execId'],
  ['POST', new RegExp(`^/exec/${C}/resize$`), 'exec.resize', 'execId'],
  ['GET', new RegExp(`^/exec/${C}/json$`), 'exec.inspect', 'execId'],
  ['POST', /^\/commit$/, 'container.commit'],
  ['GET', /^\/images\/json$/, 'image.list'],
  ['POST', /^\/images\/create$/, 'image.pull'],
  ['GET', /^\/images\/search$/, 'image.search'],
  ['GET', /^\/images\/get$/, 'image.save'],
  ['POST', /^\/images\/load$/, 'image.load'],
  ['POST', /^\/images\/prune$/, 'image.prune'],
  ['GET', /^\/images\/(.+)\/json$/, 'image.inspect', 'target'],
  ['GET', /^\/images\/(.+)\/history$/, 'image.history', 'target'],
  ['GET', /^\/images\/(.+)\/get$/, 'image.save', 'target'],
  ['POST', /^\/images\/(.+)\/push$/, 'image.push', 'target'],
  ['POST', /^\/images\/(.+)\/tag$/, 'image.tag', 'target'],
  ['DELETE', /^\/images\/(.+)$/, 'image.remove', 'target'],
  ['GET', /^\/distribution\/(.+)\/json$/, 'image.distribution', 'target'],
  ['POST', /^\/build$/, 'image.build'],
  ['POST', /^\/build\/prune$/, 'image.build.prune'],
  ['POST', /^\/build\/cancel$/, 'image.build.cancel'],
  ['GET', /^\/volumes$/, 'volume.list'],
  ['POST', /^\/volumes\/create$/, 'volume.create'],
  ['POST', /^\/volumes\/prune$/, 'volume.prune'],
  ['GET', new RegExp(`^/volumes/${C}$`), 'volume.inspect', 'target'],
  ['DELETE', new RegExp(`^/volumes/${C}$`), 'volume.remove', 'target'],
  ['GET', /^\/networks$/, 'network.list'],
  ['POST', /^\/networks\/create$/, 'network.create'],
  ['POST', /^\/networks\/prune$/, 'network.prune'],
  ['GET', new RegExp(`^/networks/${C}$`), 'network.inspect', 'target'],
  ['DELETE', new RegExp(`^/networks/${C}$`), 'network.remove', 'target'],
  ['POST', new RegExp(`^/networks/${C}/connect$`), 'network.connect', 'target'],
  ['POST', new RegExp(`^/networks/${C}/disconnect$`), 'network.disconnect', 'target'],
  ['GET|POST|DELETE', /^\/plugins(\/.*)?$/, 'plugin'],
  ['GET|POST|DELETE', /^\/(swarm|nodes|services|tasks|secrets|configs)(\/.*)?$/, 'swarm'],
  ['POST', /^\/session$/, 'system.session'],
];

const VERSION_RE = /^\/v(\d+\.\d+)(\/.*)$/;

/** Result of checking a raw request target; `error` means it must be refused with 400. */
export type Classified = { ok: true; endpoint: Endpoint } | { ok: false; error: string };

export function classify(method: string, rawUrl: string): Classified {
  if (!rawUrl.startsWith('/')) return { ok: false, error: 'request target must be an absolute path' };
  const q = rawUrl.indexOf('?');
  const rawPath = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return { ok: false, error: 'malformed percent-encoding in path' };
  }
  // The engine cleans paths (Go's path.Clean) before routing, so `/v1.41/x/../libpod/...`
  // would reach a different endpoint than the one classified here: refuse anything that
  // cleaning would change instead of trying to mirror it.
  if (/(^|\/)\.\.?(\/|$)/.test(decoded) || decoded.includes('//') || decoded.includes('\\') || decoded.includes('\0')) {
    return { ok: false, error: 'path with dot segments, empty segments or backslashes is not allowed' };
  }
  let path = decoded;
  let version: string | undefined;
  const vm = VERSION_RE.exec(decoded);
  if (vm) {
    version = vm[1];
    path = vm[2]!;
  }
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  const query = new URLSearchParams(q >= 0 ? rawUrl.slice(q + 1) : '');
  for (const [methods, re, action, capture] of ROUTES) {
    if (!methods.split('|').includes(method)) continue;
    const m = re.exec(path);
    if (!m) continue;
    const endpoint: Endpoint = { action, version, path, query };
    if (capture && m[1] !== undefined) endpoint[capture] = m[1];
    return { ok: true, endpoint };
  }
  return { ok: true, endpoint: { action: 'unknown', version, path, query } };
}

/** Actions whose decision needs the JSON request body. */
export const BODY_ACTIONS: ReadonlySet<string> = new Set(['container.create', 'exec.create', 'container.update', 'container.commit', 'network.create', 'volume.create', 'network.connect']);

/** Actions addressing an existing container whose labels/name policies may look at. */
export const CONTAINER_TARGET_ACTIONS: ReadonlySet<string> = new Set(
  ROUTES.filter(([, , a, cap]) => cap === 'target' && (a.startsWith('container.') || a === 'exec.create')).map(([, , a]) => a),
);
