/** `gatehouse token create|list|revoke`: Central's API tokens, through /api/v1/tokens. */
import type { Command } from 'commander';
import { ROLES } from '../../central/auth/roles.js';
import type { CentralClient } from '../../central/client/client.js';
import { renderGrid } from '../../report/grid.js';
import { UserError } from '../../util/errors.js';
import { addCentralOptions, requireCentralClient, type CentralCliOptions } from '../central-options.js';
import { formatOption } from '../report-options.js';

interface CreatedToken {
  token: string;
  id: string;
  role: string;
  name?: string;
  expiresAt?: string | null;
}

interface TokenRow {
  id: string;
  name: string;
  role: string;
  createdAt: string;
  createdBy?: string | null;
  expiresAt?: string | null;
  revokedAt?: string | null;
  lastUsedAt?: string | null;
}

type FormatOptions = CentralCliOptions & { format: 'table' | 'json' };

export function registerTokenCommands(program: Command): Command {
  const token = program.command('token').description("manage Central's API tokens (admin role)");

  addCentralOptions(
    token
      .command('create')
      .description('create an API token; its value is shown once')
      .requiredOption('--role <role>', `what the token may do: ${ROLES.join(', ')}`)
      .requiredOption('--name <name>', 'who or what uses it, e.g. "ci-main"')
      .option('--expires <date>', 'expiry: an RFC 3339 date or time (2027-01-31, 2027-01-31T12:00:00Z) or a duration (90d, 12h)')
      .addOption(formatOption(['table', 'json'])),
  ).action(async (o: FormatOptions & { role: string; name: string; expires?: string }) => {
    if (!(ROLES as readonly string[]).includes(o.role)) throw new UserError(`unknown role "${o.role}" (roles: ${ROLES.join(', ')})`, 'usage');
    const expires = o.expires === undefined ? undefined : parseExpiry(o.expires);
    const created = await withClient(o, (c) => c.post<CreatedToken>('/api/v1/tokens', { name: o.name, role: o.role, ...(expires ? { expires } : {}) }));
    const shown = { token: created.token, id: created.id, role: created.role, name: created.name ?? o.name, expiresAt: created.expiresAt ?? null };
    if (o.format === 'json') {
      process.stdout.write(`${JSON.stringify(shown)}\n`);
      return;
    }
    process.stdout.write(`${renderGrid(['ID', 'NAME', 'ROLE', 'EXPIRES', 'TOKEN'], [[shown.id, shown.name, shown.role, shown.expiresAt ?? 'never', shown.token]])}\n`);
    process.stderr.write('The token is shown only this once: keep it now.\n');
  });

  addCentralOptions(
    token
      .command('list')
      .description('list API tokens (never their values)')
      .addOption(formatOption(['table', 'json'])),
  ).action(async (o: FormatOptions) => {
    const { items } = await withClient(o, (c) => c.get<{ items: TokenRow[] }>('/api/v1/tokens'));
    if (o.format === 'json') {
      process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      return;
    }
    const now = new Date().toISOString();
    const rows = items.map((t) => [t.id, t.name, t.role, status(t, now), t.createdAt, t.expiresAt ?? 'never', t.lastUsedAt ?? '-']);
    process.stdout.write(`${renderGrid(['ID', 'NAME', 'ROLE', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED'], rows)}\n`);
  });

  addCentralOptions(
    token
      .command('revoke')
      .description('revoke an API token by its id (see `token list`); requests with it get 401 from then on')
      .argument('<id>', 'the token id'),
  ).action(async (id: string, o: CentralCliOptions) => {
    await withClient(o, (c) => c.delete(`/api/v1/tokens/${encodeURIComponent(id)}`));
    process.stderr.write(`revoked token ${id}\n`);
  });

  return token;
}

async function withClient<T>(o: CentralCliOptions, call: (client: CentralClient) => Promise<T>): Promise<T> {
  const client = requireCentralClient(o);
  try {
    return await call(client);
  } finally {
    await client.close();
  }
}

function status(t: TokenRow, now: string): string {
  if (t.revokedAt) return 'revoked';
  if (t.expiresAt && t.expiresAt <= now) return 'expired';
  return 'active';
}

const DURATION = /^(\d+)([dh])$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2}))?$/;

/** --expires as the RFC 3339 time the API takes; a bare date is its start in UTC. */
export function parseExpiry(value: string, now: Date = new Date()): string {
  const duration = DURATION.exec(value.trim());
  if (duration) {
    const hours = Number(duration[1]) * (duration[2] === 'd' ? 24 : 1);
    if (hours === 0) throw new UserError(`--expires ${value}: the duration must be more than 0`, 'usage');
    return new Date(now.getTime() + hours * 3_600_000).toISOString();
  }
  const ms = RFC3339.test(value.trim()) ? Date.parse(value.trim()) : Number.NaN;
  if (Number.isNaN(ms)) throw new UserError(`--expires ${JSON.stringify(value)}: expected a date (2027-01-31), a time with a zone (2027-01-31T12:00:00Z) or a duration (90d, 12h)`, 'usage');
  if (ms <= now.getTime()) throw new UserError(`--expires ${value} is in the past`, 'usage');
  return new Date(ms).toISOString();
}
