// A release's manifest: its documents, Secrets' data hidden, the workloads to watch, and a unified
// diff of two revisions for people to read.
import { createHmac, randomBytes } from 'node:crypto';
import { createTwoFilesPatch } from 'diff';
import { parseAllDocuments, stringify } from 'yaml';

export interface ManifestObject {
  apiVersion: string;
  kind: string;
  /** Absent on a `kind: List`, whose items Helm installs one by one. */
  metadata?: { name: string; namespace?: string; annotations?: Record<string, string> };
  [key: string]: unknown;
}

const isObject = (o: unknown): o is ManifestObject => !!o && typeof o === 'object' && typeof (o as ManifestObject).kind === 'string';

/** The objects of a manifest, the items of a `kind: List` (or `SecretList`…) as objects of their own. */
export function parseManifest(text: string): ManifestObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as unknown)
    .filter(isObject)
    .flatMap((o) => (o.kind.endsWith('List') && Array.isArray(o.items) ? o.items.filter(isObject) : [o]));
}

/** Keyed for this process: the two sides of a diff compare, but a digest in a summary cannot be checked against guesses of a weak secret. */
const DIGEST_KEY = randomBytes(32);

/** Secrets keep their keys; each value becomes a short keyed digest, so a change shows without its content. */
function hideSecret(object: ManifestObject): ManifestObject {
  if (object.kind !== 'Secret') return object;
  const hidden = { ...object };
  for (const field of ['data', 'stringData'] as const) {
    const values = object[field] as Record<string, string> | undefined;
    if (values) hidden[field] = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, `(hidden, digest ${createHmac('sha256', DIGEST_KEY).update(String(v)).digest('hex').slice(0, 12)})`]));
  }
  return hidden;
}

const key = (o: ManifestObject) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** Documents sorted by kind, namespace and name, Secrets hidden: what the diff compares. */
export function normalize(text: string): string {
  return parseManifest(text)
    .map(hideSecret)
    .sort((a, b) => key(a).localeCompare(key(b)))
    .map((o) => `# ${o.kind}/${o.metadata?.name ?? ''}\n${stringify(o)}`)
    .join('---\n');
}

/** A unified diff of two manifests ('' when they are the same). */
export function manifestDiff(before: string, after: string, beforeLabel: string, afterLabel: string): string {
  const a = normalize(before);
  const b = normalize(after);
  return a === b ? '' : createTwoFilesPatch(beforeLabel, afterLabel, a, b, undefined, undefined, { context: 3 });
}

/** The Deployments and StatefulSets a release creates, to wait for their rollouts. */
export function workloads(text: string, namespace: string): { kind: string; name: string; namespace: string }[] {
  return parseManifest(text)
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
    .map((o) => ({ kind: o.kind.toLowerCase(), name: o.metadata?.name ?? '', namespace: o.metadata?.namespace ?? namespace }));
}
