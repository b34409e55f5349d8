/** Dockerfile parsing and rules: every rule at the line it belongs to, and a clean file passes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkDockerfileText, loadDockerfileRules } from '../../src/kube/dockerfile/check.js';
import { parseDockerfile } from '../../src/kube/dockerfile/parse.js';
import { runCli } from '../helpers/cli.js';
import { assertValidSarif } from '../helpers/sarif-schema.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/dockerfiles/${name}`, import.meta.url));

test('parser: continuations, comments inside continuations, escape directive, heredocs, stages', () => {
  const df = parseDockerfile(`# escape=\`
FROM mcr.microsoft.com/windows:ltsc2022 AS base
RUN echo a \`
# a comment inside the continuation
    && echo b
FROM base
RUN <<EOF
apt-get update
curl https://x | sh
EOF
USER app
`);
  assert.deepEqual(df.instructions.map((i) => [i.keyword, i.line, i.stage]), [['FROM', 2, 0], ['RUN', 3, 0], ['FROM', 6, 1], ['RUN', 7, 1], ['USER', 11, 1]]);
  assert.equal(df.instructions[1]!.args, 'echo a      && echo b');
  assert.deepEqual(df.stages.map((s) => [s.name, s.image]), [['base', 'mcr.microsoft.com/windows:ltsc2022'], [undefined, 'base']]);
  assert.equal(df.instructions[3]!.heredocs[0], 'apt-get update\ncurl https://x | sh');
});

test('each rule reports its problem at the right line; the clean Dockerfile has none', async () => {
  const rules = await loadDockerfileRules();
  const got = checkDockerfileText(readFileSync(fixture('bad.Dockerfile'), 'utf8'), 'bad.Dockerfile', rules).map((f) => `${f.resource.file!.line} ${f.id}`);
  assert.deepEqual(got.sort(), [
    '10 dockerfile-pkg-no-cleanup', '10 dockerfile-pkg-upgrade', '13 dockerfile-curl-pipe-shell', '14 dockerfile-add-url',
    '15 dockerfile-expose-ssh', '16 dockerfile-pkg-no-cleanup', '17 dockerfile-sudo', '19 dockerfile-user-root', '20 dockerfile-no-healthcheck',
    '3 dockerfile-base-unpinned', '6 dockerfile-base-latest', '6 dockerfile-base-unpinned', '7 dockerfile-secret-in-env-arg', '8 dockerfile-secret-in-env-arg',
  ]);
  assert.deepEqual(checkDockerfileText(readFileSync(fixture('good.Dockerfile'), 'utf8'), 'good.Dockerfile', rules).map((f) => f.id), []);
  // Every rule in the pack is exercised by the bad fixture, except no-user (covered below).
  const fired = new Set(got.map((g) => g.split(' ')[1]));
  assert.deepEqual(rules.map((r) => r.id).filter((id) => !fired.has(id)), ['dockerfile-no-user']);
});

test('no USER in the final stage is reported at its FROM line, even if a build stage has one', async () => {
  const rules = await loadDockerfileRules();
  const hits = checkDockerfileText('FROM alpine:3.20 AS b\nUSER nobody\nFROM alpine:3.20\nRUN apk add --no-cache curl\nHEALTHCHECK CMD true\n', 'x', rules);
  assert.deepEqual(hits.filter((f) => f.id === 'dockerfile-no-user').map((f) => f.resource.file!.line), [3]);
  assert.ok(!hits.some((f) => f.id === 'dockerfile-pkg-no-cleanup'));
});

test('dockerfile CLI: exit 1 with findings and --exit-code 1, SARIF lines, exit 2 on a missing file', async () => {
  const r = await runCli(['dockerfile', 'check', fixture('bad.Dockerfile'), '--format', 'sarif', '--severity', 'HIGH,CRITICAL', '--exit-code', '1']);
  assert.equal(r.code, 1, r.stderr);
  assertValidSarif(JSON.parse(r.stdout));
  const results = JSON.parse(r.stdout).runs[0].results;
  assert.deepEqual(results.map((x: any) => `${x.locations[0].physicalLocation.region.startLine} ${x.ruleId}`).sort(), [
    '13 dockerfile-curl-pipe-shell', '19 dockerfile-user-root', '7 dockerfile-secret-in-env-arg', '8 dockerfile-secret-in-env-arg',
  ]);
  const missingFile = await runCli(['dockerfile', 'check', '/nonexistent/Dockerfile']);
  assert.equal(missingFile.code, 2);
  assert.match(missingFile.stderr, /^gatehouse: cannot read \/nonexistent\/Dockerfile/);
});
