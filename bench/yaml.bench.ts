/**
 * Why two YAML libraries: `yaml` is the project's reader (positions, alias caps, exact
 * errors), js-yaml stays on the two hot paths that read many plain documents — the manifest
 * loader's fast path (kube/fast-positions.ts, CORE schema) and advisory feed import
 * (vuln/feeds/index.ts, FAILSAFE schema). This times both libraries on each job with
 * generated documents and prints the ratio yaml / js-yaml.
 * Usage: npm run bench:yaml [-- --runs N]
 */
import jsYaml from 'js-yaml';
import { parse, stringify } from 'yaml';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const N = 2000;

const deployment = (i: number) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: `app-${i}`, namespace: 'shop', labels: { app: `app-${i}`, tier: 'web' } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: `app-${i}` } },
    template: {
      metadata: { labels: { app: `app-${i}` } },
      spec: {
        containers: [{
          name: 'main', image: `registry.example.com/app:${i}`, ports: [{ containerPort: 8080 }],
          env: Array.from({ length: 10 }, (_, k) => ({ name: `E${k}`, value: `v${k}` })),
          resources: { limits: { cpu: '1', memory: '1Gi' } },
          securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true },
        }],
      },
    },
  },
});

const advisory = (i: number) => ({
  id: `PYSEC-2024-${i}`,
  modified: '2024-01-01T00:00:00Z',
  summary: 'a '.repeat(40),
  affected: [{
    package: { ecosystem: 'PyPI', name: `pkg-${i}` },
    ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '7.0' }] }],
    versions: Array.from({ length: 30 }, (_, k) => `1.${k}`),
  }],
  references: [{ type: 'WEB', url: `https://example.com/${i}` }],
});

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median ms of RUNS passes (after one warm-up) of `parseOne` over every document. */
function timed(docs: string[], parseOne: (text: string) => unknown): number {
  const ms: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const t = performance.now();
    for (const d of docs) parseOne(d);
    if (i > 0) ms.push(performance.now() - t);
  }
  return median(ms);
}

const jobs = [
  {
    label: 'manifests (CORE schema)',
    docs: Array.from({ length: N }, (_, i) => stringify(deployment(i))),
    js: (t: string) => jsYaml.load(t, { schema: jsYaml.CORE_SCHEMA, json: true }),
    yaml: (t: string) => parse(t, { schema: 'core' }),
  },
  {
    label: 'advisories (FAILSAFE schema)',
    docs: Array.from({ length: N }, (_, i) => stringify(advisory(i))),
    js: (t: string) => jsYaml.load(t, { schema: jsYaml.FAILSAFE_SCHEMA }),
    yaml: (t: string) => parse(t, { schema: 'failsafe' }),
  },
];

for (const job of jobs) {
  const a = JSON.stringify(job.docs.slice(0, 3).map(job.js));
  const b = JSON.stringify(job.docs.slice(0, 3).map(job.yaml));
  if (a !== b) throw new Error(`${job.label}: the libraries read the documents differently`);
  const js = timed(job.docs, job.js);
  const y = timed(job.docs, job.yaml);
  console.log(`${job.label}, ${N} documents: js-yaml ${js.toFixed(0)} ms   yaml ${y.toFixed(0)} ms   ratio yaml/js-yaml ${(y / js).toFixed(1)}`);
}
