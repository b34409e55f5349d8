/**
 * Tests that need a real component (podman, the registry, bpftrace, cosign, …) ask for it
 * here. On a developer machine a missing component skips the test with a visible reason;
 * with CI=true it fails, because in CI a skip is a failure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export const inCI = process.env.CI === 'true';

export const testCache = process.env.GATEHOUSE_TEST_CACHE ?? join(homedir(), '.cache', 'gatehouse-test');
export const testRegistry = process.env.GATEHOUSE_TEST_REGISTRY ?? '127.0.0.1:5000';
export const podmanSocket = process.env.GATEHOUSE_PODMAN_SOCKET ?? '/run/podman/podman.sock';

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Returns a reason string when `available` is false, for `{ skip: missing(...) }` on a test
 * or suite. In CI it throws instead, so the run fails loudly.
 */
export function missing(available: boolean, reason: string): string | false {
  if (available) return false;
  if (inCI) throw new Error(`required test component missing in CI: ${reason}`);
  console.error(`# skipping: ${reason}`);
  return reason;
}

/** Inside a running test: skip (laptop) or fail (CI) when a component is absent. */
export function requireComponent(t: TestContext, available: boolean, reason: string): boolean {
  if (available) return true;
  if (inCI) throw new Error(`required test component missing in CI: ${reason}`);
  t.skip(reason);
  return false;
}

export function cachedPath(...parts: string[]): string {
  return join(testCache, ...parts);
}

export function cacheHas(...parts: string[]): boolean {
  return existsSync(cachedPath(...parts));
}

/**
 * PostgreSQL 15 (.ci/setup.d/80-postgres.sh): the URL of a role that may create databases,
 * from GATEHOUSE_TEST_POSTGRES_URL or the file the setup writes. test/helpers/postgres.ts
 * checks that it answers and makes a database per test.
 */
export function postgresTestUrl(): string | undefined {
  const fromEnv = process.env.GATEHOUSE_TEST_POSTGRES_URL;
  if (fromEnv) return fromEnv;
  const file = cachedPath('postgres-url');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}

/**
 * helm or kustomize (.ci/setup.d/67-helm-kustomize.sh builds both into the test cache): the
 * binary on PATH or in the cache, or undefined.
 */
export function renderTool(name: 'helm' | 'kustomize'): string | undefined {
  const cached = cachedPath('bin', name);
  if (existsSync(cached)) return cached;
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() || undefined : undefined;
}
