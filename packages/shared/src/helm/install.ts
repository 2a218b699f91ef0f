// A pinned Helm through the runner's tool cache: downloaded from get.helm.sh (or a mirror), its
// SHA-256 checked against the published `.sha256sum` before it is extracted, cached for later jobs.
import { join } from 'node:path';
import { requestOk } from '../http';
import { installVerifiedTool } from '../tool-install';

const PLATFORMS: Record<string, string> = { linux: 'linux', darwin: 'darwin', win32: 'windows' };
const ARCHES: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

/** The path of `helm` at this version (e.g. `v3.19.0`), installing it when the tool cache lacks it. */
export async function installHelm(version: string, mirror: string): Promise<string> {
  const platform = PLATFORMS[process.platform];
  const arch = ARCHES[process.arch];
  if (!platform || !arch) throw new Error(`no Helm release for ${process.platform}/${process.arch}`);
  const exe = platform === 'windows' ? 'helm.exe' : 'helm';
  const name = `helm-${version}-${platform}-${arch}.tar.gz`;
  const base = mirror.replace(/\/+$/, '');
  const checksum = async () => {
    const source = `${base}/${name}.sha256sum`;
    const sha256 = (await requestOk({ label: `Helm ${version} checksum`, url: source }, { retries: 3, timeoutMs: 30_000 })).body.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`${source} is not a SHA-256 checksum file`);
    return { sha256, source };
  };
  const dir = await installVerifiedTool({ name: 'helm', version: version.replace(/^v/, ''), url: `${base}/${name}`, checksum, folder: `${platform}-${arch}` });
  return join(dir, exe);
}
