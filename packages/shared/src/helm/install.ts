// A pinned Helm through the runner's tool cache: downloaded from get.helm.sh (or a mirror), its
// SHA-256 checked before it is extracted, cached for later jobs. The checksum comes from the table
// below or from the caller, never from the mirror: a tampered mirror would vouch for its own archive.
import { join } from 'node:path';
import type { Runner } from '../platform';
import { installVerifiedTool } from '../tool-install';

const PLATFORMS: Record<string, string> = { linux: 'linux', darwin: 'darwin', win32: 'windows' };
const ARCHES: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

/**
 * SHA-256 of the release archives (`helm-<version>-<os>-<arch>.tar.gz`, `.zip` for Windows), as the Helm
 * project publishes them in each release's notes and `.sha256sum` files.
 */
export const HELM_RELEASES: Record<string, Partial<Record<string, string>>> = {
  'v3.19.0': {
    'linux-amd64': 'a7f81ce08007091b86d8bd696eb4d86b8d0f2e1b9f6c714be62f82f96a594496',
    'linux-arm64': '440cf7add0aee27ebc93fada965523c1dc2e0ab340d4348da2215737fc0d76ad',
    'linux-arm': '8708367b8e8bed9bdf8429bb57536e4223cdca96245dffc205cb0cb670b151f4',
    'linux-ppc64le': 'f57ea04d7fa62cc3e90a831eb67edb1400c810df6083875bee3a7c195a795ce4',
    'linux-s390x': '0dff2f249f71690e3b420ebb5efc573eb26a51b4a614c4391c8c7fa3e47863f2',
    'darwin-amd64': '09a108c0abda42e45af172be65c49125354bf7cd178dbe10435e94540e49c7b9',
    'darwin-arm64': '31513e1193da4eb4ae042eb5f98ef9aca7890cfa136f4707c8d4f70e2115bef6',
    'windows-amd64': '6488630c2e5d5945ed990fa02fd9e99f9c6792cdbcd79eb264b6cfb90179d2d1',
    'windows-arm64': '488f7530a1776da1b46b14e988bf305c9d7419c78e7e73aeb92f198a41c9ef6b',
  },
  'v4.1.4': {
    'linux-amd64': '70b2c30a19da4db264dfd68c8a3664e05093a361cefd89572ffb36f8abfa3d09',
    'linux-arm64': '13d03672be289045d2ff00e4e345d61de1c6f21c1257a45955a30e8ae036d8f1',
    'linux-arm': 'c4a7d37032379cc7e82c9c76487d1041b193c9a0fbb4b8f3790230899b830a4f',
    'linux-ppc64le': '35a48f5db5c655b4471b37be75e76bfb2b23fc8a95d0fa2f0f344f0694336358',
    'linux-s390x': 'c5653d0b3687f008dc48f80219906b574af3b623ddc114f92383327299ad935e',
    'darwin-amd64': 'abf09c8503ad1d8ef76d3737a058c3456a998aae5f5966fce4bb3031aeb1654e',
    'darwin-arm64': '7c2eca678e8001fa863cdf8cbf6ac1b3799f9404a89eb55c08260ef5732e658d',
    'windows-amd64': 'bd60f567f667631a2c9b698dfabe5e3cd52eaaf4264163c0a9cae566db8560e8',
    'windows-arm64': 'd0a651026da4a26b28bdfc3d455ce3dfacbc267182dc2225c2172b1dcc549643',
  },
};

/**
 * The release archive of Helm at this version (e.g. `v3.19.0`) for this runner, the executable's name in
 * its folder, and the archive's pinned SHA-256 if the table has one.
 */
export function helmArchive(version: string, runner: Runner = { platform: process.platform, arch: process.arch }): { name: string; folder: string; executable: string; pinned?: string } {
  const platform = PLATFORMS[runner.platform];
  const arch = ARCHES[runner.arch];
  if (!platform || !arch) throw new Error(`no Helm release for ${runner.platform}/${runner.arch}`);
  const folder = `${platform}-${arch}`;
  const windows = platform === 'windows';
  return { name: `helm-${version}-${folder}.${windows ? 'zip' : 'tar.gz'}`, folder, executable: windows ? 'helm.exe' : 'helm', pinned: HELM_RELEASES[version]?.[folder] };
}

/**
 * The path of `helm` at this version, installing it when the tool cache lacks it. A checksum from the
 * caller (the archive's SHA-256, and who gives it) wins over the table; a version neither pins is refused.
 */
export async function installHelm(version: string, mirror: string, checksum?: { sha256: string; source: string }, headers?: Record<string, string>, runner?: Runner): Promise<string> {
  const archive = helmArchive(version, runner);
  const expected = checksum ? { sha256: checksum.sha256.toLowerCase(), source: checksum.source } : archive.pinned ? { sha256: archive.pinned, source: `Slipway's pin of Helm ${version}` } : undefined;
  if (!expected) throw new Error(`Helm ${version} is not pinned by Slipway for ${archive.folder} (pinned: ${Object.keys(HELM_RELEASES).join(', ')}), and no checksum was given for ${archive.name}`);
  const url = `${mirror.replace(/\/+$/, '')}/${archive.name}`;
  const dir = await installVerifiedTool({ name: 'helm', version: version.replace(/^v/, ''), url, checksum: () => Promise.resolve(expected), pinned: expected.sha256, folder: archive.folder, headers });
  return join(dir, archive.executable);
}
