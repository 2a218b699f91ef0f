import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_DATABASES, backupBlobName, backupGroup, checkPrefix, encodeDatabaseSet, legacyGroupFolder, serverOf, type BackupGroup } from '../src/backup/naming';
import { findBackup, listGroup, META, pruneBackups } from '../src/backup/operations';
import { decideRetention, isoWeek, type BackupEntry } from '../src/backup/retention';
import { LocalStore } from '../src/backup/store';

const now = new Date('2026-11-22T12:00:00Z');
/** One backup every 6 hours for `days` days back from now, newest first; all verified unless listed. */
function history(days: number, unverified: number[] = []): BackupEntry[] {
  return Array.from({ length: days * 4 }, (_, i) => ({
    name: `b${i}`,
    createdAt: new Date(now.getTime() - i * 6 * 3_600_000),
    verified: !unverified.includes(i),
  }));
}
const names = (entries: { name: string }[]) => entries.map((e) => e.name);
const none = { databases: [], include: [], exclude: [] };
const at = new Date('2026-03-04T05:06:07.890Z');

describe('backup names', () => {
  it('follow <prefix>/<engine>/<databases>/<yyyy>/<mm>/<dd>/<timestamp>-<run-id>-<server>.<ext> in UTC', () => {
    const name = backupBlobName({ prefix: 'prod/', engine: 'postgres', databases: ['shop'], server: 'db:5432', createdAt: at, runId: '12345', extension: '.dump.gz.age' });
    expect(name).toMatch(/^prod\/postgres\/shop\/2026\/03\/04\/20260304T050607Z-12345-[0-9a-f]{8}\.dump\.gz\.age$/);
    // Two servers' backups of one database, started in the same second of one run, get two names.
    expect(backupBlobName({ prefix: '', engine: 'postgres', databases: ['shop'], server: 'db2:5432', createdAt: at, runId: '12345', extension: '.dump' })).not.toBe(name.replace(/^prod\//, '').replace('.gz.age', ''));
  });

  it('encode distinct database sets as distinct, reversible folders', () => {
    const sets = [['shop db'], ['shop_db'], ['shop?db'], ['shop/db'], ['shöp'], ['Shop'], ['..'], ['.'], ['a', 'b'], ['a,b'], ['a_b'], ['a+b'], ['all'], ['~all'], ALL_DATABASES] as const;
    const segments = sets.map((set) => encodeDatabaseSet(set));
    expect(new Set(segments).size).toBe(sets.length);
    for (const [i, set] of sets.entries()) {
      const segment = segments[i] ?? '';
      expect(segment).toMatch(/^[A-Za-z0-9_%+~-]+$/);
      if (set !== ALL_DATABASES) expect(segment.split('+').map(decodeURIComponent)).toEqual(set);
    }
    expect(encodeDatabaseSet(['shop db'])).toBe('shop%20db');
    expect(encodeDatabaseSet(ALL_DATABASES)).toBe('~all');
    // A set is a set: order and repeats in `databases` do not make another group.
    expect(backupGroup('mongodb', 'mongodb://h/x', { ...none, databases: ['b', 'a', 'b'] }, '').databases).toEqual(['a', 'b']);
    expect(backupGroup('mongodb', 'mongodb://h/', none, '').databases).toBe(ALL_DATABASES);
    expect(backupGroup('mongodb', 'mongodb://h/all', none, '').databases).toEqual(['all']);
  });

  it('name the server by host and port, never by credentials', () => {
    expect(serverOf('postgres', 'postgres://u:secret@DB.Example.com/shop')).toBe('db.example.com:5432');
    expect(serverOf('mysql', 'mysql://u:p@[::1]/shop')).toBe('[::1]:3306');
    expect(serverOf('mongodb', 'mongodb://u:p@h2:27018,H1/app?replicaSet=rs')).toBe('h1:27017,h2:27018');
  });

  it('refuse a prefix that leaves its folder', () => {
    for (const bad of ['../other', 'a/../../b', './a', 'a/.', '.', '..', 'a//b', '/abs', '/', 'a\\..\\b', 'a\nb']) {
      expect(() => checkPrefix(bad), bad).toThrow(/Input 'prefix' is invalid/);
    }
    expect(checkPrefix('nightly')).toBe('nightly');
    expect(checkPrefix('prod/eu/')).toBe('prod/eu');
    expect(checkPrefix('')).toBe('');
    expect(checkPrefix('..hidden/a.b')).toBe('..hidden/a.b');
  });
});

describe('retention', () => {
  it('keeps every backup when no rule is set', () => {
    expect(decideRetention(history(3), {}, now).delete).toEqual([]);
  });

  it('keep-days keeps what is younger, deletes the rest', () => {
    const decision = decideRetention(history(40), { keepDays: 30 }, now);
    expect(decision.keep).toHaveLength(30 * 4 + 1);
    expect(decision.delete.every((e) => e.createdAt.getTime() < now.getTime() - 30 * 86_400_000)).toBe(true);
  });

  it('keep-last keeps the newest N', () => {
    expect(names(decideRetention(history(2), { keepLast: 3 }, now).keep.map((k) => k.entry))).toEqual(['b0', 'b1', 'b2']);
  });

  it('GFS keeps the newest backup of each recent day, ISO week and month', () => {
    const decision = decideRetention(history(120), { keepDaily: 7, keepWeekly: 4, keepMonthly: 3 }, now);
    const kept = decision.keep.map((k) => k.entry);
    const days = new Set(kept.map((e) => e.createdAt.toISOString().slice(0, 10)));
    expect(kept.filter((e) => e.createdAt >= new Date('2026-11-16T00:00:00Z'))).toHaveLength(7);
    expect(days.has('2026-11-22')).toBe(true);
    // Each kept backup is the newest of its bucket: the one at 12:00, or at 18:00 for earlier days.
    expect(kept.every((e) => e.name === 'b0' || e.createdAt.getUTCHours() === 18)).toBe(true);
    expect(kept.length).toBeLessThanOrEqual(7 + 4 + 3);
    expect(kept.at(-1)?.createdAt.toISOString().slice(0, 7)).toBe('2026-09');
    expect(decision.keep[0]?.reasons).toEqual(expect.arrayContaining(['daily 2026-11-22', 'weekly 2026-W47', 'monthly 2026-11']));
  });

  it('never deletes the newest verified backup, even when the rules would', () => {
    const entries = history(10, [0, 1, 2, 3, 4]);
    const decision = decideRetention(entries, { keepLast: 2 }, now);
    expect(names(decision.keep.map((k) => k.entry))).toEqual(['b0', 'b1', 'b5']);
    expect(decision.keep[2]?.reasons).toEqual(['newest verified backup']);
  });

  it('with only one verified backup, old as it is, keeps it', () => {
    const entries: BackupEntry[] = [
      { name: 'old-verified', createdAt: new Date('2025-01-01T00:00:00Z'), verified: true },
      { name: 'new-unverified', createdAt: new Date('2026-11-22T00:00:00Z'), verified: false },
    ];
    const decision = decideRetention(entries, { keepDays: 30 }, now);
    expect(names(decision.keep.map((k) => k.entry))).toEqual(['new-unverified', 'old-verified']);
    expect(decision.delete).toEqual([]);
  });

  it('never counts a backup whose verification failed, and keeps it only while newer than the oldest kept', () => {
    const entries = history(3).map((e, i) => ({ ...e, failed: i === 0 || i === 9 }));
    const decision = decideRetention(entries, { keepLast: 3 }, now);
    expect(names(decision.keep.map((k) => k.entry))).toEqual(['b0', 'b1', 'b2', 'b3']);
    expect(decision.keep[0]?.reasons).toEqual([expect.stringMatching(/^failed verification/)]);
    expect(names(decision.delete)).toContain('b9');
    // A failed newest backup is never the "newest verified" one either.
    expect(decideRetention([{ name: 'bad', createdAt: now, verified: true, failed: true }, { name: 'good', createdAt: new Date(0), verified: true }], { keepLast: 1 }, now).keep.map((k) => [k.entry.name, k.reasons])).toEqual([
      ['bad', [expect.stringMatching(/^failed verification/)]],
      ['good', ['last 1 of 1', 'newest verified backup']],
    ]);
  });

  it('never deletes the backup this run made, whatever the other backups\' dates say', () => {
    const entries: BackupEntry[] = [
      { name: 'skewed', createdAt: new Date(now.getTime() + 60_000), verified: true },
      { name: 'this-run', createdAt: now, verified: true },
    ];
    // A minute ahead is clock skew: it counts, and would take this run's place in keep-last 1.
    expect(names(decideRetention(entries, { keepLast: 1 }, now).delete)).toEqual(['this-run']);
    const decision = decideRetention(entries, { keepLast: 1 }, now, ['this-run']);
    expect(decision.delete).toEqual([]);
    expect(decision.keep.find((k) => k.entry.name === 'this-run')?.reasons).toEqual(['made by this run']);
  });

  it('counts no backup dated in the future for any rule, and keeps it', () => {
    const entries: BackupEntry[] = [{ name: 'future-dated', createdAt: new Date('2099-01-01T00:00:00Z'), verified: true }, ...history(3)];
    const decision = decideRetention(entries, { keepLast: 2, keepDaily: 1 }, now);
    expect(names(decision.keep.map((k) => k.entry))).toEqual(['future-dated', 'b0', 'b1']);
    expect(decision.keep[0]?.reasons).toEqual([expect.stringMatching(/^dated in the future/)]);
  });

  it('computes ISO weeks across year boundaries', () => {
    expect(isoWeek(new Date('2026-01-01T00:00:00Z'))).toBe('2026-W01');
    expect(isoWeek(new Date('2027-01-01T00:00:00Z'))).toBe('2026-W53');
    expect(isoWeek(new Date('2024-12-30T00:00:00Z'))).toBe('2025-W01');
  });
});

/** A backup in a LocalStore as backup-db writes it, with the metadata given (a stand-in dump). */
async function put(store: LocalStore, name: string, metadata: Record<string, string>): Promise<string> {
  await store.upload(name, (async function* () {
    yield Buffer.from(name);
  })(), { metadata: { [META.createdAt]: now.toISOString(), [META.sha256]: 'stand-in', ...metadata } });
  return name;
}

/** The metadata backup-db records for a group. */
const metadataOf = (group: BackupGroup) => ({
  [META.engine]: group.engine,
  [META.databases]: encodeURIComponent(group.label),
  [META.databaseSet]: encodeDatabaseSet(group.databases),
  [META.server]: group.server ?? '',
  [META.prefix]: encodeURIComponent(group.prefix),
});

describe('groups in one store', () => {
  const pg = (database: string, host = 'one', prefix = 'nightly') => backupGroup('postgres', `postgres://u:p@${host}:5432/${encodeURIComponent(database)}`, none, prefix);
  const mongo = (uri: string, databases: string[] = []) => backupGroup('mongodb', uri, { ...none, databases }, '');
  const nameIn = (group: BackupGroup, day: number) => backupBlobName({ ...group, server: group.server ?? '', createdAt: new Date(Date.UTC(2026, 10, day)), runId: '1', extension: '.dump' });

  it('retention of one database on one server counts and deletes only its own backups', async () => {
    const store = new LocalStore(mkdtempSync(join(tmpdir(), 'slipway-groups-')));
    const shop = pg('shop');
    const others = [pg('shop', 'two'), pg('shop_db'), pg('shop db'), pg('shop?db'), pg('shop', 'one', 'nightly/eu'), pg('shop', 'one', '')];
    const otherNames = await Promise.all(others.map((g) => put(store, nameIn(g, 1), metadataOf(g))));
    const mine = await Promise.all([1, 2, 3].map((day) => put(store, nameIn(shop, day), { ...metadataOf(shop), [META.createdAt]: `2026-11-0${day}T00:00:00Z` })));
    // Not a backup of this group whatever its folder says: no metadata, or another engine's.
    const strays = [await put(store, nameIn(shop, 4).replace('.dump', '.x'), {}), await put(store, nameIn(shop, 5), { ...metadataOf(shop), [META.engine]: 'mysql' })];

    expect((await listGroup(store, shop)).backups.map((b) => b.name)).toEqual([...mine].reverse());
    const pruned = await pruneBackups(store, shop, { keepLast: 1 }, { dryRun: false });
    expect(pruned.deleted).toEqual([mine[1], mine[0]]);
    for (const name of [...otherNames, ...strays, mine[2] ?? '']) expect(await store.get(name), name).toBeDefined();
  });

  it('tells MongoDB sets apart: a,b from a_b, a database named all from all databases', async () => {
    const store = new LocalStore(mkdtempSync(join(tmpdir(), 'slipway-groups-')));
    const sets = [mongo('mongodb://h/', ['a', 'b']), mongo('mongodb://h/a_b'), mongo('mongodb://h/', ['a,b']), mongo('mongodb://h/all'), mongo('mongodb://h/')];
    const made = await Promise.all(sets.map((g) => put(store, nameIn(g, 1), metadataOf(g))));
    for (const [i, group] of sets.entries()) {
      expect((await listGroup(store, group)).backups.map((b) => b.name)).toEqual([made[i]]);
      expect((await findBackup(store, 'latest', group)).backup.name).toBe(made[i]);
    }
  });

  it('reads backups made before 2026-12 by their label, in the lossy folder of their day', async () => {
    const store = new LocalStore(mkdtempSync(join(tmpdir(), 'slipway-groups-')));
    const spaced = pg('shop db');
    const legacyName = (group: BackupGroup, day: number) => `${legacyGroupFolder(group)}2026/11/0${day}/2026110${day}T000000Z-1.dump`;
    const legacy = (group: BackupGroup) => ({ [META.engine]: 'postgres', [META.databases]: encodeURIComponent(group.label) });
    // Before: `shop db` and `shop_db` shared the folder `shop_db`.
    const old = await put(store, legacyName(spaced, 1), { ...legacy(spaced), [META.createdAt]: '2026-11-01T00:00:00Z' });
    await put(store, legacyName(pg('shop_db'), 2), { ...legacy(pg('shop_db')), [META.createdAt]: '2026-11-02T00:00:00Z' });
    const chosen = await findBackup(store, 'latest', spaced);
    expect(chosen.backup.name).toBe(old);
    expect(chosen.why).toMatch(/made before backups recorded their server/);
    // A restore that names only its target sees them too.
    expect((await findBackup(store, 'latest', { ...spaced, server: undefined })).backup.name).toBe(old);

    // Once a backup of the same database on another server is in the folder, old ones belong to no one.
    const other = await put(store, nameIn(pg('shop db', 'two'), 3), metadataOf(pg('shop db', 'two')));
    const listing = await listGroup(store, spaced);
    expect(listing.backups).toEqual([]);
    expect(listing.unattributed.map((b) => b.name)).toEqual([old]);
    expect((await pruneBackups(store, spaced, { keepLast: 1 }, { dryRun: false })).deleted).toEqual([]);
    expect(await store.get(old)).toBeDefined();
    await expect(findBackup(store, 'latest', { ...spaced, server: undefined })).resolves.toMatchObject({ backup: { name: other } });
    await put(store, nameIn(spaced, 4), metadataOf(spaced));
    await expect(findBackup(store, 'latest', { ...spaced, server: undefined })).rejects.toThrow(/Input 'uri' is invalid.*from one:5432, two:5432/);
  });

  it('latest passes over a backup whose verification failed, and says so', async () => {
    const store = new LocalStore(mkdtempSync(join(tmpdir(), 'slipway-groups-')));
    const shop = pg('shop');
    const good = await put(store, nameIn(shop, 1), { ...metadataOf(shop), [META.createdAt]: '2026-11-01T00:00:00Z', [META.verifiedAt]: '2026-11-01T00:10:00Z' });
    const bad = await put(store, nameIn(shop, 2), { ...metadataOf(shop), [META.createdAt]: '2026-11-02T00:00:00Z', [META.verifyFailedAt]: '2026-11-02T00:10:00Z', [META.verifyFailure]: encodeURIComponent('restore: differs') });
    const chosen = await findBackup(store, 'latest', shop);
    expect(chosen.backup.name).toBe(good);
    expect(chosen.why).toContain(`skipped the newer ${bad}: verification failed at 2026-11-02T00:10:00Z (restore: differs)`);
    await store.setMetadata(good, { [META.verifyFailedAt]: '2026-11-03T00:00:00Z' });
    await expect(findBackup(store, 'latest', shop)).rejects.toThrow(/every backup of postgres shop on one:5432 under prefix nightly failed verification/);
  });
});

describe('LocalStore', () => {
  it('never overwrites a backup, its metadata or a manifest', async () => {
    const root = mkdtempSync(join(tmpdir(), 'slipway-store-'));
    const store = new LocalStore(root);
    const name = await put(store, 'a/b.dump', { [META.sha256]: 'first' });
    await store.writeText('a/b.dump.manifest.json', '{"first":true}');
    await expect(put(store, name, { [META.sha256]: 'second' })).rejects.toThrow('a/b.dump already exists; nothing was overwritten');
    await expect(store.writeText('a/b.dump.manifest.json', '{}')).rejects.toThrow(/already exists/);
    // Metadata written by a run that lost the race for the name is the loser's problem, never the winner's.
    writeFileSync(join(root, 'a', 'c.dump.meta.json'), '{"sha256":"other"}');
    await expect(put(store, 'a/c.dump', {})).rejects.toThrow(/already exists/);
    expect(readFileSync(join(root, 'a', 'c.dump.meta.json'), 'utf8')).toBe('{"sha256":"other"}');
    expect(existsSync(join(root, 'a', 'c.dump'))).toBe(false);
    expect((await store.get(name))?.metadata[META.sha256]).toBe('first');
    expect(readFileSync(join(root, 'a', 'b.dump'), 'utf8')).toBe(name);
    expect(await store.readText('a/b.dump.manifest.json')).toBe('{"first":true}');
    expect(readdirSync(join(root, 'a')).sort()).toEqual(['b.dump', 'b.dump.manifest.json', 'b.dump.meta.json', 'c.dump.meta.json']);
  });

  it('refuses a name outside its folder', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'slipway-store-'));
    const store = new LocalStore(join(parent, 'root'));
    for (const name of ['../outside.dump', 'a/../../outside.dump', '..', '']) {
      await expect(put(store, name, {}), name).rejects.toThrow(/is outside local-path/);
      expect(() => store.locate(name)).toThrow(/is outside local-path/);
    }
    expect(readdirSync(parent)).toEqual([]);
    expect(store.locate('/a//b')).toBe(join(parent, 'root', 'a', 'b'));
  });
});
