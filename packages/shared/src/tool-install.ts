// A pinned command-line tool through the runner's tool cache: the archive's SHA-256 is checked before
// it is extracted, so a tampered download (or mirror) is never run; later jobs find it cached.
import * as core from '@actions/core';
import * as tc from '@actions/tool-cache';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { displayUrl } from './secrets/index';

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface VerifiedTool {
  /** Tool cache name, e.g. `helm`. */
  name: string;
  version: string;
  /** The archive to download: a .zip (Windows releases) or a .tar.gz. */
  url: string;
  /**
   * The SHA-256 it must have (lowercase hex) and who says so, for the error when it differs. Asked
   * only when the tool cache lacks the tool, as it may have to fetch a checksums file.
   */
  checksum: () => Promise<{ sha256: string; source: string }>;
  /** The folder inside the archive that holds the executable; empty for its top level. */
  folder?: string;
  /** Sent with the download (a mirror's Basic credentials); dropped on a redirect to another host. */
  headers?: Record<string, string>;
  /**
   * The SHA-256 the archive must have, when known before looking in the tool cache: the copy is cached
   * under it, so one that another installer cached unverified under the same name and version
   * (azure/setup-helm caches `helm` so), or that came from another archive, is never run.
   */
  pinned?: string;
}

/** The folder holding the tool at this version, installing it when the tool cache lacks it. */
export async function installVerifiedTool(tool: VerifiedTool): Promise<string> {
  const cacheName = tool.pinned ? `${tool.name}-sha256-${tool.pinned}` : tool.name;
  const cached = tc.find(cacheName, tool.version);
  if (cached) {
    core.info(`${tool.name} ${tool.version} from the tool cache`);
    return cached;
  }
  const expected = await tool.checksum();
  // A mirror's path or query may hold its token: the archive's name and the mirror's host are shown.
  const file = new URL(tool.url).pathname.split('/').at(-1);
  core.info(`Downloading ${file} from ${displayUrl(tool.url)}`);
  const archive = await tc.downloadTool(tool.url, undefined, undefined, tool.headers);
  const actual = await sha256File(archive);
  if (actual !== expected.sha256) throw new Error(`${file} has SHA-256 ${actual}, but ${expected.source} says ${expected.sha256}: not installing it`);
  // On Windows the tool cache unzips with PowerShell, elsewhere with unzip.
  const extracted = file?.endsWith('.zip') ? await tc.extractZip(archive) : await tc.extractTar(archive);
  const dir = await tc.cacheDir(join(extracted, tool.folder ?? ''), cacheName, tool.version);
  core.info(`${tool.name} ${tool.version} installed (SHA-256 ${actual} verified against ${expected.source})`);
  return dir;
}
