/** `gatehouse version …`: version ordering per ecosystem, as the vulnerability matcher uses it. */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { UserError, describeError } from '../../util/errors.js';
import { EXIT_ERROR } from '../fail.js';
import { schemeFor, type Order } from '../../vuln/versions/index.js';

const symbol = (o: Order): string => (o < 0 ? '<' : o > 0 ? '>' : '=');

export function registerVersionCommands(program: Command): void {
  const version = program.command('version').description('compare package versions the way each ecosystem does');

  version
    .command('compare')
    .description('print <, = or > for A compared with B; with "-" read "A B" pairs from stdin, one result per line')
    .argument('<ecosystem>', 'OSV ecosystem (Debian, Ubuntu, Alpine, Red Hat, npm, PyPI, Maven, Go, RubyGems, NuGet, Packagist) or scheme (dpkg, apk, rpm, semver, pep440, maven)')
    .argument('<a>', 'first version, or "-" to read pairs from stdin')
    .argument('[b]', 'second version')
    .action(async (ecosystem: string, a: string, b: string | undefined) => {
      const scheme = schemeFor(ecosystem);
      if (a !== '-') {
        if (b === undefined) throw new UserError('missing second version (or use "-" to read pairs from stdin)');
        try {
          process.stdout.write(`${symbol(scheme.compare(a, b))}\n`);
        } catch (e) {
          process.stdout.write('!\n');
          process.stderr.write(`gatehouse: ${describeError(e)}\n`);
          process.exitCode = EXIT_ERROR;
        }
        return;
      }
      // Stream: one result per input line, buffered writes so large batches stay fast.
      let out = '';
      let lineNo = 0;
      let failed = 0;
      const flush = async (): Promise<void> => {
        if (out === '') return;
        const chunk = out;
        out = '';
        if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
      };
      for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
        lineNo++;
        const parts = line.trim().split(/\s+/);
        try {
          if (parts.length !== 2 || parts[0] === '') throw new Error(`expected "A B", got "${line}"`);
          out += `${symbol(scheme.compare(parts[0]!, parts[1]!))}\n`;
        } catch (e) {
          failed++;
          out += '!\n';
          process.stderr.write(`gatehouse: line ${lineNo}: ${describeError(e)}\n`);
        }
        if (out.length > 65536) await flush();
      }
      await flush();
      if (failed) process.exitCode = EXIT_ERROR;
    });
}
