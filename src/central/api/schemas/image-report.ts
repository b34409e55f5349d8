/** JSON schema of an image push (`POST /api/v1/ingest/images`, ImageReport): the route documents it, the image workers validate with it. */
import { findingSchema } from './finding.js';

/** Labels and annotations: bounded string maps. */
const stringMap = { type: 'object', maxProperties: 500, propertyNames: { maxLength: 512 }, additionalProperties: { type: 'string', maxLength: 8192 } } as const;

export const imageReportSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['image'],
  properties: {
    image: {
      type: 'object',
      additionalProperties: false,
      required: ['digest'],
      properties: {
        digest: { type: 'string', pattern: '^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$' },
        refs: { type: 'array', items: { type: 'string', maxLength: 1000 }, maxItems: 1000 },
        os: { type: 'object', additionalProperties: false, required: ['family'], properties: { family: { type: 'string' }, version: { type: 'string' } } },
        created: { type: 'string', format: 'date-time' },
        layers: {
          type: 'array', maxItems: 1000,
          items: { type: 'object', additionalProperties: false, required: ['digest'], properties: { digest: { type: 'string' }, size: { type: 'integer' }, createdBy: { type: 'string' } } },
        },
        labels: stringMap,
        annotations: stringMap,
      },
    },
    // No type on `components` here: ajv's coerceTypes: 'array' would turn an address into a
    // one-item list. The image worker checks it (images/push-work.ts).
    sbom: {
      type: 'object',
      description: "CycloneDX JSON. Its `components` may instead be the address of a component list Central holds (32 characters, base64url of SHA-256 over the list's JSON text): Central answers 409 missing-content when it holds none, and the push is sent again whole.",
    },
    findings: { type: 'array', items: findingSchema, maxItems: 200_000 },
    signature: {
      type: 'object', additionalProperties: false, required: ['verified'],
      properties: { verified: { type: 'boolean' }, signers: { type: 'array', items: { type: 'string' } }, message: { type: 'string' }, checkedAt: { type: 'string', format: 'date-time' } },
    },
    db: { type: 'object', additionalProperties: false, properties: { version: { type: 'string' }, updatedAt: { type: 'string' } } },
  },
} as const;
