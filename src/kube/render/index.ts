/**
 * Inputs that must be rendered before they are Kubernetes objects: Helm chart directories
 * (a Chart.yaml) and kustomizations (a kustomization.yaml). `renderDirectory` returns
 * undefined for any other directory, which is then walked file by file.
 */
import type { LoadResult } from '../manifests.js';

export { isChartDir, kustomizationFile } from './detect.js';
import { isChartDir, kustomizationFile } from './detect.js';
import { renderChart, type HelmValues } from './helm.js';
import { buildKustomization } from './kustomize.js';

export type RenderOptions = HelmValues;

export type RenderedKind = 'helm' | 'kustomize';

/**
 * A chart is rendered wherever it is met (as kube-linter does while walking a repository); a
 * kustomization only when it is the directory given (`top`), because a repository's bases and
 * overlays built one by one would report each object several times.
 */
export async function renderDirectory(dir: string, top: boolean, opts: RenderOptions = {}): Promise<(LoadResult & { kind: RenderedKind }) | undefined> {
  if (isChartDir(dir)) return { ...(await renderChart(dir, opts)), kind: 'helm' };
  const kustomization = top ? kustomizationFile(dir) : undefined;
  if (kustomization) return { ...(await buildKustomization(dir, kustomization)), kind: 'kustomize' };
  return undefined;
}
