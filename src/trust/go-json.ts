/**
 * JSON text byte-identical to Go's encoding/json for strings and string maps, because
 * cosign signs the exact bytes it marshals and a peer comparing payloads needs the same
 * bytes. Differences from JSON.stringify: Go escapes <, >, & and U+2028/U+2029, and sorts
 * map keys by their UTF-8 bytes.
 */
export function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A Go map[string]string (or nil → null) as encoding/json writes it. */
export function goJsonStringMap(map: Record<string, string> | null | undefined): string {
  if (!map) return 'null';
  const keys = Object.keys(map).sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  return `{${keys.map((k) => `${goJsonString(k)}:${goJsonString(map[k] ?? '')}`).join(',')}}`;
}
