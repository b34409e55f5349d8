/**
 * Shared by `runtime replay` and `sensor`: --policy packs for runtime alerts, loaded and
 * compiled once before any event is read (a pack with an unknown field is an error, exit
 * 2), and the alert output options (--format, --output FILE, --webhook URL).
 */
import { createWriteStream, writeFileSync, type WriteStream } from 'node:fs';
import type { Finding } from '../findings/finding.js';
import { compilePolicySet, type PolicySet } from '../policy/evaluate.js';
import { loadPacks, resolvePackInput } from '../policy/pack.js';
import { formatNames, getFormatter } from '../report/index.js';
import { alertToFinding, sinkFor, WebhookSink, type Alert, type AlertSink } from '../runtime/rules/index.js';
import type { RuntimeEvent } from '../runtime/event.js';
import { subjects } from '../subjects/index.js';
import { UserError } from '../util/errors.js';
import type { AlertJudge } from '../runtime/alerts/verdict.js';

export const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Compiles the runtime policies of the given packs, or undefined without --policy. */
export async function loadRuntimePolicies(inputs: readonly string[] | undefined): Promise<PolicySet | undefined> {
  if (!inputs?.length) return undefined;
  const registry = subjects();
  const loaded = await loadPacks(inputs.map(resolvePackInput), registry);
  const runtime = loaded.policies.filter((p) => p.subject === 'runtime' && p.enabled);
  if (runtime.length === 0) throw new UserError(`--policy ${inputs.join(' ')}: no enabled policy about runtime alerts (subject: runtime)`, 'bad-policy');
  return compilePolicySet(runtime, registry, { exceptions: loaded.exceptions });
}

/**
 * `falco` is Falco's text alert lines (the alert's `output`, as `falco` prints with
 * json_output false), `json` is Falco's JSON alert lines; the other report formats render
 * alerts as Findings.
 */
export function alertFormats(): string[] {
  return ['falco', 'json', ...formatNames().filter((f) => f !== 'json')];
}

/** Without --format: Falco's text lines on a terminal, JSON lines otherwise (pipes, files). */
export function defaultAlertFormat(o: { format?: string; output?: string }): string {
  if (o.format) return o.format;
  return process.stdout.isTTY && (!o.output || o.output === '-') ? 'falco' : 'json';
}

/** Falco's text line is the alert's `output` (it already starts `TIME: Priority `), as `falco` prints it. */
export function falcoTextLine(a: Alert): string {
  return a.output;
}

/** `--rules` is repeatable (`-r A -r B`, as `falco -r`), never variadic: it must not eat the trace. */
export function requireRules(rules: readonly string[]): string[] {
  if (!rules.length) throw new UserError("required option '-r, --rules <file>' not specified (repeat it for more files: -r A -r B)", 'usage');
  return [...rules];
}

/** Alerts as Falco's text lines, to stdout or appended to a file. */
class FalcoTextSink implements AlertSink {
  failed = 0;
  private error: Error | undefined;
  private readonly out: NodeJS.WritableStream | WriteStream;
  constructor(private readonly target: string) {
    if (target === '-') this.out = process.stdout;
    else {
      const w = createWriteStream(target, { flags: 'a' });
      w.on('error', (e) => {
        this.error = e;
      });
      this.out = w;
    }
  }
  write(alert: Alert): void {
    if (this.error) {
      this.failed++;
      return;
    }
    this.out.write(`${falcoTextLine(alert)}\n`);
  }
  close(): Promise<void> {
    if (this.out === process.stdout) return Promise.resolve();
    return new Promise((resolve, reject) => {
      (this.out as WriteStream).end(() => (this.error ? reject(new UserError(`cannot write alerts to ${this.target}: ${this.error.message}`)) : resolve()));
    });
  }
}

/** Formats whose alerts stream line by line (the others are a report at the end). */
export const streamedFormat = (format: string): boolean => format === 'json' || format === 'falco';

export function checkExitCode(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 255) throw new UserError(`--exit-code must be 0..255, got '${v}'`, 'usage');
  return n;
}

/** Where alert lines go: --output FILE or stdout, plus --webhook URL. */
export function alertSinks(o: { format: string; output?: string; webhook?: string }): AlertSink[] {
  if (o.output && /^https?:\/\//.test(o.output)) throw new UserError(`--output is a file; send alerts to a URL with --webhook ${o.output}`, 'usage');
  const sinks: AlertSink[] = [];
  if (o.webhook) sinks.push(new WebhookSink(o.webhook));
  if (o.format === 'json' && (o.output || !o.webhook)) sinks.push(sinkFor(o.output ?? '-'));
  if (o.format === 'falco' && (o.output || !o.webhook)) sinks.push(new FalcoTextSink(o.output ?? '-'));
  return sinks;
}

/**
 * Collects alerts (and the policy violations they caused) as Findings for a report format;
 * the report is written by `write()` at the end of the run.
 */
export class AlertReport {
  private readonly findings: Finding[] = [];
  constructor(private readonly command: string, private readonly format: string, private readonly output: string | undefined) {
    getFormatter(format);
  }

  add(alert: Alert, event: RuntimeEvent | undefined, violations: readonly Finding[] = []): void {
    this.findings.push(alertToFinding(alert, event), ...violations);
  }

  write(notes: string[]): void {
    const text = getFormatter(this.format).format(this.findings, { command: this.command, notes });
    if (this.output && this.output !== '-') writeFileSync(this.output, text);
    else process.stdout.write(text);
  }
}

/**
 * The annotate hook both `runtime replay` and `sensor` give the rule engine: each alert
 * gets its policy verdict (when packs were given) and is added to the report (non-JSON
 * formats). Undefined when there is nothing to do, so the engine skips the hook.
 */
export function alertAnnotator(judge: AlertJudge | undefined, report: AlertReport | undefined): ((a: Alert, ev: RuntimeEvent | undefined) => Alert) | undefined {
  if (!judge && !report) return undefined;
  return (a, ev) => {
    if (!judge) {
      report!.add(a, ev);
      return a;
    }
    const j = judge.judge(a, ev);
    report?.add(j.alert, ev, j.violations);
    return j.alert;
  };
}
