/**
 * Licences declared in a Debian package's /usr/share/doc/<package>/copyright. In a machine-
 * readable file (DEP-5: its first paragraph has a `Format:` field) they are the `License:`
 * fields, whose first line is an expression of short names joined by "or", "and", "and/or"
 * or commas ("GPL-2+ or Artistic"), a name possibly followed by "with <X> exception": each
 * name counts. In free-form files, and in DEP-5 ones too, references to
 * /usr/share/common-licenses/<name> count. Licence texts are not classified.
 */
const FORMAT = /^Format:\s*\S/m;
const LICENSE_FIELD = /^License:[ \t]*(\S.*)$/gm;
const COMMON_LICENSE = /\/usr\/share\/common-licenses\/([0-9A-Za-z_.-]+)/g;
export const LICENSE_SEPARATOR = /\s+(?:and\/or|or|and)\s+|\s*,\s*/i;
/** A DEP-5 short name (no spaces), optionally with its exception clause. */
const SHORT_NAME = /^[A-Za-z0-9][A-Za-z0-9.+_/-]*(?: with [A-Za-z0-9.+_ -]+ exception)?$/;

export function copyrightLicenses(text: string): string[] {
  const found = new Set<string>();
  const header = text.slice(0, text.search(/\n\s*\n/) >>> 0);
  if (FORMAT.test(header)) {
    for (const m of text.matchAll(LICENSE_FIELD)) {
      for (const term of m[1]!.trim().split(LICENSE_SEPARATOR)) {
        const name = term.trim().replace(/\.$/, '');
        if (SHORT_NAME.test(name) && name.toLowerCase() !== 'none') found.add(name);
      }
    }
  }
  for (const m of text.matchAll(COMMON_LICENSE)) found.add(m[1]!.replace(/\.$/, ''));
  return [...found].sort();
}
