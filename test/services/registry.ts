import bcrypt from 'bcryptjs';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net';
import { requireCommand, startService, type Service } from './process';

export interface Registry extends Service {
  /** host:port, as image names start. */
  host: string;
  username: string;
  password: string;
  /** GETs a registry API path with the registry's credentials. */
  get(path: string, accept?: string): Promise<Response>;
  tags(repository: string): Promise<string[]>;
  /** The labels of an image's config, read through its manifest. */
  labels(repository: string, reference: string): Promise<Record<string, string>>;
  /** Pushes an OCI artifact (config `{}` and one layer) through the registry API, as oras would. */
  pushArtifact(repository: string, tag: string, artifact: { configMediaType: string; layerMediaType: string; layer: Buffer; title: string }): Promise<void>;
}

const MANIFESTS = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.index.v1+json'].join(', ');

/** A real Docker registry (Debian docker-registry, distribution 2.8) on loopback, behind htpasswd basic auth unless `auth: false`. */
export async function startRegistry(options: { auth?: boolean } = {}): Promise<Registry> {
  requireCommand('docker-registry', 'apt-get install docker-registry');
  const dir = mkdtempSync(join(tmpdir(), 'slipway-registry-'));
  const port = await freePort();
  const username = 'ci-bot';
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  writeFileSync(join(dir, 'htpasswd'), `${username}:${bcrypt.hashSync(password, 10)}\n`);
  writeFileSync(join(dir, 'config.yml'), [
    'version: 0.1',
    'log: { level: warn }',
    `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }`,
    `http: { addr: "127.0.0.1:${port}", secret: "${password}" }`,
    ...(options.auth === false ? [] : [`auth: { htpasswd: { realm: slipway, path: ${join(dir, 'htpasswd')} } }`]),
    '',
  ].join('\n'));
  const proc = await startService('docker-registry', 'docker-registry', ['serve', join(dir, 'config.yml')], port);
  const url = `http://127.0.0.1:${port}`;
  const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const get = (path: string, accept = 'application/json') => fetch(`${url}${path}`, { headers: { authorization, accept } });
  const json = async <T>(path: string, accept?: string): Promise<T> => {
    const response = await get(path, accept);
    if (!response.ok) throw new Error(`registry ${path}: HTTP ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  return {
    url,
    port,
    host: `127.0.0.1:${port}`,
    username,
    password,
    get,
    tags: async (repository) => ((await json<{ tags: string[] | null }>(`/v2/${repository}/tags/list`)).tags ?? []).sort(),
    labels: async (repository, reference) => {
      let manifest = await json<{ config?: { digest: string }; manifests?: { digest: string }[] }>(`/v2/${repository}/manifests/${reference}`, MANIFESTS);
      if (manifest.manifests?.[0]) manifest = await json(`/v2/${repository}/manifests/${manifest.manifests[0].digest}`, MANIFESTS);
      const config = await json<{ config?: { Labels?: Record<string, string> } }>(`/v2/${repository}/blobs/${manifest.config?.digest}`);
      return config.config?.Labels ?? {};
    },
    pushArtifact: async (repository, tag, artifact) => {
      const blob = async (bytes: Buffer) => {
        const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
        const start = await fetch(`${url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: { authorization } });
        const location = new URL(start.headers.get('location') ?? '', url);
        location.searchParams.set('digest', digest);
        const put = await fetch(location, { method: 'PUT', headers: { authorization, 'content-type': 'application/octet-stream' }, body: bytes });
        if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status} ${await put.text()}`);
        return { digest, size: bytes.length };
      };
      const config = await blob(Buffer.from('{}'));
      const layer = await blob(artifact.layer);
      const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: artifact.configMediaType, ...config }, layers: [{ mediaType: artifact.layerMediaType, ...layer, annotations: { 'org.opencontainers.image.title': artifact.title } }] };
      const put = await fetch(`${url}/v2/${repository}/manifests/${tag}`, { method: 'PUT', headers: { authorization, 'content-type': manifest.mediaType }, body: JSON.stringify(manifest) });
      if (put.status !== 201) throw new Error(`manifest upload: HTTP ${put.status} ${await put.text()}`);
    },
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Settings that let buildah run here as root without a daemon: vfs storage in a private folder, chroot isolation. */
export function buildahEnv(): { env: Record<string, string>; remove: () => void } {
  requireCommand('buildah', 'apt-get install buildah');
  const dir = mkdtempSync(join(tmpdir(), 'slipway-buildah-'));
  writeFileSync(join(dir, 'storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${join(dir, 'root')}"\nrunroot = "${join(dir, 'run')}"\n`);
  return {
    env: { CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'), BUILDAH_ISOLATION: 'chroot' },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
