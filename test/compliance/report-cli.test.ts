/**
 * `gatehouse compliance report` over the manifest fixtures: the per-control statuses follow
 * the documented rules, json and csv have their shapes, the HTML report is one
 * self-contained file (no http(s) URL in any src or href, no script) that Debian's chromium
 * renders and prints to PDF (screenshot and PDF kept under a temp dir printed by the test).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { CSV_HEADER, type ComplianceReport } from '../../src/compliance/index.js';
import { runCli } from '../helpers/cli.js';
import { missing } from '../helpers/components.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'gatehouse-compliance-'));
const CHROMIUM = process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium';

/** Parses RFC 4180 CSV (quoted fields with commas, quotes and newlines). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  const endField = () => {
    row.push(field);
    field = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') endField();
    else if (c === '\r' && text[i + 1] === '\n') {
      endField();
      rows.push(row);
      row = [];
      i++;
    } else field += c;
  }
  if (field || row.length) {
    endField();
    rows.push(row);
  }
  return rows;
}

describe('compliance report CLI', () => {
  let cis: ComplianceReport;
  before(async () => {
    const r = await runCli(['compliance', 'report', '--framework', 'cis-kubernetes', fixture('cluster.yaml'), fixture('linkerd.yaml'), '--format', 'json', '--output', join(out, 'cis.json')]);
    assert.equal(r.code, 0, r.stderr);
    cis = JSON.parse(readFileSync(join(out, 'cis.json'), 'utf8'));
  });

  test('json: per-control status with evidence, as the status rules say', () => {
    assert.equal(cis.framework.id, 'cis-kubernetes');
    assert.equal(cis.framework.version, '1.10');
    const c = (id: string) => cis.controls.find((x) => x.id === id)!;
    // 5.1.6 automated, pod-level automount fails for legacy/old: fail, with the finding.
    assert.equal(c('5.1.6').status, 'fail');
    assert.ok(c('5.1.6').findings.some((f) => f.resource.k8s?.name === 'old' && f.policy?.id === 'automount-service-account-token'));
    assert.match(c('5.1.6').reason, /failed result\(s\) of automount-service-account-token/);
    // 5.4.1 is manual in the benchmark, but a Secret read into env fails automatically: fail.
    assert.equal(c('5.4.1').status, 'fail');
    assert.ok(c('5.4.1').results.some((r) => r.status === 'fail' && /DB_PASSWORD/.test(r.evidence.join())));
    // 5.2.2 manual, privileged containers: none → manual with the passes as evidence.
    assert.equal(c('5.2.2').status, 'manual');
    assert.match(c('5.2.2').reason, /assessed manually; automated evidence: \d+ passed result\(s\) of privileged-container/);
    // 5.1.1 automated, only RBAC risks mapped and no RBAC objects among the inputs: not applicable.
    assert.equal(c('5.1.1').status, 'not-applicable');
    // 5.1.7 has no automated check: manual.
    assert.equal(c('5.1.7').status, 'manual');
    // The summary counts the controls.
    const total = Object.values(cis.summary).reduce((a, b) => a + b, 0);
    assert.equal(total, cis.controls.length);
    assert.deepEqual(Object.keys(cis.summary).sort(), ['fail', 'manual', 'not-applicable', 'pass']);
  });

  test('a control passes when every evaluated check passed (NIST 4.3.4 over a fixture without violations)', async () => {
    const r = await runCli(['compliance', 'report', '--framework', 'nist-800-190', fixture('cluster.yaml'), '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const nist = JSON.parse(r.stdout) as ComplianceReport;
    const c = nist.controls.find((x) => x.id === '4.3.4')!;
    assert.equal(c.status, 'pass', c.reason);
    assert.match(c.reason, /passed result\(s\) of use-namespace; not evaluated on these inputs: sensitive-workload-node-pool/);
    const mtls = nist.controls.find((x) => x.id === '4.3.3')!;
    assert.equal(mtls.status, 'fail');
    assert.ok(mtls.results.some((x) => x.id === 'k8s.mesh.workload-mtls' && x.status === 'fail' && /port 9090/.test(x.evidence.join())));
    // --exit-code applies when a control fails.
    const gated = await runCli(['compliance', 'report', '--framework', 'nist-800-190', fixture('cluster.yaml'), '--exit-code', '3', '--format', 'csv']);
    assert.equal(gated.code, 3, gated.stderr);
  });

  test('csv: RFC 4180, one row per control, the header as documented', async () => {
    const r = await runCli(['compliance', 'report', '--framework', 'cis-kubernetes', fixture('cluster.yaml'), '--format', 'csv']);
    assert.equal(r.code, 0, r.stderr);
    const rows = parseCsv(r.stdout);
    assert.deepEqual(rows[0], [...CSV_HEADER]);
    assert.equal(rows.length - 1, cis.controls.length);
    for (const row of rows.slice(1)) assert.equal(row.length, CSV_HEADER.length, row.join('|'));
    const r516 = rows.find((x) => x[2] === '5.1.6')!;
    assert.equal(r516[6], 'fail');
    assert.equal(r516[0], 'cis-kubernetes');
    assert.match(r516[12]!, /^fail: Deployment legacy\/old: service account token is automounted/);
  });

  test('table: one line per control and the summary', async () => {
    const r = await runCli(['compliance', 'report', '--framework', 'cis-kubernetes', fixture('cluster.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^5\.1\.6\s+FAIL\s+A\s+Ensure that Service Account Tokens/m);
    assert.match(r.stdout, /^FAIL \d+ {2}MANUAL \d+ {2}PASS \d+ {2}N\/A \d+$/m);
  });

  test('--node: this machine\'s node checks decide the host controls, unknown facts make a control manual', async () => {
    const r = await runCli(['compliance', 'report', '--framework', 'nist-800-190', '--node', '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const nist = JSON.parse(r.stdout) as ComplianceReport;
    assert.match(nist.inputs[0]!, /^node check on .+: \d+ result\(s\)$/);
    const host = nist.controls.filter((c) => c.results.some((x) => x.id.startsWith('node.')));
    assert.ok(host.length > 0, 'some control has node results');
    for (const c of host) {
      const fail = c.results.some((x) => x.status === 'fail');
      const unknown = c.results.some((x) => x.status === 'unknown' || x.status === 'manual');
      const pass = c.results.some((x) => x.status === 'pass');
      if (fail) assert.equal(c.status, 'fail', c.id);
      else if (c.assessment === 'manual' || unknown) assert.equal(c.status, 'manual', c.id);
      else assert.equal(c.status, pass ? 'pass' : 'not-applicable', c.id);
    }
    // No Kubernetes input: the policy controls have nothing to say.
    assert.equal(nist.controls.find((c) => c.id === '4.1.4')!.status, 'not-applicable');
  });

  test('--findings: saved JSON reports of other commands (dockerfile check, image scan) count as evidence', async () => {
    const dockerfiles = fileURLToPath(new URL('../kube/fixtures/dockerfiles/', import.meta.url));
    for (const name of ['bad', 'good']) {
      const r = await runCli(['dockerfile', 'check', join(dockerfiles, `${name}.Dockerfile`), '--format', 'json', '--output', join(out, `${name}-dockerfile.json`)]);
      assert.ok(r.code === 0 || r.code === 1, r.stderr);
    }
    // An image scan report names the image policies it evaluated (policy.policies).
    const scan = {
      target: 'registry.example.com/app:1',
      findings: [{ id: 'image-runs-as-root', kind: 'policy', severity: 'MEDIUM', title: 'Image runs as root', detail: 'the image config sets no USER', resource: { image: { ref: 'registry.example.com/app:1' } }, policy: { id: 'image-runs-as-root' } }],
      policy: { decision: 'warn', enforcement: [], policies: ['image-runs-as-root', 'image-setuid-files', 'image-embedded-secret'], violations: 1, excepted: [], expiredExceptions: [] },
    };
    writeFileSync(join(out, 'scan.json'), JSON.stringify(scan));
    const bad = await runCli(['compliance', 'report', '--framework', 'nist-800-190', '--findings', join(out, 'bad-dockerfile.json'), '--findings', join(out, 'scan.json'), '--format', 'json']);
    assert.equal(bad.code, 0, bad.stderr);
    const report = JSON.parse(bad.stdout) as ComplianceReport;
    assert.match(report.inputs.join('\n'), /dockerfile check \(bad-dockerfile\.json\): \d+ failed and \d+ passed check\(s\)/);
    const c412 = report.controls.find((c) => c.id === '4.1.2')!;
    assert.equal(c412.status, 'fail');
    assert.ok(c412.results.some((x) => x.id === 'image-runs-as-root' && x.status === 'fail' && /registry\.example\.com\/app:1/.test(x.evidence.join())));
    assert.ok(c412.results.some((x) => x.id === 'image-setuid-files' && x.status === 'pass'));
    const c414 = report.controls.find((c) => c.id === '4.1.4')!;
    assert.ok(c414.checks.find((k) => k.id === 'image-embedded-secret')!.pass === 1);
    // A clean Dockerfile: its rules pass.
    const good = await runCli(['compliance', 'report', '--framework', 'nist-800-190', '--findings', join(out, 'good-dockerfile.json'), '--format', 'json']);
    const g = JSON.parse(good.stdout) as ComplianceReport;
    const c413 = g.controls.find((c) => c.id === '4.1.3')!;
    assert.equal(c413.status, 'pass', c413.reason);
    // Not a report: one line.
    writeFileSync(join(out, 'nope.json'), '{"hello": 1}');
    const nope = await runCli(['compliance', 'report', '--framework', 'nist-800-190', '--findings', join(out, 'nope.json')]);
    assert.equal(nope.code, 2);
    assert.match(nope.stderr, /nope\.json: not a Gatehouse JSON report \(no "findings" list\)/);
    assert.doesNotMatch(nope.stderr, /\n\s+at /);
  });

  test('--findings: Falco JSON alert lines from runtime replay fail their rules and runtime policies', async () => {
    const events = fileURLToPath(new URL('../runtime/fixtures/policy-events.jsonl', import.meta.url));
    const rules = `${process.env.GATEHOUSE_FALCO_REF ?? fileURLToPath(new URL('../../../shared/reference/falco', import.meta.url))}/rules/falco_rules.yaml`;
    const alerts = join(out, 'alerts.jsonl');
    const replay = await runCli(['runtime', 'replay', events, '--rules', rules, '--policy', 'runtime', '--format', 'json', '--output', alerts]);
    assert.equal(replay.code, 0, replay.stderr);
    const r = await runCli(['compliance', 'report', '--framework', 'nist-800-190', '--findings', alerts, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as ComplianceReport;
    assert.match(report.inputs.join('\n'), /runtime alerts \(alerts\.jsonl\): \d+ alert\(s\), \d+ failed check\(s\)/);
    const c444 = report.controls.find((c) => c.id === '4.4.4')!;
    assert.equal(c444.status, 'fail');
    assert.ok(c444.results.some((x) => x.id === 'Terminal shell in container' && x.status === 'fail'), JSON.stringify(c444.checks.filter((k) => k.evaluated)));
    assert.ok(c444.results.some((x) => x.id === 'runtime-shell-in-container' && x.status === 'fail'));
  });

  test('usage errors are one line', async () => {
    const none = await runCli(['compliance', 'report', '--framework', 'cis-kubernetes']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /give manifest files or directories/);
    const ctx = await runCli(['compliance', 'report', '--framework', 'cis-kubernetes', '--context', 'x', fixture('cluster.yaml')]);
    assert.equal(ctx.code, 2);
    assert.match(ctx.stderr, /--kubeconfig and --context apply to --cluster only/);
    const fmt = await runCli(['compliance', 'report', '--framework', 'cis-kubernetes', '--format', 'sarif', fixture('cluster.yaml')]);
    assert.equal(fmt.code, 2);
    for (const x of [none, ctx, fmt]) assert.doesNotMatch(x.stderr, /\n\s+at /);
  });

  describe('html', () => {
    let html = '';
    before(async () => {
      const r = await runCli(['compliance', 'report', '--framework', 'nist-800-190', fixture('cluster.yaml'), fixture('linkerd.yaml'), '--format', 'html', '--output', join(out, 'nist.html')]);
      assert.equal(r.code, 0, r.stderr);
      html = readFileSync(join(out, 'nist.html'), 'utf8');
    });

    test('self-contained: no external resource, no script, inline SVG chart and print CSS', () => {
      const refs = [...html.matchAll(/\b(?:src|href)\s*=\s*["']?([^"'\s>]+)/gi)].map((m) => m[1]!);
      assert.deepEqual(refs.filter((u) => /^(https?:)?\/\//i.test(u)), []);
      assert.doesNotMatch(html, /@import|url\(\s*["']?(https?:)?\/\//i);
      assert.doesNotMatch(html, /<script/i);
      assert.doesNotMatch(html, /<link\b/i);
      assert.match(html, /<svg role="img"/);
      assert.match(html, /@media print\{/);
      assert.match(html, /page-break-inside:avoid/);
      // Every control is there, with its status badge.
      assert.match(html, /<span class="badge b-fail">FAIL<\/span> 4\.3\.3 Poorly separated inter-container network traffic/);
      // Evidence is escaped, not injected.
      assert.doesNotMatch(html, /<(?!\/?(html|head|meta|title|style|body|h1|h2|h3|ul|li|div|table|tr|td|svg|circle|text|rect|section|span|small|p|code|em)\b)[a-z]/i);
    });

    test('renders in chromium and prints to PDF', { skip: missing(existsSync(CHROMIUM), `no chromium at ${CHROMIUM} (.ci/setup.d/85-chromium.sh)`) }, async () => {
      const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
      try {
        const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
        const requests: string[] = [];
        page.on('request', (req) => requests.push(req.url()));
        await page.goto(pathToFileURL(join(out, 'nist.html')).href);
        assert.deepEqual(requests.filter((u) => !u.startsWith('file:')), [], 'the report loads nothing from outside');
        const controls = (html.match(/<section class="control /g) ?? []).length;
        assert.ok(controls > 20, `${controls} controls`);
        assert.equal(await page.locator('section.control').count(), controls);
        assert.equal(await page.locator('svg circle').count() >= 2, true);
        const png = join(out, 'nist.png');
        await page.screenshot({ path: png, fullPage: false });
        await page.emulateMedia({ media: 'print' });
        const printPng = join(out, 'nist-print.png');
        await page.screenshot({ path: printPng, fullPage: false });
        const pdf = join(out, 'nist.pdf');
        await page.pdf({ path: pdf, format: 'A4', printBackground: true });
        const head = readFileSync(pdf).subarray(0, 5).toString('latin1');
        assert.equal(head, '%PDF-');
        assert.ok(statSync(pdf).size > 10_000);
        // The summary chart page breaks before the controls: several A4 pages.
        const pages = (readFileSync(pdf).toString('latin1').match(/\/Type\s*\/Page\b/g) ?? []).length;
        assert.ok(pages >= 3, `${pages} PDF page(s)`);
        // In print, the body has a white background.
        const bg = await page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
        assert.equal(bg, 'rgb(255, 255, 255)');
        console.log(`# compliance report screenshots ${png} ${printPng}, PDF ${pdf} (${pages} pages)`);
      } finally {
        await browser.close();
      }
    });
  });
});
