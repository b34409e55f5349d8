/**
 * Dockerfile checks by name. The rule pack (policies/dockerfile.yaml) gives each one its
 * id, severity and remediation; code here only says where the problem is.
 */
import { parseImageRef } from '../images.js';
import type { Dockerfile, Instruction } from './parse.js';

export interface DockerfileHit {
  line: number;
  message: string;
}

export type DockerfileCheck = (df: Dockerfile) => DockerfileHit[];

const SECRET_NAME = /(secret|passw(or)?d|passwd|token|api[_-]?key|private[_-]?key|credential|access[_-]?key)/i;

const finalStage = (df: Dockerfile) => df.stages.length - 1;
const inFinal = (df: Dockerfile) => df.instructions.filter((i) => i.stage === finalStage(df));
const runText = (i: Instruction) => [i.args, ...i.heredocs].join('\n');
const stageNames = (df: Dockerfile) => new Set(df.stages.map((s) => s.name?.toLowerCase()).filter(Boolean));

/** Split a RUN into shell commands (&&, ||, ;, |, newlines) for per-command checks. */
const commands = (text: string) => text.split(/&&|\|\||;|\n/).map((c) => c.trim()).filter(Boolean);

function fromImage(df: Dockerfile, s: Dockerfile['stages'][number]): { image: string; isStage: boolean } {
  const isStage = stageNames(df).has(s.image.toLowerCase()) || s.image.toLowerCase() === 'scratch' || s.image.includes('$');
  return { image: s.image, isStage };
}

export const DOCKERFILE_CHECKS: Record<string, DockerfileCheck> = {
  'no-user': (df) => {
    if (df.stages.length === 0) return [];
    const users = inFinal(df).filter((i) => i.keyword === 'USER');
    return users.length ? [] : [{ line: df.stages[finalStage(df)]!.line, message: 'final stage sets no USER, so the container runs as root' }];
  },
  'user-root': (df) => {
    const users = inFinal(df).filter((i) => i.keyword === 'USER');
    const last = users[users.length - 1];
    if (!last) return [];
    const user = last.args.split(':')[0]!.trim();
    return user === 'root' || user === '0' ? [{ line: last.line, message: `final USER is ${last.args}` }] : [];
  },
  'base-latest': (df) =>
    df.stages.flatMap((s) => {
      const { image, isStage } = fromImage(df, s);
      if (isStage) return [];
      const ref = parseImageRef(image);
      if (ref.digest) return [];
      if (!ref.tag) return [{ line: s.line, message: `base image ${image} has no tag (means latest)` }];
      return ref.tag === 'latest' ? [{ line: s.line, message: `base image ${image} uses latest` }] : [];
    }),
  'base-unpinned': (df) =>
    df.stages.flatMap((s) => {
      const { image, isStage } = fromImage(df, s);
      return isStage || parseImageRef(image).digest ? [] : [{ line: s.line, message: `base image ${image} is not pinned by digest` }];
    }),
  'pkg-no-cleanup': (df) =>
    df.instructions.filter((i) => i.keyword === 'RUN').flatMap((i) => {
      const text = runText(i);
      const out: DockerfileHit[] = [];
      if (/\bapt(-get)?\s+(-\S+\s+)*install\b/.test(text) && !/rm\s+-[a-z]*r[a-z]*f?[a-z]*\s+[^&;|]*\/var\/lib\/apt\/lists/.test(text)) {
        out.push({ line: i.line, message: 'apt-get install without removing /var/lib/apt/lists in the same RUN' });
      }
      for (const cmd of commands(text)) {
        if (/\bapk\s+(-\S+\s+)*add\b/.test(cmd) && !/--no-cache\b/.test(cmd) && !/\/var\/cache\/apk/.test(text)) {
          out.push({ line: i.line, message: 'apk add without --no-cache' });
        }
      }
      return out;
    }),
  'pkg-upgrade': (df) =>
    df.instructions.filter((i) => i.keyword === 'RUN').flatMap((i) =>
      commands(runText(i)).some((c) => /\bapt(-get)?\s+(-\S+\s+)*(dist-)?upgrade\b/.test(c) || /\bapk\s+(-\S+\s+)*upgrade\b/.test(c) || /\b(yum|dnf)\s+(-\S+\s+)*(upgrade|update)\b/.test(c))
        ? [{ line: i.line, message: 'package upgrade in the build makes the image unreproducible; use a newer base image' }]
        : []),
  'secret-in-env-arg': (df) =>
    df.instructions.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG').flatMap((i) => {
      const names = i.keyword === 'ARG'
        ? [i.args.split('=')[0]!.trim()]
        : /^\S+\s+[^=]*$/.test(i.args) && !i.args.includes('=')
          ? [i.args.split(/\s+/)[0]!] // legacy "ENV KEY value"
          : [...i.args.matchAll(/([A-Za-z_][A-Za-z0-9_.-]*)=/g)].map((m) => m[1]!);
      return names.filter((n) => SECRET_NAME.test(n)).map((n) => ({ line: i.line, message: `${i.keyword} ${n} bakes a secret into the image metadata (use RUN --mount=type=secret)` }));
    }),
  'add-url': (df) =>
    df.instructions
      .filter((i) => i.keyword === 'ADD' && /(^|\s)(https?|ftp):\/\//i.test(i.args) && !/--checksum=/.test(i.args))
      .map((i) => ({ line: i.line, message: 'ADD of a remote URL without --checksum' })),
  'expose-ssh': (df) =>
    df.instructions.filter((i) => i.keyword === 'EXPOSE' && i.args.split(/\s+/).some((p) => /^22(\/(tcp|udp))?$/i.test(p))).map((i) => ({ line: i.line, message: 'EXPOSE 22: SSH in a container' })),
  'curl-pipe-shell': (df) =>
    df.instructions.filter((i) => i.keyword === 'RUN' && /\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(\S*\/)?(ba|z|da|k)?sh\b/.test(runText(i))).map((i) => ({ line: i.line, message: 'pipes a download straight into a shell' })),
  'no-healthcheck': (df) => {
    if (df.stages.length === 0) return [];
    const hc = inFinal(df).filter((i) => i.keyword === 'HEALTHCHECK');
    const last = hc[hc.length - 1];
    if (!last) return [{ line: df.stages[finalStage(df)]!.line, message: 'final stage has no HEALTHCHECK' }];
    return /^NONE\b/i.test(last.args) ? [{ line: last.line, message: 'HEALTHCHECK NONE disables health checking' }] : [];
  },
  'sudo-usage': (df) =>
    df.instructions.filter((i) => i.keyword === 'RUN' && commands(runText(i)).some((c) => /^sudo\b/.test(c))).map((i) => ({ line: i.line, message: 'sudo in RUN' })),
};
