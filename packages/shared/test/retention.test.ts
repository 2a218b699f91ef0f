import { describe, expect, it } from 'vitest';
import { backupBlobName, backupGroupPrefix, safeSegment } from '../src/backup/naming';
import { decideRetention, isoWeek, type BackupEntry } from '../src/backup/retention';

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

describe('backup names', () => {
  it('follow <prefix>/<engine>/<database>/<yyyy>/<mm>/<dd>/<timestamp>-<run-id><ext> in UTC', () => {
    const name = backupBlobName({ prefix: '/prod/', engine: 'postgres', database: 'shop', createdAt: new Date('2026-03-04T05:06:07.890Z'), runId: '12345', extension: '.dump.gz.age' });
    expect(name).toBe('prod/postgres/shop/2026/03/04/20260304T050607Z-12345.dump.gz.age');
    expect(backupGroupPrefix('prod', 'postgres', 'shop')).toBe('prod/postgres/shop/');
    expect(backupGroupPrefix('', 'mongodb', 'a/b c')).toBe('mongodb/a_b_c/');
    expect(safeSegment('..hidden')).toBe('_hidden');
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

  it('computes ISO weeks across year boundaries', () => {
    expect(isoWeek(new Date('2026-01-01T00:00:00Z'))).toBe('2026-W01');
    expect(isoWeek(new Date('2027-01-01T00:00:00Z'))).toBe('2026-W53');
    expect(isoWeek(new Date('2024-12-30T00:00:00Z'))).toBe('2025-W01');
  });
});
