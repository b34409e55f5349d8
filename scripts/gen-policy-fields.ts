// Writes docs/policy-fields.md from the subject registry (test/policy/policy-cli.test.ts fails when it is stale).
import { writeFileSync } from 'node:fs';
import { renderFieldsMarkdown } from '../src/policy/fields-doc.js';
import { subjects } from '../src/subjects/index.js';

const out = new URL('../docs/policy-fields.md', import.meta.url);
writeFileSync(out, renderFieldsMarkdown(subjects()));
console.log(`wrote ${out.pathname}`);
