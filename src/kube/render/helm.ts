/**
 * Helm charts: `helm template` renders a chart directory with its values (`--values F`,
 * `--set K=V`, Helm's meaning and order), and every rendered object is placed back in the
 * template that produced it. Helm marks each document with `# Source: CHART/templates/x.yaml`;
 * the line is found by searching the template text (see template-positions.ts), so a
 * finding points at the template file, never at rendered text the user never sees.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseManifests, splitDocuments, type LoadResult } from '../manifests.js';
import { UserError } from '../../util/errors.js';
import { findOnPath, runTool } from './tools.js';
import { TemplateLocator } from './template-positions.js';

export interface HelmValues {
  /** Values files, in order (later ones win), as `helm template -f`. */
  values?: string[];
  /** `--set K=V` overrides, in order, as `helm template --set`. */
  set?: string[];
}

export const HELM_MISSING =
  'needs helm on PATH to render the chart (https://helm.sh/docs/intro/install/, or `go install helm.sh/helm/v3/cmd/helm@v3.21.4`); or render it yourself: helm template DIR | gatehouse k8s check -';

/** Renders CHART_DIR and loads its objects, each located in its template file. */
export async function renderChart(dir: string, opts: HelmValues = {}): Promise<LoadResult> {
  const helm = findOnPath('helm');
  if (!helm) throw new UserError(`${dir}: Helm chart ${HELM_MISSING}`, 'bad-input');
  const args = ['template', dir];
  for (const f of opts.values ?? []) args.push('--values', f);
  for (const s of opts.set ?? []) args.push('--set', s);
  const rendered = await runTool(helm, args, `helm template ${dir}`);
  return loadRendered(rendered, dir);
}

/** Objects of `helm template` output, each mapped to its template file under DIR. */
export async function loadRendered(rendered: string, dir: string): Promise<LoadResult> {
  const result: LoadResult = { objects: [], notes: [] };
  const locators = new Map<string, TemplateLocator>();
  for (const chunk of splitDocuments(rendered)) {
    const source = /^# Source: (.+)$/m.exec(chunk.text)?.[1]?.trim();
    const file = source ? templatePath(dir, source) : dir;
    const parsed = parseManifests(chunk.text, file);
    // Rendered line numbers mean nothing to the user: notes keep the template file only.
    for (const n of parsed.notes) result.notes.push({ level: n.level, file, message: n.message });
    if (!parsed.objects.length) continue;
    let locator = locators.get(file);
    if (!locator) {
      locator = new TemplateLocator(file, existsSync(file) ? await readFile(file, 'utf8') : '');
      locators.set(file, locator);
    }
    for (const o of parsed.objects) {
      const place = locator.place(o.kind, o.name);
      result.objects.push({ ...o, source: place.source, positionOf: (path) => place.positionOf(path) });
    }
  }
  return result;
}

/** `CHART/templates/x.yaml` (the chart's name, not the directory's) to DIR/templates/x.yaml. */
function templatePath(dir: string, source: string): string {
  const rest = source.split('/').slice(1);
  return rest.length ? join(dir, ...rest) : join(dir, source);
}
