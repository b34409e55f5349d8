/**
 * The source commit, repository and branch a workload's image was built from, read from
 * the keys builders write. For each attribute the keys are tried in this order, and in
 * each place in this order: the image manifest's annotations, the image config's labels,
 * the pod template's annotations, the pod template's labels (plain hosts: the container's
 * labels, which hold its image's). The first value found wins; `evidence` records which.
 *
 * - revision: `org.opencontainers.image.revision` (OCI), `org.label-schema.vcs-ref`
 *   (Label Schema), `vcs-ref` (Red Hat images), `io.openshift.build.commit.id` (OpenShift builds)
 * - repository: `org.opencontainers.image.source` (OCI), `org.label-schema.vcs-url`,
 *   `vcs-url`, `io.openshift.build.source-location`
 * - branch: `gatehouse.dev/branch` (Gatehouse's own key: set it with
 *   `--annotation gatehouse.dev/branch=main` or a label), `io.openshift.build.commit.ref`
 *   (OpenShift: the ref built), and `org.opencontainers.image.ref.name` only when its value
 *   is a full Git branch ref `refs/heads/NAME` — OCI uses that key for tag names otherwise,
 *   so a bare value there is not taken for a branch. A `refs/heads/` prefix is dropped from
 *   every branch value.
 */
import type { BuildSource, ProvenanceOrigin } from './types.js';

export const REVISION_KEYS = ['org.opencontainers.image.revision', 'org.label-schema.vcs-ref', 'vcs-ref', 'io.openshift.build.commit.id'] as const;
export const REPOSITORY_KEYS = ['org.opencontainers.image.source', 'org.label-schema.vcs-url', 'vcs-url', 'io.openshift.build.source-location'] as const;
export const BRANCH_KEYS = ['gatehouse.dev/branch', 'io.openshift.build.commit.ref', 'org.opencontainers.image.ref.name'] as const;

const HEADS = 'refs/heads/';

/** The key/value maps to look in, most trusted first. */
export type ProvenancePlaces = Partial<Record<ProvenanceOrigin, Record<string, string> | undefined>>;

const ORDER: readonly ProvenanceOrigin[] = ['image-annotation', 'image-label', 'pod-annotation', 'pod-label', 'container-label'];

function branchValue(key: string, value: string): string | undefined {
  if (key === 'org.opencontainers.image.ref.name') return value.startsWith(HEADS) && value.length > HEADS.length ? value.slice(HEADS.length) : undefined;
  return value.startsWith(HEADS) ? value.slice(HEADS.length) || undefined : value;
}

export function readBuildSource(places: ProvenancePlaces): BuildSource {
  const out: BuildSource = { evidence: [] };
  const find = (attribute: 'revision' | 'repository' | 'branch', keys: readonly string[], accept: (key: string, v: string) => string | undefined = (_k, v) => v) => {
    for (const origin of ORDER) {
      const map = places[origin];
      if (!map) continue;
      for (const key of keys) {
        const raw = map[key];
        if (typeof raw !== 'string') continue;
        const value = accept(key, raw.trim());
        if (!value) continue;
        out[attribute] = value;
        out.evidence.push({ attribute, key, origin });
        return;
      }
    }
  };
  find('revision', REVISION_KEYS);
  find('repository', REPOSITORY_KEYS);
  find('branch', BRANCH_KEYS, branchValue);
  return out;
}
