/** JSON schema of the one Finding shape (src/findings/finding.ts), as ingest routes accept it. */
import { SEVERITIES } from '../../../findings/finding.js';

const FINDING_KINDS = ['vulnerability', 'misconfiguration', 'secret', 'hygiene', 'policy', 'runtime', 'anomaly', 'drift'];

const resourceSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    image: {
      type: 'object', additionalProperties: false,
      properties: { ref: { type: 'string' }, digest: { type: 'string' }, layer: { type: 'integer' }, layerDigest: { type: 'string' }, path: { type: 'string' } },
    },
    k8s: {
      type: 'object', additionalProperties: false, required: ['kind', 'name'],
      properties: { kind: { type: 'string' }, namespace: { type: 'string' }, name: { type: 'string' }, container: { type: 'string' }, file: { type: 'string' }, line: { type: 'integer' } },
    },
    file: { type: 'object', additionalProperties: false, required: ['path'], properties: { path: { type: 'string' }, line: { type: 'integer' }, column: { type: 'integer' } } },
    container: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string' }, name: { type: 'string' }, image: { type: 'string' } } },
    host: { type: 'string' },
  },
} as const;

export const findingSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'kind', 'severity', 'title', 'resource'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 500 },
    fingerprint: { type: 'string', maxLength: 200 },
    kind: { type: 'string', enum: FINDING_KINDS },
    severity: { type: 'string', enum: [...SEVERITIES] },
    title: { type: 'string', maxLength: 10_000 },
    detail: { type: 'string', maxLength: 100_000 },
    resource: resourceSchema,
    policy: {
      type: 'object', additionalProperties: false, required: ['id'],
      properties: { id: { type: 'string' }, name: { type: 'string' }, enforcement: { type: 'string' } },
    },
    remediation: { type: 'string', maxLength: 10_000 },
    references: { type: 'array', items: { type: 'string' }, maxItems: 200 },
    data: { type: 'object' },
  },
} as const;
