/**
 * The XML feeds, plain, gzipped or bzip2-compressed (Red Hat), whatever their file name (`db update` names a download
 * after its URL): yum updateinfo (Amazon Linux, Rocky Linux, Bottlerocket), Azure Linux
 * OVAL, Red Hat OVAL and SUSE CVRF. Recognized by the root element.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { XMLValidator } from 'fast-xml-parser';
import { UserError, describeError, isUserError } from '../../util/errors.js';
import type { Advisory } from '../model.js';
import { azureOvalAdvisories, looksLikeOval } from './azure-oval.js';
import { bunzip2, isBzip2, looksLikeRhelOval, rhelOvalAdvisories } from './rhel-oval.js';
import { cvrfAdvisories, looksLikeCvrf } from './suse-cvrf.js';
import { looksLikeUpdateinfo, updateinfoAdvisories } from './updateinfo.js';

/** The text of an XML feed file, gunzipped when it is gzip; undefined when it is not XML. */
export function readXmlFeed(file: string, head: string): string | undefined {
  const gzip = head.charCodeAt(0) === 0x1f;
  const bzip2 = head.startsWith('BZh');
  if (!gzip && !bzip2 && !head.trimStart().startsWith('<')) return undefined;
  let text: string;
  try {
    const bytes = readFileSync(file);
    text = (gzip ? gunzipSync(bytes) : isBzip2(bytes) ? bunzip2(bytes, file) : bytes).toString('utf8');
  } catch (e) {
    if (isUserError(e)) throw e;
    throw new UserError(`${file}: cannot read: ${describeError(e)}`, 'bad-feed');
  }
  return text.trimStart().startsWith('<') ? text : undefined;
}

export function xmlAdvisories(text: string, where: string, feedDate: string): { source: string; advisories: Advisory[] } {
  // The parser accepts mismatched and missing end tags; a cut-off download must not import half a feed.
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new UserError(`${where}: not well-formed XML (line ${valid.err.line}: ${valid.err.msg})`, 'bad-feed');
  if (looksLikeUpdateinfo(text)) return updateinfoAdvisories(text, where, feedDate);
  if (looksLikeRhelOval(text)) return rhelOvalAdvisories(text, where, feedDate);
  if (looksLikeOval(text)) return azureOvalAdvisories(text, where, feedDate);
  if (looksLikeCvrf(text)) return cvrfAdvisories(text, where, feedDate);
  throw new UserError(`${where}: XML that is not a yum updateinfo, a Red Hat or Azure Linux OVAL or a SUSE CVRF document`, 'bad-feed');
}
