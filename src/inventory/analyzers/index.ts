/** Every analyzer, one line each: a new format is one new file plus one line here. */
import type { Analyzer } from '../analyzer.js';
import { apkAnalyzer } from './apk.js';
import { binaryAnalyzer } from './binary.js';
import { dotnetAnalyzer } from './dotnet.js';
import { dpkgAnalyzer } from './dpkg.js';
import { javaAnalyzer } from './java.js';
import { npmAnalyzer } from './npm.js';
import { npmLockAnalyzer } from './npm-lock.js';
import { pnpmLockAnalyzer } from './pnpm-lock.js';
import { yarnLockAnalyzer } from './yarn-lock.js';
import { phpAnalyzer } from './php.js';
import { pythonAnalyzer } from './python.js';
import { rpmAnalyzer } from './rpm.js';
import { rubyAnalyzer } from './ruby.js';

export const analyzers: readonly Analyzer<any>[] = [
  dpkgAnalyzer,
  apkAnalyzer,
  rpmAnalyzer,
  npmAnalyzer,
  npmLockAnalyzer,
  yarnLockAnalyzer,
  pnpmLockAnalyzer,
  pythonAnalyzer,
  binaryAnalyzer,
  javaAnalyzer,
  rubyAnalyzer,
  phpAnalyzer,
  dotnetAnalyzer,
];
