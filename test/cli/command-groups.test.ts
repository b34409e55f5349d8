import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { COMMAND_GROUPS, registerCommands } from '../../src/cli/commands/index.js';

test('each command group registers exactly the top-level commands it names', async () => {
  const seen = new Set<string>();
  for (const group of COMMAND_GROUPS) {
    const program = new Command('gatehouse');
    (await group.load())(program);
    assert.deepEqual(program.commands.map((c) => c.name()).sort(), [...group.names].sort(), `group ${group.names.join(',')}`);
    for (const n of group.names) {
      assert.ok(!seen.has(n), `${n} is in two groups`);
      seen.add(n);
    }
  }
});

test('a command loads only its group; a bare --version loads none; help loads all', async () => {
  const only = new Command('gatehouse');
  await registerCommands(only, ['node', 'gatehouse', 'token', 'list', '--server', 'https://x']);
  assert.deepEqual(only.commands.map((c) => c.name()), ['token']);
  const version = new Command('gatehouse');
  await registerCommands(version, ['node', 'gatehouse', '--version']);
  assert.equal(version.commands.length, 0);
  const all = new Command('gatehouse');
  await registerCommands(all, ['node', 'gatehouse', '--help']);
  assert.equal(all.commands.length, COMMAND_GROUPS.flatMap((g) => g.names).length);
  const unknown = new Command('gatehouse');
  await registerCommands(unknown, ['node', 'gatehouse', 'imagee']);
  assert.equal(unknown.commands.length, all.commands.length, 'an unknown command gets every group, for suggestions');
});
