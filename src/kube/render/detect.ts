/** Which directories are rendered before they are read: Helm charts and kustomizations. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export function isChartDir(dir: string): boolean {
  return existsSync(join(dir, 'Chart.yaml'));
}

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** The kustomization file of DIR, if DIR is a kustomization. */
export function kustomizationFile(dir: string): string | undefined {
  return KUSTOMIZATION_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
}
