/**
 * `node --import tsx bench/central/pg-startup-seed.ts DIR`: seeds bench:central's 15,000
 * deployments into a new PostgreSQL database (and DIR as Central's data directory) and keeps
 * both, printing the database URL, so Central's start-up (its RSS peak, its event loop) can be
 * measured again and again without seeding each time (bench/central/pg-startup.ts). Drop the
 * database afterwards (the setup script sweeps gatehouse_test_ databases too).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImageFixture } from './fixtures.js';
import { cachedPath } from '../../test/helpers/components.js';
import { freshDatabase } from '../../test/helpers/postgres.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: pg-startup-seed.ts DIR');
const root = join(import.meta.dirname, '..', '..');
mkdirSync(join(dir, 'data'), { recursive: true });
const fx = await buildImageFixture(cachedPath('oci'), join(root, '..', 'shared', 'vulndata', 'pypa', 'vulns'), dir);
const sbomFile = join(dir, 'sbom.json');
writeFileSync(sbomFile, JSON.stringify(fx.sbom));
const pg = await freshDatabase();
const seed = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'central', 'seed.ts'), JSON.stringify({ dataDir: join(dir, 'data'), database: pg.url, deployments: 15_000, sbomFile, dbPath: fx.dbPath, laterDbPath: fx.laterDbPath, rematchBudgetMs: 240_000, distinctLists: false, skipRematch: true })], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] });
if (seed.status !== 0) throw new Error('seed failed');
writeFileSync(join(dir, 'database-url'), pg.url);
console.log(`seeded ${pg.name}; URL in ${join(dir, 'database-url')}`);
