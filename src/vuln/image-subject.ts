/**
 * The `image` subject: the facts of one scanned image (or directory). The image is the root
 * node; its vulnerabilities, components, secrets and hygiene checks are element levels, so
 * a policy over `vulnerability.*` reports one violation per violating vulnerability,
 * located at the image digest, layer and path.
 */
import type { ResourceRef } from '../findings/finding.js';
import type { SubjectAdapter, SubjectNode } from '../policy/subject.js';
import type { ImageContext } from './fields/context.js';
import { imageFieldRegistry } from './fields/index.js';
import { imageFactsFromData, type ImageFacts } from './image-facts.js';

export type { ImageFacts } from './image-facts.js';

/** The names scope.images globs are matched against: as given, and registry/repository[:tag|@digest]. */
export function imageNames(f: ImageFacts): string[] {
  const names = new Set<string>([f.ref]);
  if (f.registry && f.repository) {
    const repo = `${f.registry}/${f.repository}`;
    names.add(repo);
    if (f.tag) names.add(`${repo}:${f.tag}`);
    if (f.digest) names.add(`${repo}@${f.digest}`);
  }
  return [...names];
}

function at(f: ImageFacts, place: { layer?: number; layerDigest?: string; path?: string } = {}): ResourceRef {
  const layerDigest = place.layerDigest ?? (place.layer !== undefined ? f.layers?.[place.layer]?.digest : undefined);
  return {
    image: {
      ref: f.ref,
      ...(f.digest ? { digest: f.digest } : {}),
      ...(place.layer !== undefined ? { layer: place.layer } : {}),
      ...(layerDigest ? { layerDigest } : {}),
      ...(place.path ? { path: place.path } : {}),
    },
  };
}

export function imageSubject(): SubjectAdapter<ImageFacts, ImageContext> {
  return {
    kind: 'image',
    description: 'a scanned image or directory: vulnerabilities, components, secrets, hygiene, signature, age and name',
    defaultStage: 'build',
    findingKind: 'policy',
    fields: imageFieldRegistry(),
    rootTarget: 'image',
    targetDocs: {
      image: 'the image as a whole',
      vulnerability: 'each vulnerability found (after the ignore file and VEX)',
      component: 'each package in the inventory',
      secret: 'each secret found (rule and place, never the value)',
      check: 'each hygiene check the scanner reported',
    },
    scopeKeys: ['images'],
    *roots(facts) {
      const nowMs = Date.parse(facts.now);
      const key = facts.digest ?? facts.ref;
      const node: SubjectNode<ImageContext> = {
        ctx: { facts, nowMs: Number.isFinite(nowMs) ? nowMs : Date.now() },
        scope: { images: imageNames(facts) },
        label: `image ${facts.ref}`,
        identity: `image/${key}`,
        resource: () => at(facts),
        data: { image: facts.ref },
      };
      yield node;
    },
    elements: {
      vulnerability: (root) => {
        const { facts } = root.ctx;
        const key = facts.digest ?? facts.ref;
        return facts.vulnerabilities.map((v) => ({
          ctx: { ...root.ctx, vulnerability: v },
          scope: root.scope,
          label: `${v.id} in ${v.package.name} ${v.package.version}`,
          identity: `image/${key}/vulnerability/${v.id}/${v.package.purl ?? `${v.package.name}@${v.package.version}`}/${v.path ?? ''}`,
          resource: () => at(facts, v),
          data: { image: facts.ref, vulnerability: v.id, package: v.package.name, installedVersion: v.package.version, ...(v.package.purl ? { purl: v.package.purl } : {}), ...(v.fixedVersion ? { fixedVersion: v.fixedVersion } : {}) },
        }));
      },
      component: (root) => {
        const { facts } = root.ctx;
        const key = facts.digest ?? facts.ref;
        return facts.components.map((c) => ({
          ctx: { ...root.ctx, component: c },
          scope: root.scope,
          label: `${c.name} ${c.version}`,
          identity: `image/${key}/component/${c.purl ?? `${c.name}@${c.version}`}/${c.path ?? ''}`,
          resource: () => at(facts, c),
          data: { image: facts.ref, package: c.name, installedVersion: c.version, ...(c.purl ? { purl: c.purl } : {}) },
        }));
      },
      secret: (root) => {
        const { facts } = root.ctx;
        const key = facts.digest ?? facts.ref;
        return facts.secrets.map((s) => ({
          ctx: { ...root.ctx, secret: s },
          scope: root.scope,
          label: s.env ? `${s.rule} in environment variable ${s.env}` : `${s.rule} in ${s.path ?? '?'}${s.line ? ` line ${s.line}` : ''}`,
          identity: `image/${key}/secret/${s.rule}/${s.path ?? `env:${s.env ?? ''}`}`,
          resource: () => at(facts, s),
          data: { image: facts.ref, rule: s.rule, ...(s.env ? { env: s.env } : {}) },
        }));
      },
      check: (root) => {
        const { facts } = root.ctx;
        const key = facts.digest ?? facts.ref;
        return (facts.checks ?? []).map((c) => ({
          ctx: { ...root.ctx, check: c },
          scope: root.scope,
          label: c.title,
          identity: `image/${key}/check/${c.id}/${c.layer ?? ''}`,
          resource: () => at(facts, c),
          data: { image: facts.ref, rule: c.id },
        }));
      },
    },
    fromData: (data, file) => imageFactsFromData(data, file),
  };
}
