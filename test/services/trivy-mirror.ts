import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen } from '../helpers/net';
import { requireCommand, type Service } from './process';

export const TRIVY_ASSET = 'trivy_0.69.3_Linux-64bit.tar.gz';

export interface TrivyMirror extends Service {
  /** SHA-256 of the archive served: build-scan's `scanner-checksum` for it. */
  archiveSha: string;
}

/**
 * Serves the Trivy built here (the pretest builds 0.69.3 from the Go module proxy) as a release
 * archive laid out as github.com's release downloads, for build-scan's `scanner-mirror`. It is not the
 * published archive, so Slipway's pin refuses it unless `scanner-checksum` names it. The mirror's
 * checksums file vouches for it, as a tampering mirror would.
 */
export async function startTrivyMirror(): Promise<TrivyMirror> {
  const trivy = requireCommand('trivy', 'build it from the Go module proxy with `node scripts/ensure-deps.mjs`');
  const work = mkdtempSync(join(tmpdir(), 'slipway-trivy-mirror-'));
  const stage = join(work, 'stage');
  mkdirSync(stage);
  copyFileSync(trivy, join(stage, 'trivy'));
  const archive = join(work, TRIVY_ASSET);
  if (spawnSync('tar', ['-czf', archive, '-C', stage, 'trivy']).status !== 0) throw new Error('tar could not pack the Trivy archive');
  const bytes = readFileSync(archive);
  rmSync(work, { recursive: true, force: true });
  const archiveSha = createHash('sha256').update(bytes).digest('hex');
  const server = await listen((req, res) => {
    if (req.url === `/aquasecurity/trivy/releases/download/v0.69.3/${TRIVY_ASSET}`) return res.writeHead(200, { 'content-type': 'application/gzip' }).end(bytes);
    if (req.url === '/aquasecurity/trivy/releases/download/v0.69.3/trivy_0.69.3_checksums.txt') return res.writeHead(200).end(`${archiveSha}  ${TRIVY_ASSET}\n`);
    res.writeHead(404).end();
  });
  return { url: server.url, port: Number(new URL(server.url).port), archiveSha, stop: () => server.close() };
}
