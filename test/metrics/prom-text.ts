/**
 * A strict reader of the Prometheus text exposition format (0.0.4) for the metrics tests:
 * every line is a `# HELP`, a `# TYPE` or a sample of a declared family, or the parse fails.
 */
import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
  /** The value of the sample with exactly these labels (among others); 0 when there is none. */
  value(name: string, labels?: Record<string, string>): number;
  /** The sum over every sample of `name` whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;

/** The family a sample belongs to (histogram _bucket/_sum/_count, counter _total). */
function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
    if (name.endsWith(suffix) && types.has(name.slice(0, -suffix.length))) return name.slice(0, -suffix.length);
  }
  return undefined;
}

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (t) {
      assert.ok(!types.has(t[1]!), `family ${t[1]} declared twice`);
      types.set(t[1]!, t[2]!);
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      LABEL.lastIndex = 0;
      let consumed = 0;
      for (let l = LABEL.exec(m[2]); l; l = LABEL.exec(m[2])) {
        labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
        consumed = LABEL.lastIndex;
      }
      assert.equal(consumed, m[2].length, `bad labels in ${JSON.stringify(line)}`);
    }
    // As Prometheus (Go's ParseFloat): NaN and Inf in any letter case (prom-client writes "Nan").
    const raw = m[3]!;
    const value = /^[+-]?inf$/i.test(raw) ? (raw.startsWith('-') ? -Infinity : Infinity) : /^nan$/i.test(raw) ? NaN : Number(raw);
    assert.ok(!Number.isNaN(value) || /^nan$/i.test(raw), `bad value in ${JSON.stringify(line)}`);
    assert.ok(familyOf(m[1]!, types), `sample ${m[1]} has no # TYPE before it`);
    samples.push({ name: m[1]!, labels, value });
  }
  const matching = (name: string, labels: Record<string, string>) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    types,
    samples,
    value: (name, labels = {}) => matching(name, labels)[0]?.value ?? 0,
    sum: (name, labels = {}) => matching(name, labels).reduce((n, s) => n + s.value, 0),
  };
}

/** Fetches and parses a /metrics answer; checks the status and the content type. */
export async function scrape(url: string, init: Parameters<typeof fetch>[1] = {}): Promise<Exposition> {
  const res = await fetch(url, init);
  const text = await res.text();
  assert.equal(res.status, 200, text.slice(0, 300));
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(text);
}

/** The `# TYPE` lines every component has: the default process metrics. */
export function assertProcessMetrics(e: Exposition): void {
  assert.equal(e.types.get('gatehouse_process_resident_memory_bytes'), 'gauge');
  assert.equal(e.types.get('gatehouse_process_cpu_seconds_total'), 'counter');
  assert.ok(e.value('gatehouse_process_resident_memory_bytes') > 0);
}
