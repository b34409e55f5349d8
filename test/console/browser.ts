/**
 * The console in a real browser: Debian's chromium (/usr/bin/chromium, from
 * .ci/setup.d/85-chromium.sh) driven headless by playwright-core — no browser download —
 * against a real Central serving the built console (web/dist).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { missing } from '../helpers/components.js';
import { CONSOLE_DIR } from '../../src/central/console.js';

export const CHROMIUM = process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium';
export const chromiumSkip = (): string | false => missing(existsSync(CHROMIUM), `no chromium at ${CHROMIUM} (.ci/setup.d/85-chromium.sh)`);

/** `npm ci` builds the console (prepare); a checkout that skipped it gets it built once here. */
export function ensureConsoleBuilt(): void {
  if (existsSync(join(CONSOLE_DIR, 'index.html'))) return;
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const r = spawnSync('npm', ['run', '-s', 'build:web'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run build:web failed: ${r.stderr}`);
}

export async function launchBrowser(): Promise<Browser> {
  console.log(`# console screenshots: ${SHOTS_DIR}`);
  // --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** Screenshots are test artefacts under one temp dir per run (printed by the tests). */
export const SHOTS_DIR = mkdtempSync(join(tmpdir(), 'gatehouse-console-shots-'));
export async function shot(page: Page, name: string): Promise<string> {
  const path = join(SHOTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }

/** axe-core's serious and critical violations on the page as it is now (WCAG 2.x A/AA rules). */
export async function axeSerious(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol: the console's CSP forbids inline scripts, not this.
  // (Strings, not functions: the tests' tsconfig has no DOM types.)
  if (!(await page.evaluate<boolean>("'axe' in window"))) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate<{ violations: AxeViolation[] }>("axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })");
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => ({ target: n.target })) }));
}

/** Signs in through /login the way a user does: paste the token, submit. */
export async function signIn(page: Page, baseUrl: string, token: string): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
}
