// Runner support: the check every action starts with, and Helm's per-OS archives (Windows' are .zip),
// installed through the tool cache from a loopback mirror as they would be on that runner.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../../../test/helpers/net';
import { requireCommand } from '../../../test/services/process';
import { HELM_RELEASES, helmArchive, installHelm } from '../src/helm/install';
import { checkPlatform } from '../src/platform';

describe('checkPlatform', () => {
  const linuxOnly = { platforms: ['linux'], arches: ['x64', 'arm64'] } as const;
  it('passes a supported runner and names what is supported when it refuses one', () => {
    expect(() => checkPlatform('build-scan', linuxOnly, { platform: 'linux', arch: 'arm64' })).not.toThrow();
    expect(() => checkPlatform('notify', { platforms: ['linux', 'darwin', 'win32'] }, { platform: 'win32', arch: 'ia32' })).not.toThrow();
    expect(() => checkPlatform('build-scan', linuxOnly, { platform: 'win32', arch: 'x64' })).toThrow(
      "build-scan does not run on Windows x64 runners (win32/x64), only on Linux x64 and arm64; nothing was done. See the support matrix in Slipway's README.",
    );
    expect(() => checkPlatform('build-scan', linuxOnly, { platform: 'linux', arch: 's390x' })).toThrow(/^build-scan does not run on Linux s390x runners \(linux\/s390x\), only on Linux x64 and arm64;/);
    expect(() => checkPlatform('backup-db', { platforms: ['linux', 'darwin'] }, { platform: 'win32', arch: 'arm64' })).toThrow(/^backup-db does not run on Windows arm64 runners \(win32\/arm64\), only on Linux and macOS;/);
    expect(() => checkPlatform('notify', { platforms: ['linux', 'darwin', 'win32'] }, { platform: 'freebsd', arch: 'x64' })).toThrow(/^notify does not run on freebsd x64 runners \(freebsd\/x64\), only on Linux, macOS and Windows;/);
  });

  it('checks the runner it runs on when none is given', () => {
    expect(() => checkPlatform('here', { platforms: [process.platform], arches: [process.arch] })).not.toThrow();
    expect(() => checkPlatform('here', { platforms: [process.platform], arches: [process.arch === 'x64' ? 'arm64' : 'x64'] })).toThrow(/^here does not run on /);
  });
});

describe('Helm archives by runner', () => {
  it('names the .tar.gz of Linux and macOS and the .zip of Windows, each pinned, with helm.exe on Windows', () => {
    expect(helmArchive('v3.19.0', { platform: 'linux', arch: 'arm64' })).toEqual({ name: 'helm-v3.19.0-linux-arm64.tar.gz', folder: 'linux-arm64', executable: 'helm', pinned: HELM_RELEASES['v3.19.0']?.['linux-arm64'] });
    expect(helmArchive('v4.1.4', { platform: 'darwin', arch: 'arm64' })).toMatchObject({ name: 'helm-v4.1.4-darwin-arm64.tar.gz', executable: 'helm', pinned: '7c2eca678e8001fa863cdf8cbf6ac1b3799f9404a89eb55c08260ef5732e658d' });
    expect(helmArchive('v3.19.0', { platform: 'win32', arch: 'x64' })).toEqual({ name: 'helm-v3.19.0-windows-amd64.zip', folder: 'windows-amd64', executable: 'helm.exe', pinned: '6488630c2e5d5945ed990fa02fd9e99f9c6792cdbcd79eb264b6cfb90179d2d1' });
    expect(helmArchive('v4.1.4', { platform: 'win32', arch: 'arm64' })).toMatchObject({ name: 'helm-v4.1.4-windows-arm64.zip', pinned: 'd0a651026da4a26b28bdfc3d455ce3dfacbc267182dc2225c2172b1dcc549643' });
    expect(() => helmArchive('v3.19.0', { platform: 'freebsd', arch: 'x64' })).toThrow('no Helm release for freebsd/x64');
  });

  describe('installed from a mirror through the tool cache', () => {
    let work: string;
    let mirror: Listening;
    let zip: Buffer;
    const saved = { ...process.env };
    beforeAll(async () => {
      requireCommand('zip', 'install the Debian package zip');
      requireCommand('unzip', 'install the Debian package unzip');
      work = mkdtempSync(join(tmpdir(), 'slipway-helm-zip-'));
      // Laid out as Helm's Windows release: windows-amd64/helm.exe (here a script standing in for it).
      mkdirSync(join(work, 'stage', 'windows-amd64'), { recursive: true });
      writeFileSync(join(work, 'stage', 'windows-amd64', 'helm.exe'), '#!/bin/sh\necho v3.19.0\n');
      chmodSync(join(work, 'stage', 'windows-amd64', 'helm.exe'), 0o755);
      expect(spawnSync('zip', ['-qr', join(work, 'helm.zip'), 'windows-amd64'], { cwd: join(work, 'stage') }).status).toBe(0);
      zip = readFileSync(join(work, 'helm.zip'));
      mirror = await listen((req, res) => (req.url === '/helm-v3.19.0-windows-amd64.zip' ? res.writeHead(200).end(zip) : res.writeHead(404).end()));
      Object.assign(process.env, { RUNNER_TOOL_CACHE: join(work, 'tool-cache'), RUNNER_TEMP: join(work, 'temp') });
    });
    afterAll(async () => {
      process.env = saved;
      await mirror?.close();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('refuses a Windows archive that is not the one Slipway pins, and installs one whose checksum is given, unzipped', async () => {
      const windows = { platform: 'win32', arch: 'x64' } as const;
      await expect(installHelm('v3.19.0', mirror.url, undefined, undefined, windows)).rejects.toThrow(/^helm-v3\.19\.0-windows-amd64\.zip has SHA-256 [0-9a-f]{64}, but Slipway's pin of Helm v3\.19\.0 says 6488630c2e5d5945ed990fa02fd9e99f9c6792cdbcd79eb264b6cfb90179d2d1: not installing it$/);
      const sha256 = createHash('sha256').update(zip).digest('hex');
      const helm = await installHelm('v3.19.0', mirror.url, { sha256, source: 'the test' }, undefined, windows);
      expect(helm).toBe(join(work, 'tool-cache', `helm-sha256-${sha256}`, '3.19.0', process.arch, 'helm.exe'));
      expect(spawnSync(helm, [], { encoding: 'utf8' }).stdout).toBe('v3.19.0\n');
    });
  });
});
