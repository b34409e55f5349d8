/** Splits an image reference as written in a manifest into repository, tag and digest. */
export interface ImageRefParts {
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseImageRef(image: string): ImageRefParts {
  let rest = image.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  // A ':' after the last '/' is a tag; one before it belongs to a registry host:port.
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  let tag: string | undefined;
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { repository: rest, tag, digest };
}
