/**
 * The CycloneDX 1.6 JSON schema as the @cyclonedx/cyclonedx-library ships it (with its SPDX
 * licence-id and JSF schemas), compiled with ajv (draft-07) and ajv-formats. The library's own
 * strict validator needs ajv-formats-draft2019 for two formats (iri-reference, idn-email),
 * which is not a dependency: those two are checked here with small equivalents instead.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Ajv as AjvInstance, ValidateFunction } from 'ajv';

let validate: ValidateFunction | undefined;

function compile(): ValidateFunction {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json')), 'res', 'schema');
  const read = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as Record<string, unknown>;
  const Ajv = (require('ajv') as { default: new (opts: object) => AjvInstance }).default;
  const addFormats = require('ajv-formats') as (ajv: AjvInstance) => void;
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  // RFC 3987 IRI references and RFC 6531 addresses: no whitespace or controls; an address has one @.
  ajv.addFormat('iri-reference', (v: string) => !/\s/u.test(v) && ![...v].some((c) => c.charCodeAt(0) < 0x20));
  ajv.addFormat('idn-email', /^[^\s@]+@[^\s@]+$/u);
  ajv.addSchema(read('spdx.SNAPSHOT.schema.json'), 'http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json');
  ajv.addSchema(read('jsf-0.82.SNAPSHOT.schema.json'), 'http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json');
  return ajv.compile(read('bom-1.6.SNAPSHOT.schema.json'));
}

export function assertValidCycloneDx16(text: string): void {
  validate ??= compile();
  const check = validate;
  assert.ok(check(JSON.parse(text)), `not valid CycloneDX 1.6: ${JSON.stringify(check.errors?.slice(0, 5), null, 1)}`);
}
