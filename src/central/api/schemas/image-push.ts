/**
 * JSON schema of an image push as the route reads it: ImageReport's (image-report.ts) and the
 * vulnerability findings a push may name by address (client/ingest-types.ts VulnerabilityRef).
 * The addresses are checked here; whether Central holds their texts, by the route
 * (409 missing-content).
 */
import { imageReportSchema } from './image-report.js';

const ADDRESS = '^[A-Za-z0-9_-]{32}$';

export const imagePushSchema = {
  ...imageReportSchema,
  properties: {
    ...imageReportSchema.properties,
    vulnerabilities: {
      type: 'array', maxItems: 200_000,
      description: "Vulnerability findings by address, with `findings`: each names its body's text (32 characters, base64url of SHA-256 over the text Central stores) and carries the finding's own fingerprint and data.modified. Central answers 409 missing-content when it lacks a text, and the push is sent again whole.",
      items: {
        type: 'object', additionalProperties: false, required: ['finding'],
        properties: { finding: { type: 'string', pattern: ADDRESS }, fingerprint: { type: 'string', maxLength: 200 }, modified: { type: 'string', maxLength: 100 } },
      },
    },
  },
} as const;
