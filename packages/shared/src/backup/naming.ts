/** Parts of a backup's blob name: `<prefix>/<engine>/<database>/<yyyy>/<mm>/<dd>/<timestamp>-<run-id><ext>`. */
export interface BackupName {
  prefix: string;
  engine: string;
  database: string;
  createdAt: Date;
  runId: string;
  /** e.g. `.archive.gz.age`, `.dump.zst` */
  extension: string;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** A path segment that is safe in a blob name and still readable (database names may hold anything). */
export function safeSegment(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_') || '_';
}

/** UTC, so that names sort by time whatever the runner's time zone. */
export function backupBlobName(n: BackupName): string {
  const d = n.createdAt;
  const date = `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}`;
  const stamp = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  const prefix = n.prefix.replace(/^\/+|\/+$/g, '');
  const parts = [prefix, safeSegment(n.engine), safeSegment(n.database), date, `${stamp}-${safeSegment(n.runId || 'local')}${n.extension}`];
  return parts.filter(Boolean).join('/');
}

/** The folder all backups of one engine and database live under: retention never looks outside it. */
export function backupGroupPrefix(prefix: string, engine: string, database: string): string {
  return `${[prefix.replace(/^\/+|\/+$/g, ''), safeSegment(engine), safeSegment(database)].filter(Boolean).join('/')}/`;
}
