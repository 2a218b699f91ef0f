// The grammar of image references (github.com/distribution/reference): a repository name with an
// optional registry `host[:port]/`, and a tag. A value that passes holds none of `,` `=` `{` `[` `\`,
// quotes or spaces, so no tool that parses it (Helm's --set) can read it as more than one value.

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const NAME = new RegExp(`^(?:${HOST}(?::[0-9]+)?/)?${COMPONENT}(?:/${COMPONENT})*$`);

/** An OCI tag: up to 128 of [A-Za-z0-9_.-], not starting with `.` or `-`. */
export const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** A repository name such as `ghcr.io/acme/shop` or `localhost:5000/shop`: no tag, no digest, at most 255 characters. */
export function isImageName(value: string): boolean {
  return value.length <= 255 && NAME.test(value);
}
