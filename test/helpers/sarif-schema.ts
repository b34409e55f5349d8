/**
 * The official SARIF 2.1.0 JSON schema (sarif-2.1.0-rtm.5.json, the OASIS standard's final
 * schema as published through SchemaStore; shipped in Microsoft's @microsoft/sarif-matcher-utils,
 * a dev dependency used only for this file). It is a draft-04 schema, hence ajv-draft-04.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv as AjvInstance, ValidateFunction } from 'ajv';

let validate: ValidateFunction | undefined;

export function assertValidSarif(doc: unknown): void {
  if (!validate) {
    const path = createRequire(import.meta.url).resolve('@microsoft/sarif-matcher-utils/lib/schemas/sarif-2.1.0-rtm.5.json');
    const schema = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const require = createRequire(import.meta.url);
    const Ajv = require('ajv-draft-04') as new (opts: object) => AjvInstance;
    const addFormats = require('ajv-formats') as (ajv: AjvInstance) => void;
    // unicodeRegExp off: one of the schema's patterns (language tags) is not valid with /u.
    const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
    addFormats(ajv);
    validate = ajv.compile(schema);
  }
  const check = validate;
  assert.ok(check(doc), `SARIF does not validate against the SARIF 2.1.0 schema: ${JSON.stringify(check.errors?.slice(0, 5), null, 1)}`);
}
