/**
 * Cursor pagination shared by list routes: `?limit=&cursor=`; the cursor is the last row's
 * sort key and id, opaque to clients (base64url JSON), so pages stay stable under inserts.
 */
import { ApiError } from './errors.js';

/** For routes that take no query parameters: any parameter is an error, never ignored. */
export const NO_QUERY = { type: 'object', additionalProperties: false, properties: {} } as const;

export const pageQuerySchema = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  cursor: { type: 'string', maxLength: 1000 },
} as const;

export interface Cursor {
  /** Sort key of the last row returned. */
  k: string | number | null;
  /** Its id (tie-breaker). */
  id: string;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

export function decodeCursor(text: string | undefined): Cursor | undefined {
  if (!text) return undefined;
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
    if (typeof c !== 'object' || c === null || typeof c.id !== 'string') throw new Error('shape');
    return c;
  } catch {
    throw new ApiError(400, 'bad-request', 'invalid cursor (pass back the nextCursor of a previous page)');
  }
}

export function pageSchema(itemSchema: object): object {
  return {
    type: 'object',
    properties: { items: { type: 'array', items: itemSchema }, nextCursor: { type: ['string', 'null'] } },
    required: ['items', 'nextCursor'],
  };
}
