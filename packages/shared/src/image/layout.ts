// What the scanner judges of a built image: every platform of it. Trivy reads only one image of an
// OCI layout whose index.json entry is an image index (the index's first manifest, whatever
// `--platform` says, and buildah orders a manifest list by build completion), so each platform gets
// a layout of its own: an index.json naming that platform's manifest, the blobs shared by a symlink.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuiltImage } from './build';

const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

/** One image the scanner reads: its platform (`linux/arm64`; empty for a single image of unnamed platform) and where it is. */
export interface ScanTarget {
  platform: string;
  /** The platform's image manifest digest (the image's own digest when it is not an index). */
  digest: string;
  target: BuiltImage['scanTarget'];
  /** What to pass as the scanner's `--platform`: none for a single-image layout, which holds nothing else. */
  scannerPlatform?: string;
}

const platformName = (p: Descriptor['platform']) => [p?.os, p?.architecture, p?.variant].filter(Boolean).join('/');

/** A layout's blob, checked against its digest, so what is scanned is what that digest names. */
export function layoutBlob(layout: string, digest: string): Buffer {
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`the OCI layout ${layout} names ${JSON.stringify(digest)}, not a sha256 digest`);
  const bytes = readFileSync(join(layout, 'blobs', 'sha256', digest.slice(7)));
  const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (actual !== digest) throw new Error(`the OCI layout ${layout} names ${digest} but that blob's SHA-256 is ${actual}`);
  return bytes;
}

/**
 * Every platform image of the image `digest` in `layout`, each as a single-image layout under `into`,
 * in the order of `order` (the `platforms` input; others after). Buildx's attestation manifests
 * (platform unknown/unknown) hold no file system and are not platforms. An image that is not an
 * index is the layout itself.
 */
export function platformLayouts(layout: string, digest: string, into: string, order: readonly string[] = []): ScanTarget[] {
  const top = JSON.parse(layoutBlob(layout, digest).toString('utf8')) as { mediaType?: string; manifests?: Descriptor[] };
  if (!(INDEX_TYPES.includes(top.mediaType ?? '') || (top.mediaType === undefined && Array.isArray(top.manifests)))) {
    return [{ platform: order.length === 1 ? (order[0] ?? '') : '', digest, target: { kind: 'oci-layout', ref: layout } }];
  }
  const images = (top.manifests ?? []).filter((m) => m.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest' && m.platform?.os !== 'unknown');
  const rank = (name: string) => {
    const i = order.findIndex((p) => p === name || name.startsWith(`${p}/`) || p.startsWith(`${name}/`));
    return i < 0 ? order.length : i;
  };
  const named = images.map((m) => ({ m, name: platformName(m.platform) })).sort((a, b) => rank(a.name) - rank(b.name));
  if (!named.length) throw new Error(`the image index ${digest} in ${layout} lists no platform image`);
  mkdirSync(into, { recursive: true, mode: 0o700 });
  return named.map(({ m, name }, i) => {
    const child = JSON.parse(layoutBlob(layout, m.digest).toString('utf8')) as { mediaType?: string; manifests?: unknown };
    if (INDEX_TYPES.includes(m.mediaType ?? child.mediaType ?? '') || child.manifests) throw new Error(`the image index ${digest} in ${layout} nests another index (${m.digest}), which is not scanned`);
    const view = join(into, `platform-${i}`);
    mkdirSync(view);
    writeFileSync(join(view, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(view, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: INDEX_TYPES[0], manifests: [{ mediaType: m.mediaType, digest: m.digest, size: m.size, ...(m.platform ? { platform: m.platform } : {}) }] }));
    symlinkSync(join(layout, 'blobs'), join(view, 'blobs'));
    return { platform: name || `image ${i + 1}`, digest: m.digest, target: { kind: 'oci-layout', ref: view } };
  });
}

/**
 * What to scan of a build: each platform of a layout (above); a pushed image once per platform
 * (the registry path honours the scanner's `--platform`); else the one image.
 */
export function scanTargets(built: BuiltImage, platforms: readonly string[], into: string): ScanTarget[] {
  if (built.scanTarget.kind === 'oci-layout') return platformLayouts(built.scanTarget.ref, built.localDigest, into, platforms);
  if (built.scanTarget.kind === 'registry' && platforms.length > 1) return platforms.map((p) => ({ platform: p, digest: built.digest, target: built.scanTarget, scannerPlatform: p }));
  return [{ platform: platforms[0] ?? '', digest: built.digest, target: built.scanTarget, scannerPlatform: platforms[0] }];
}
