/**
 * `GET /api/v1/evidence/{id}`: one evidence bundle Central captured before a destructive
 * response action (src/central/respond), as a gzipped tar of the bundle's directory
 * (manifest.json, its signature, the parts) — unpack it and run `gatehouse evidence verify
 * DIR --key DATA_DIR/evidence/signing.pub`. The id is the bundle's directory name under
 * DATA_DIR/evidence; nothing outside that directory is ever read.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';
import { MANIFEST_FILE } from '../../respond/evidence/manifest.js';
import { ApiError, errorSchema } from './errors.js';
import type { ApiModule } from './module.js';

/** A bundle id: one path segment of safe characters (never `..`, never a slash). */
const BUNDLE_ID = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$';

export function evidencePath(id: string): string {
  return `/api/v1/evidence/${encodeURIComponent(id)}`;
}

export const evidenceApi: ApiModule = (app, ctx) => {
  app.get<{ Params: { id: string } }>('/api/v1/evidence/:id', {
    config: { permission: 'read' },
    schema: {
      summary: 'Download one evidence bundle (tar.gz) captured before a response action',
      params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: BUNDLE_ID } } },
      response: { 404: errorSchema },
    },
  }, async (req, reply) => {
    const id = req.params.id;
    if (!ctx.dataDir || id.includes('..')) throw new ApiError(404, 'not-found', `no evidence bundle ${id}`);
    const dir = join(ctx.dataDir, 'evidence', id);
    const st = await lstat(dir).catch(() => undefined);
    const manifest = st?.isDirectory() ? await lstat(join(dir, MANIFEST_FILE)).catch(() => undefined) : undefined;
    if (!manifest?.isFile()) throw new ApiError(404, 'not-found', `no evidence bundle ${id} on this Central (bundles stay on the instance that captured them)`);
    // Regular files only, read from the bundle's own folders (files/ holds copies by hash): a
    // symlink placed in a bundle is skipped, never followed.
    const files: { name: string; size: number; mode: number }[] = [];
    for (const sub of ['', 'files']) {
      const entries = await readdir(join(dir, sub), { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (!e.isFile()) continue;
        const name = sub ? `${sub}/${e.name}` : e.name;
        const s = await lstat(join(dir, name));
        files.push({ name, size: s.size, mode: 0o600 });
      }
    }
    files.sort((a, b) => a.name.localeCompare(b.name));
    const tar = pack();
    const body = new PassThrough();
    void pipeline(tar, createGzip(), body).catch((e) => body.destroy(e as Error));
    void (async () => {
      for (const f of files) {
        const entry = tar.entry({ name: `${id}/${f.name}`, size: f.size, mode: f.mode, type: 'file' });
        await pipeline(createReadStream(join(dir, f.name)), entry);
      }
      tar.finalize();
    })().catch((e) => tar.destroy(e as Error));
    return reply.header('content-type', 'application/gzip').header('content-disposition', `attachment; filename="${id}.tar.gz"`).send(body);
  });
};
