/** What retention needs to know of one backup of a group (same prefix, engine, databases and server). */
export interface BackupEntry {
  name: string;
  createdAt: Date;
  verified: boolean;
  /** Its verification failed: it never fills a rule's place. */
  failed?: boolean;
}

export interface RetentionPolicy {
  /** Keep every backup younger than this many days. */
  keepDays?: number;
  /** Keep the newest N backups. */
  keepLast?: number;
  /** GFS: keep the newest backup of each of the last N days / ISO weeks / months that have backups. */
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

export interface RetentionDecision {
  keep: { entry: BackupEntry; reasons: string[] }[];
  delete: BackupEntry[];
}

export function hasRetention(policy: RetentionPolicy): boolean {
  return Object.values(policy).some((v) => v !== undefined && v > 0);
}

/** ISO 8601 week, `2026-W47`: weeks start on Monday and belong to the year of their Thursday. */
export function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** Clocks of runners differ by seconds, not by more than this: a later `created_at` is not to be believed. */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

/** Dated after `now` (beyond clock skew): another clock was wrong, or the metadata was written by hand. */
export const isFutureDated = (createdAt: Date, now: Date): boolean => createdAt.getTime() > now.getTime() + FUTURE_TOLERANCE_MS;

const BUCKETS: [keyof RetentionPolicy, string, (d: Date) => string][] = [
  ['keepDaily', 'daily', (d) => d.toISOString().slice(0, 10)],
  ['keepWeekly', 'weekly', isoWeek],
  ['keepMonthly', 'monthly', (d) => d.toISOString().slice(0, 7)],
];

/**
 * Decides which backups of one group to keep. A backup is kept when any rule keeps it; the newest
 * verified backup is always kept, whatever the rules say, so retention can never leave a group without
 * a backup known to restore, and so are the `pinned` ones (the backup this run made, whatever its
 * date says of the clocks). Rules count only backups whose verification did not fail; a failed one is
 * kept while it is newer than the oldest backup a rule keeps (to be looked into), and deleted after.
 * A backup dated in the future counts for no rule either (it would hold a place of keep-last and of its
 * day, week and month for ever) and is kept. With no rule at all, everything is kept.
 */
export function decideRetention(entries: readonly BackupEntry[], policy: RetentionPolicy, now = new Date(), pinned: readonly string[] = []): RetentionDecision {
  const newestFirst = [...entries].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.name.localeCompare(a.name));
  const reasons = new Map<BackupEntry, string[]>(newestFirst.map((e) => [e, []]));
  const keep = (entry: BackupEntry, reason: string) => reasons.get(entry)?.push(reason);
  const future = (e: BackupEntry) => isFutureDated(e.createdAt, now);
  const counted = newestFirst.filter((e) => !e.failed && !future(e));

  if (!hasRetention(policy)) newestFirst.forEach((e) => keep(e, 'no retention rule'));
  if (policy.keepDays) {
    const cutoff = now.getTime() - policy.keepDays * 86_400_000;
    counted.filter((e) => e.createdAt.getTime() >= cutoff).forEach((e) => keep(e, `younger than ${policy.keepDays} days`));
  }
  if (policy.keepLast) counted.slice(0, policy.keepLast).forEach((e, i) => keep(e, `last ${i + 1} of ${policy.keepLast}`));
  for (const [rule, label, bucketOf] of BUCKETS) {
    const count = policy[rule];
    if (!count) continue;
    const seen = new Set<string>();
    for (const entry of counted) {
      const bucket = bucketOf(entry.createdAt);
      if (seen.has(bucket)) continue;
      if (seen.size >= count) break;
      seen.add(bucket);
      keep(entry, `${label} ${bucket}`);
    }
  }
  const newestVerified = counted.find((e) => e.verified);
  if (newestVerified) keep(newestVerified, 'newest verified backup');
  const oldestKept = counted.findLast((e) => reasons.get(e)?.length);
  for (const entry of newestFirst) {
    if (pinned.includes(entry.name)) keep(entry, 'made by this run');
    else if (future(entry) && hasRetention(policy)) keep(entry, `dated in the future (${entry.createdAt.toISOString()}; not counted)`);
    else if (entry.failed && hasRetention(policy) && (!oldestKept || entry.createdAt >= oldestKept.createdAt)) keep(entry, 'failed verification (not counted; kept while newer than the oldest backup kept)');
  }

  return {
    keep: newestFirst.filter((e) => reasons.get(e)?.length).map((entry) => ({ entry, reasons: reasons.get(entry) ?? [] })),
    delete: newestFirst.filter((e) => !reasons.get(e)?.length),
  };
}
