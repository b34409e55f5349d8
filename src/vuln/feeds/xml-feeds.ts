/**
 * The XML feeds, plain or gzipped, whatever their file name (`db update` names a download
 * after its URL): yum updateinfo (Amazon Linux, Rocky Linux, Bottlerocket) and Azure Linux
 * OVAL. Recognized by the root element.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { UserError, describeError } from '../../util/errors.js';
import type { Advisory } from '../model.js';
import { azureOvalAdvisories, looksLikeOval } from './azure-oval.js';
import { looksLikeUpdateinfo, updateinfoAdvisories } from './updateinfo.js';

/** The text of an XML feed file, gunzipped when it is gzip; undefined when it is not XML. */
export function readXmlFeed(file: string, head: string): string | undefined {
  const gzip = head.charCodeAt(0) === 0x1f;
  if (!gzip && !head.trimStart().startsWith('<')) return undefined;
  let text: string;
  try {
    const bytes = readFileSync(file);
    text = (gzip ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (e) {
    throw new UserError(`${file}: cannot read: ${describeError(e)}`, 'bad-feed');
  }
  return text.trimStart().startsWith('<') ? text : undefined;
}

export function xmlAdvisories(text: string, where: string, feedDate: string): { source: string; advisories: Advisory[] } {
  if (looksLikeUpdateinfo(text)) return updateinfoAdvisories(text, where, feedDate);
  if (looksLikeOval(text)) return azureOvalAdvisories(text, where, feedDate);
  throw new UserError(`${where}: XML that is neither a yum updateinfo nor an Azure Linux OVAL document`, 'bad-feed');
}
