// The vulnerability database step with a real Trivy: mirrors are tried in order, a dead or empty one is
// passed over, and when none answers the error names each. The database is an OCI artifact in a real
// registry, laid out as trivy-db publishes it (a tar.gz layer of trivy.db and metadata.json). The
// Actions cache keeps it by day over both of the cache service's protocols: v1 as GHES serves it, v2
// (Twirp, archives in Azure Blob Storage, here Azurite) as github.com does.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as cache from '@actions/cache';
import { startActionsCache, type ActionsCache, type CacheProtocol } from '../../../test/fakes/actions-cache';
import { startAzurite, type Azurite } from '../../../test/services/azurite';
import { freePort } from '../../../test/helpers/net';
import { requireCommand } from '../../../test/services/process';
import { startRegistry, type Registry } from '../../../test/services/registry';
import { prepareDatabase } from '../src/image/scanner';

let registry: Registry;
let azurite: Azurite;
let work: string;
let trivy: string;

beforeAll(async () => {
  trivy = requireCommand('trivy', 'build it from the Go module proxy with `node scripts/ensure-deps.mjs`');
  registry = await startRegistry({ auth: false });
  azurite = await startAzurite();
  work = mkdtempSync(join(tmpdir(), 'slipway-trivy-db-'));
  const stage = join(work, 'stage');
  mkdirSync(stage);
  writeFileSync(join(stage, 'trivy.db'), 'a database as published\n');
  writeFileSync(join(stage, 'metadata.json'), JSON.stringify({ Version: 2, NextUpdate: '2020-01-02T00:00:00Z', UpdatedAt: '2020-01-01T00:00:00Z', DownloadedAt: '0001-01-01T00:00:00Z' }));
  expect(spawnSync('tar', ['-czf', join(work, 'db.tar.gz'), '-C', stage, 'trivy.db', 'metadata.json']).status).toBe(0);
  await registry.pushArtifact('aquasec/trivy-db', '2', { configMediaType: 'application/vnd.aquasec.trivy.config.v1+json', layerMediaType: 'application/vnd.aquasec.trivy.db.layer.v1.tar+gzip', layer: readFileSync(join(work, 'db.tar.gz')), title: 'db.tar.gz' });
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  await azurite?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('vulnerability database', () => {
  it('passes over a dead mirror and one without the database, and takes it from the next', async () => {
    const cacheDir = join(work, 'cache-ok');
    const dead = `127.0.0.1:${await freePort()}/aquasec/trivy-db:2`;
    const empty = `${registry.host}/nobody/trivy-db:2`;
    const result = await prepareDatabase({ scanner: 'trivy', bin: trivy, cacheDir, repositories: [dead, empty, `${registry.host}/aquasec/trivy-db:2`], actionsCache: false });
    expect(result).toEqual({ source: `${registry.host}/aquasec/trivy-db:2`, cacheKey: undefined });
    expect(readFileSync(join(cacheDir, 'db', 'trivy.db'), 'utf8')).toBe('a database as published\n');
    expect(existsSync(join(cacheDir, 'db', 'metadata.json'))).toBe(true);
  });

  /**
   * The runner's environment for the Actions cache, pointing at a stand-in speaking this protocol, for
   * the duration of `body`: v1 on GHES (ACTIONS_CACHE_URL), v2 on github.com (ACTIONS_RESULTS_URL).
   */
  async function withActionsCache(protocol: CacheProtocol, body: (service: ActionsCache) => Promise<void>): Promise<void> {
    const token = 'actions-runtime-token-for-tests';
    const service = await startActionsCache(token, azurite);
    const saved = { ...process.env };
    delete process.env.ACTIONS_CACHE_SERVICE_V2;
    delete process.env.ACTIONS_CACHE_URL;
    delete process.env.ACTIONS_RESULTS_URL;
    Object.assign(
      process.env,
      { ACTIONS_RUNTIME_TOKEN: token, RUNNER_TEMP: work },
      protocol === 'v1' ? { ACTIONS_CACHE_URL: service.url, GITHUB_SERVER_URL: 'https://ghes.example.com' } : { ACTIONS_RESULTS_URL: service.resultsUrl, ACTIONS_CACHE_SERVICE_V2: 'true', GITHUB_SERVER_URL: 'https://github.com' },
    );
    try {
      await body(service);
      expect(service.problems).toEqual([]);
    } finally {
      process.env = saved;
      await service.stop();
    }
  }
  const keyOf = (day: string) => `slipway-trivy-db-${process.platform}-${process.arch}-${day}`;

  it.each<CacheProtocol>(['v1', 'v2'])('keeps the database in the Actions cache (%s) by day: a later job the same day restores it and downloads nothing', (protocol) =>
    withActionsCache(protocol, async (service) => {
      const key = keyOf('2026-12-01');
      const repositories = [`${registry.host}/aquasec/trivy-db:2`];
      // Every job uses the same folder (the cache's version is a hash of its paths); each starts without it.
      const cacheDir = join(work, `trivy-cache-${protocol}`);
      const first = await prepareDatabase({ scanner: 'trivy', bin: trivy, cacheDir, repositories, actionsCache: true, now: new Date('2026-12-01T08:00:00Z') });
      expect(first).toEqual({ source: repositories[0], cacheKey: key });
      expect(service.entries()).toMatchObject([{ key, protocol }]);

      // A later job the same day: from the cache, with no mirror reachable at all.
      const dead = [`127.0.0.1:${await freePort()}/aquasec/trivy-db:2`];
      rmSync(cacheDir, { recursive: true });
      const second = await prepareDatabase({ scanner: 'trivy', bin: trivy, cacheDir, repositories: dead, actionsCache: true, now: new Date('2026-12-01T20:00:00Z') });
      expect(second).toEqual({ source: `the Actions cache (${key})`, cacheKey: key });
      expect(readFileSync(join(cacheDir, 'db', 'trivy.db'), 'utf8')).toBe('a database as published\n');
    }));

  it.each<CacheProtocol>(['v1', 'v2'])('scans with an older database from the Actions cache (%s), saying it is stale, when every mirror fails and Trivy finds it out of date', (protocol) =>
    withActionsCache(protocol, async (service) => {
      // Yesterday's job saved a database that Trivy downloaded long ago and whose next update is past.
      const cacheDir = join(work, `trivy-cache-stale-${protocol}`);
      mkdirSync(join(cacheDir, 'db'), { recursive: true });
      writeFileSync(join(cacheDir, 'db', 'trivy.db'), 'yesterday\'s database\n');
      writeFileSync(join(cacheDir, 'db', 'metadata.json'), JSON.stringify({ Version: 2, NextUpdate: '2020-01-02T00:00:00Z', UpdatedAt: '2020-01-01T00:00:00Z', DownloadedAt: '2020-01-01T01:00:00Z' }));
      const yesterday = keyOf('2026-11-30');
      await cache.saveCache([cacheDir], yesterday);
      rmSync(cacheDir, { recursive: true });

      const dead = [`127.0.0.1:${await freePort()}/aquasec/trivy-db:2`, `${registry.host}/nobody/trivy-db:2`];
      const result = await prepareDatabase({ scanner: 'trivy', bin: trivy, cacheDir, repositories: dead, actionsCache: true, now: new Date('2026-12-01T08:00:00Z') });
      expect(result).toEqual({ source: `the Actions cache (${yesterday}, stale)`, cacheKey: yesterday });
      expect(readFileSync(join(cacheDir, 'db', 'trivy.db'), 'utf8')).toBe('yesterday\'s database\n');
      expect(service.entries()).toMatchObject([{ key: yesterday, protocol }]);
    }));

  it('fails naming every mirror when none has it', async () => {
    const dead = `127.0.0.1:${await freePort()}/aquasec/trivy-db:2`;
    const empty = `${registry.host}/nobody/trivy-db:2`;
    const failed = prepareDatabase({ scanner: 'trivy', bin: trivy, cacheDir: join(work, 'cache-none'), repositories: [dead, empty], actionsCache: false });
    await expect(failed).rejects.toThrow(new RegExp(`could not be fetched from any of db-repository:\\n  ${dead.replace(/\./g, '\\.')}: .*\\n  ${empty.replace(/\./g, '\\.')}: `));
  });
});
