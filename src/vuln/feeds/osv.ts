/**
 * OSV records (https://ossf.github.io/osv-schema/) as JSON or YAML: one record per file,
 * or a JSON array of records; and osv.dev's per-ecosystem `all.zip` (one JSON per entry),
 * read entry by entry without unpacking.
 */
import yauzl from 'yauzl';
import { UserError, describeError } from '../../util/errors.js';
import { normalizeOsv, type Advisory } from '../model.js';

export const OSV_SOURCE = 'osv';

export function isOsvRecord(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && !Array.isArray(doc) && 'id' in doc && ('modified' in doc || 'affected' in doc);
}

export function osvAdvisories(doc: unknown, where: string): Advisory[] {
  if (Array.isArray(doc)) return doc.map((r, i) => normalizeOsv(r, OSV_SOURCE, `${where}[${i}]`));
  return [normalizeOsv(doc, OSV_SOURCE, where)];
}

/** Calls `onEntry` with the text of each .json entry of a zip, one at a time. */
export function readZipEntries(path: string, onEntry: (name: string, text: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: true }, (err, zip) => {
      if (err || !zip) return reject(new UserError(`${path}: not a readable zip archive: ${describeError(err)}`, 'bad-feed'));
      const fail = (e: unknown): void => {
        zip.close();
        reject(e instanceof UserError ? e : new UserError(`${path}: ${describeError(e)}`, 'bad-feed'));
      };
      zip.on('error', fail);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        if (!entry.fileName.endsWith('.json')) return zip.readEntry();
        zip.openReadStream(entry, (e2, stream) => {
          if (e2 || !stream) return fail(e2);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', fail);
          stream.on('end', () => {
            try {
              onEntry(entry.fileName, Buffer.concat(chunks).toString('utf8'));
            } catch (e) {
              return fail(e);
            }
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}
