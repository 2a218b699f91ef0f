// A release's manifest: its documents, Secrets' data hidden, the workloads to watch, and a unified
// diff of two revisions for people to read.
import { createHash } from 'node:crypto';
import { createTwoFilesPatch } from 'diff';
import { parseAllDocuments, stringify } from 'yaml';

export interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export function parseManifest(text: string): ManifestObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as ManifestObject | null)
    .filter((o): o is ManifestObject => !!o && typeof o === 'object' && typeof o.kind === 'string');
}

/** Secrets keep their keys; each value becomes a short hash, so a change shows without its content. */
function hideSecret(object: ManifestObject): ManifestObject {
  if (object.kind !== 'Secret') return object;
  const hidden = { ...object };
  for (const field of ['data', 'stringData'] as const) {
    const values = object[field] as Record<string, string> | undefined;
    if (values) hidden[field] = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, `(hidden, sha256:${createHash('sha256').update(String(v)).digest('hex').slice(0, 12)})`]));
  }
  return hidden;
}

const key = (o: ManifestObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** Documents sorted by kind, namespace and name, Secrets hidden: what the diff compares. */
export function normalize(text: string): string {
  return parseManifest(text)
    .map(hideSecret)
    .sort((a, b) => key(a).localeCompare(key(b)))
    .map((o) => `# ${o.kind}/${o.metadata.name}\n${stringify(o)}`)
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
    .map((o) => ({ kind: o.kind.toLowerCase(), name: o.metadata.name, namespace: o.metadata.namespace ?? namespace }));
}
