import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureBlobStore, backupGroup, listGroup, pruneBackups, runBackup, type BackupStore } from '../src/backup/index';
import { SqlDumpScanner } from '../src/backup/sql-dump-scanner';
import { startAzurite, type Azurite } from '../../../test/services/azurite';
import { startPostgres, type Postgres } from '../../../test/services/postgres';

let azurite: Azurite;
let pg: Postgres;

beforeAll(async () => {
  [azurite, pg] = await Promise.all([startAzurite(), startPostgres()]);
  pg.sql('create database big');
  // Random bytes do not compress: about 6 MiB of dump, several 1 MiB blocks.
  pg.sql(`create table blobs (id int, data bytea); insert into blobs select g, decode(string_agg(md5(random()::text), ''), 'hex') from generate_series(1, 6000) g, generate_series(1, 64) k group by g;`, 'big');
}, 120_000);
afterAll(async () => {
  await Promise.all([azurite?.stop(), pg?.stop()]);
});

const request = (store: BackupStore, runId: string, now: Date) => ({
  engine: 'postgres' as const,
  uri: pg.uri('big'),
  selection: { databases: [], include: [], exclude: [] },
  store,
  prefix: 'p',
  compression: 'gzip' as const,
  compressionLevel: 1,
  encryption: {},
  blockSize: 1024 * 1024,
  concurrency: 2,
  runId,
  tool: 'test',
  now,
});

describe('backup operations against Azurite', () => {
  it('Azurite stopped mid-upload: the step fails, nothing is committed, nothing is pruned', async () => {
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString, { retryOptions: { maxTries: 1 } }).getContainerClient('faults');
    const store = new AzureBlobStore(container);
    const old = await runBackup(request(store, '1', new Date('2026-01-01T00:00:00Z')));
    await store.setMetadata(old.name, { verified_at: '2026-01-01T00:10:00Z' });

    // A store whose storage goes away once a few blocks are up.
    let paused = false;
    const failing: BackupStore = Object.assign(Object.create(store) as BackupStore, {
      upload: (name: string, source: AsyncIterable<Uint8Array>, options: Parameters<BackupStore['upload']>[2]) =>
        store.upload(name, source, {
          ...options,
          onProgress: (n: number) => {
            if (n >= 2 * 1024 * 1024 && !paused) {
              paused = true;
              void azurite.pause();
            }
          },
        }),
    });
    await expect(runBackup(request(failing, '2', new Date('2026-02-01T00:00:00Z')))).rejects.toThrow();
    expect(paused).toBe(true);
    await azurite.resume();

    const group = backupGroup('postgres', pg.uri('big'), { databases: [], include: [], exclude: [] }, 'p');
    expect((await listGroup(store, group)).backups.map((b) => b.name)).toEqual([old.name]);
    expect(await store.readText(`${old.name}.manifest.json`)).toContain('"public.blobs"');
    // Retention with the only verified backup: kept whatever the rules say.
    const pruned = await pruneBackups(store, group, { keepDays: 1 }, { dryRun: false, now: new Date('2026-06-01T00:00:00Z') });
    expect(pruned.deleted).toEqual([]);
    expect(pruned.kept[0]?.reasons).toContain('newest verified backup');
  }, 120_000);
});

describe('SQL dump scanner', () => {
  it('counts tuples with quotes, escapes, parentheses and semicolons in strings, split anywhere', () => {
    const dump = Buffer.from(
      [
        'CREATE TABLE `t` (',
        '  `id` int',
        ');',
        'LOCK TABLES `t` WRITE;',
        "INSERT INTO `t` VALUES (1,'a(b'),(2,'c\\'); (d'),(3,'\\\\');",
        'INSERT INTO `t` VALUES',
        "(4,'x'),",
        "(5,'y');",
        'UNLOCK TABLES;',
        'CREATE TABLE `empty` (',
        ');',
        'INSERT INTO `t` VALUES (9,9);',
        '-- Dump completed on 2026-11-23',
        '',
      ].join('\n'),
    );
    for (const size of [1, 3, 7, dump.length]) {
      const scanner = new SqlDumpScanner();
      for (let i = 0; i < dump.length; i += size) scanner.update(dump.subarray(i, i + size));
      expect(Object.fromEntries(scanner.rows())).toEqual({ t: 5, empty: 0 });
      expect(scanner.completed).toBe(true);
    }
  });
});
