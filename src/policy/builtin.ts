/**
 * The built-in packs, by name: every `--policy` flag takes a file, a directory or one of
 * these names. They are data in policies/: `NAME.yaml` or a folder `NAME/`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUILTIN_PACKS = ['build', 'deploy', 'engine', 'runtime'] as const;
export type BuiltinPack = (typeof BUILTIN_PACKS)[number];

/** The policies/ folder (works from src/ through tsx and from dist/ after a build). */
export function defaultPackDir(): string {
  for (const rel of ['../../policies', '../../../policies']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('default policy packs (policies/) not found next to the sources');
}

/** The file or folder of a built-in pack, or undefined when `name` is not one. */
export function builtinPackPath(name: string): string | undefined {
  if (!(BUILTIN_PACKS as readonly string[]).includes(name)) return undefined;
  const dir = defaultPackDir();
  const file = join(dir, `${name}.yaml`);
  if (existsSync(file)) return file;
  const folder = join(dir, name);
  if (existsSync(folder)) return folder;
  throw new Error(`built-in pack ${name} is missing from ${dir}`);
}
