import { createHash } from 'node:crypto';
import { InputError, checkDatabaseUri } from '../inputs';
import { databaseLabel, type Engine, type Selection } from './engines';
import { mongoUriDatabase } from './mongo/mongodb';

/** Every database of the server: MongoDB with no database in `databases` or the URI. */
export const ALL_DATABASES = 'all';
/** The databases a backup holds: names sorted without repeats, or every database. */
export type DatabaseSet = readonly string[] | typeof ALL_DATABASES;

/** What one group of backups shares; retention and `latest` never look past it. */
export interface BackupGroup {
  /** Checked with checkPrefix: no leading or trailing `/`. */
  prefix: string;
  engine: Engine;
  databases: DatabaseSet;
  /** What names and metadata called the databases before 2026-12 (databaseLabel): how such backups are matched. */
  label: string;
  /** `host:port` of the database server; undefined for a restore that names only its target: then any one server. */
  server?: string;
}

/** Parts of a backup's blob name: `<prefix>/<engine>/<databases>/<yyyy>/<mm>/<dd>/<timestamp>-<run-id>-<server>.<ext>`. */
export interface BackupName {
  prefix: string;
  engine: Engine;
  databases: DatabaseSet;
  server: string;
  createdAt: Date;
  runId: string;
  /** e.g. `.archive.gz.age`, `.dump.zst` */
  extension: string;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** A readable path segment, lossy (names before 2026-12 used it for databases); kept for run ids. */
export function safeSegment(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_') || '_';
}

/**
 * Percent-encodes each UTF-8 byte but letters, digits, `-` and `_`: reversible with decodeURIComponent,
 * and never `.`, `..`, `/`, the separator `+` or the `~all` marker, so distinct sets get distinct folders.
 */
function encodeName(name: string): string {
  return encodeURIComponent(name).replace(/[.!~*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The `database_set` metadata of a set, and its folder when short: `shop%20db`, `a+b` for two databases, `~all`. */
export function encodeDatabaseSet(set: DatabaseSet): string {
  return set === ALL_DATABASES ? '~all' : set.map(encodeName).join('+');
}

/** Longest folder segment for a set: file systems allow 255 bytes a name, and the rest of the name needs room too. */
const MAX_SET_FOLDER = 200;

/**
 * The folder of a set: its encoding, or when that is too long for a file name (a non-ASCII MySQL name
 * of 50 characters is 450; several MongoDB databases more) its start, `~` and 16 hex digits of its
 * SHA-256. No encoding holds `~` but `~all`, so the two forms never meet; the whole set is in metadata.
 */
export function databaseSetFolder(set: DatabaseSet): string {
  const encoded = encodeDatabaseSet(set);
  if (encoded.length <= MAX_SET_FOLDER) return encoded;
  const start = encoded.slice(0, MAX_SET_FOLDER - 20).replace(/%[0-9A-F]?$/, '');
  return `${start}~${createHash('sha256').update(encoded).digest('hex').slice(0, 16)}`;
}

/** The databases a step backs up or restores. */
export function databaseSet(engine: Engine, uri: string, selection: Selection): DatabaseSet {
  let names: readonly string[];
  if (engine !== 'mongodb') names = [databaseLabel(engine, uri, selection)];
  else if (selection.databases.length) names = selection.databases;
  else {
    const db = mongoUriDatabase(uri);
    if (!db) return ALL_DATABASES;
    names = [db];
  }
  if (names.some((n) => !n)) throw new InputError('databases', '', 'the database to back up, named here or in the URI');
  return [...new Set(names)].sort();
}

/** Whether a `/`-separated path stays where it is put: no `.`, `..` or empty folder, backslash, control character or leading `/`. */
function staysInPlace(path: string): boolean {
  // eslint-disable-next-line no-control-regex
  return !path.startsWith('/') && !/[\\\u0000-\u001f\u007f]/.test(path) && path.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/** Azure names are at most 1,024 characters; what follows the prefix takes up to about 300 of them. */
const MAX_PREFIX = 700;

/**
 * `prefix` as folders: no `.` or `..` folder (`../other` would be another container, or outside
 * local-path), no empty folder, backslash, control character or leading `/`; each folder at most 255
 * bytes (a file name's limit) and the whole at most 700 characters. A trailing `/` is ignored.
 */
export function checkPrefix(prefix: string): string {
  const folder = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (prefix.startsWith('/') || (folder !== '' && !staysInPlace(folder))) {
    throw new InputError('prefix', prefix, 'folder names separated by single `/`, with no `.` or `..` folder, no backslash and no leading `/`');
  }
  if (folder.length > MAX_PREFIX || folder.split('/').some((s) => Buffer.byteLength(s) > 255)) {
    throw new InputError('prefix', prefix, `at most ${MAX_PREFIX} characters, each folder name at most 255 bytes (UTF-8)`);
  }
  return folder;
}

/** A backup named by input 'backup' is a name in the container or local-path: `..` climbs out of it (into another container). */
export function checkBackupName(name: string): string {
  if (!staysInPlace(name)) throw new InputError('backup', name, '`latest` or a backup name as listed, with no `.` or `..` folder, empty folder, backslash or leading `/`');
  return name;
}

/**
 * The server a URI names, without credentials: parseDatabaseUri's `host:port` list (lower case, default
 * port, sorted; `mongodb+srv`: the SRV name). It tells apart two servers' databases of one name.
 */
export function serverOf(engine: Engine, uri: string): string {
  // Percent-encoded outside printable ASCII (a socket path may hold anything): metadata travels in HTTP headers.
  return checkDatabaseUri('uri', uri, engine).serverIdentity.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

/** The group of a step's backups: its prefix, engine, databases and the server the URI names. */
export function backupGroup(engine: Engine, uri: string, selection: Selection, prefix: string): BackupGroup & { server: string } {
  return { prefix: checkPrefix(prefix), engine, databases: databaseSet(engine, uri, selection), label: databaseLabel(engine, uri, selection), server: serverOf(engine, uri) };
}

const join = (...parts: string[]) => parts.filter(Boolean).join('/');

/**
 * UTC, so that names sort by time whatever the runner's time zone. The server's short hash keeps two
 * servers' backups of one database apart when a matrix starts them in the same second of one run.
 */
export function backupBlobName(n: BackupName): string {
  const d = n.createdAt;
  const date = `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}`;
  const stamp = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
  const server = createHash('sha256').update(n.server).digest('hex').slice(0, 8);
  return join(checkPrefix(n.prefix), n.engine, databaseSetFolder(n.databases), date, `${stamp}-${safeSegment(n.runId || 'local')}-${server}${n.extension}`);
}

/** The folder a group's backups are written to. */
export function groupFolder(group: BackupGroup): string {
  return `${join(group.prefix, group.engine, databaseSetFolder(group.databases))}/`;
}

/** The folder backups made before 2026-12 were written to: the lossy safeSegment of the label. */
export function legacyGroupFolder(group: BackupGroup): string {
  return `${join(group.prefix, group.engine, safeSegment(group.label))}/`;
}

/** Whether a name is a backup directly in folder (`<yyyy>/<mm>/<dd>/<file>` below it), not in a deeper prefix. */
export function isBackupIn(folder: string, name: string): boolean {
  return name.startsWith(folder) && /^\d{4}\/\d{2}\/\d{2}\/[^/]+$/.test(name.slice(folder.length));
}
