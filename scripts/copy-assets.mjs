#!/usr/bin/env node
// Copies the data files that live beside the code (YAML policies, probe scripts, …) from
// src/ into dist/, so the compiled CLI finds them where the sources do.
import { cpSync, readdirSync, statSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const src = join(root, 'src');
const dist = join(root, 'dist');
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (!/\.(ts|tsx)$/.test(name)) {
      const target = join(dist, relative(src, p));
      mkdirSync(dirname(target), { recursive: true });
      cpSync(p, target);
    }
  }
}
walk(src);
