/**
 * Maps `sysdig -r CAPTURE -j` output to Gatehouse's event model. Keys of sysdig's JSON are
 * already Falco field names, so extra fields requested with `-p "*%proc.cmdline …"` pass
 * through unchanged (null means "not available" and stays null, so no derivation replaces it). The default output only
 * carries evt.info, so its `name=value` arguments become evt.arg.* and, where they describe
 * a file descriptor or a result, fd.* and evt.res/evt.rawres.
 */
import type { FieldValue, RuntimeEvent } from '../event.js';

const ARG = /([A-Za-z_][A-Za-z0-9_]*)=(\S*(?:\([^)]*\))?)/g;

function setIfAbsent(ev: RuntimeEvent, key: string, v: FieldValue): void {
  if (ev[key] === undefined || ev[key] === null) ev[key] = v;
}

/** `3(<f>/tmp/file)` → fd 3, type char f, name /tmp/file. */
function parseFdArg(ev: RuntimeEvent, text: string): void {
  const m = /^(-?\d+)\(<(.)>(.*)\)$/.exec(text);
  if (!m) return;
  setIfAbsent(ev, 'fd.num', Number(m[1]));
  setIfAbsent(ev, 'fd.typechar', m[2]!);
  if (m[3]) setIfAbsent(ev, 'fd.name', m[3]);
}

function parseInfo(ev: RuntimeEvent, info: string): void {
  for (const m of info.matchAll(ARG)) {
    const name = m[1]!;
    const raw = m[2]!;
    const paren = /^(-?\w+)\((.*)\)$/.exec(raw);
    // Formatted like sysdig's %evt.arg.NAME: `1(O_RDONLY)` → O_RDONLY; fds keep `3(<f>/path)`.
    const shown = paren && !paren[2]!.startsWith('<') ? paren[2]! : raw;
    setIfAbsent(ev, `evt.arg.${name}`, shown);
    if (name === 'fd' && ev['evt.dir'] === '<' && paren?.[2]?.startsWith('<')) parseFdArg(ev, raw);
    if (name === 'res') {
      const n = Number(paren ? paren[1] : raw);
      if (!Number.isNaN(n)) {
        setIfAbsent(ev, 'evt.rawres', n);
        setIfAbsent(ev, 'evt.res', n >= 0 ? 'SUCCESS' : (paren?.[2] ?? String(n)));
      }
    }
    if ((name === 'flags') && paren && (ev['evt.type'] === 'open' || ev['evt.type'] === 'openat' || ev['evt.type'] === 'openat2')) {
      const flags = paren[2]!;
      setIfAbsent(ev, 'evt.is_open_read', /O_RDONLY|O_RDWR/.test(flags));
      setIfAbsent(ev, 'evt.is_open_write', /O_WRONLY|O_RDWR/.test(flags));
    }
  }
}

/** One sysdig JSON object → one event. */
export function fromSysdig(obj: Record<string, unknown>): RuntimeEvent {
  const ev: RuntimeEvent = {};
  for (const [k, v] of Object.entries(obj)) {
    // null: sysdig says "not available"; kept so that no derivation overrides it.
    if (v === null) {
      ev[k] = null;
      continue;
    }
    if (v === undefined) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') ev[k] = v;
    else if (Array.isArray(v)) ev[k] = v.map(String);
    else ev[k] = JSON.stringify(v);
  }
  if (typeof ev['evt.info'] === 'string') parseInfo(ev, ev['evt.info']);
  if (ev['evt.rawtime'] === undefined && ev['evt.outputtime'] !== undefined) ev['evt.rawtime'] = ev['evt.outputtime'];
  return ev;
}

/** Heuristic: does this JSON object look like sysdig output (rather than our own model)? */
export function looksLikeSysdig(obj: Record<string, unknown>): boolean {
  return 'evt.info' in obj || ('evt.outputtime' in obj && 'evt.cpu' in obj);
}
