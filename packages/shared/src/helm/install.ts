// A pinned Helm through the runner's tool cache: downloaded from get.helm.sh (or a mirror), its
// SHA-256 checked against the published `.sha256sum` before it is extracted, cached for later jobs.
import * as core from '@actions/core';
import * as tc from '@actions/tool-cache';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { requestOk } from '../http';

const PLATFORMS: Record<string, string> = { linux: 'linux', darwin: 'darwin', win32: 'windows' };
const ARCHES: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The path of `helm` at this version (e.g. `v3.19.0`), installing it when the tool cache lacks it. */
export async function installHelm(version: string, mirror: string): Promise<string> {
  const platform = PLATFORMS[process.platform];
  const arch = ARCHES[process.arch];
  if (!platform || !arch) throw new Error(`no Helm release for ${process.platform}/${process.arch}`);
  const exe = platform === 'windows' ? 'helm.exe' : 'helm';
  const cached = tc.find('helm', version.replace(/^v/, ''));
  if (cached) {
    core.info(`Helm ${version} from the tool cache`);
    return join(cached, exe);
  }
  const name = `helm-${version}-${platform}-${arch}.tar.gz`;
  const base = mirror.replace(/\/+$/, '');
  const published = (await requestOk({ label: `Helm ${version} checksum`, url: `${base}/${name}.sha256sum` }, { retries: 3, timeoutMs: 30_000 })).body.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  if (!/^[0-9a-f]{64}$/.test(published)) throw new Error(`${base}/${name}.sha256sum is not a SHA-256 checksum file`);
  core.info(`Downloading ${base}/${name}`);
  const archive = await tc.downloadTool(`${base}/${name}`);
  const actual = await sha256(archive);
  if (actual !== published) throw new Error(`${name} has SHA-256 ${actual}, but ${base}/${name}.sha256sum publishes ${published}: not installing it`);
  const extracted = await tc.extractTar(archive);
  const dir = await tc.cacheDir(join(extracted, `${platform}-${arch}`), 'helm', version.replace(/^v/, ''));
  core.info(`Helm ${version} installed (SHA-256 ${actual} verified)`);
  return join(dir, exe);
}
