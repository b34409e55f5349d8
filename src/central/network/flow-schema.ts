/**
 * The JSON schema of an ObservedFlow (src/network/flow.ts) as Central accepts it in a `flow`
 * ingest event: every object closed (additionalProperties false), every string and number
 * bounded. Addresses are checked further by checkFlow (a parsable IP address, firstSeen not
 * after lastSeen), which the schema cannot say.
 */
import { isIP } from 'node:net';
import type { ObservedFlow } from '../../network/flow.js';

const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const ip = { type: 'string', minLength: 2, maxLength: 45, pattern: '^[0-9A-Fa-f:.]+$' } as const;
const name = { type: 'string', minLength: 1, maxLength: 253 } as const;

export const observedFlowSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['protocol', 'direction', 'local', 'remote', 'firstSeen', 'lastSeen', 'connections', 'observedBy'],
  properties: {
    protocol: { type: 'string', enum: ['TCP', 'UDP', 'SCTP'] },
    direction: { type: 'string', enum: ['egress', 'ingress'] },
    local: {
      type: 'object', additionalProperties: false, required: ['ip', 'port'],
      properties: {
        ip, port,
        container: {
          type: 'object', additionalProperties: false, required: ['id'],
          properties: { id: { type: 'string', minLength: 1, maxLength: 128 }, name, image: { type: 'string', maxLength: 1024 }, imageDigest: { type: 'string', maxLength: 200 } },
        },
        pod: {
          type: 'object', additionalProperties: false, required: ['namespace', 'name'],
          properties: { namespace: { type: 'string', minLength: 1, maxLength: 63 }, name, uid: { type: 'string', maxLength: 128 } },
        },
        process: {
          type: 'object', additionalProperties: false, required: ['name'],
          properties: { exe: { type: 'string', maxLength: 4096 }, name: { type: 'string', minLength: 1, maxLength: 256 } },
        },
      },
    },
    remote: {
      type: 'object', additionalProperties: false, required: ['ip', 'port'],
      properties: { ip, port, dns: name },
    },
    firstSeen: { type: 'string', format: 'date-time' },
    lastSeen: { type: 'string', format: 'date-time' },
    connections: { type: 'integer', minimum: 0, maximum: 1_000_000_000 },
    bytes: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    observedBy: { type: 'string', enum: ['ebpf', 'conntrack'] },
  },
} as const;

/** What the schema cannot check; undefined when the flow is fine, else the reason (for a 400). */
export function checkFlow(f: ObservedFlow): string | undefined {
  if (!isIP(f.local.ip)) return `local.ip ${JSON.stringify(f.local.ip)} is not an IP address`;
  if (!isIP(f.remote.ip)) return `remote.ip ${JSON.stringify(f.remote.ip)} is not an IP address`;
  if (Date.parse(f.firstSeen) > Date.parse(f.lastSeen)) return `firstSeen ${f.firstSeen} is after lastSeen ${f.lastSeen}`;
  return undefined;
}
