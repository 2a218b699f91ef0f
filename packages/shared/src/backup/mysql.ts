import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import * as core from '@actions/core';
import { exec, feedCommand, streamCommand } from '../exec';
import { InputError, checkDatabaseUri } from '../inputs';
import { redact } from '../secrets/index';
import { selector } from './glob';
import { compareManifest, type Manifest, type ManifestObject } from './manifest';
import { mysqlDumpArgs, parseMysqlVersion, type MysqlVersion } from './mysql-client';
import { SqlDumpScanner } from './sql-dump-scanner';

export interface MysqlConnection {
  user: string;
  password: string;
  host: string;
  port: number;
  database: string;
}

/** Reads a `mysql://` / `mariadb://` URI; the error names the input and masks the URI. */
export function mysqlConnection(uri: string, input = 'uri'): MysqlConnection {
  const parsed = checkDatabaseUri(input, uri, 'mysql');
  const [server] = parsed.hosts;
  return { user: parsed.user, password: parsed.password ?? '', host: server?.host || '127.0.0.1', port: server?.port ?? 3306, database: parsed.database };
}

function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** MariaDB's tools when present (their names since 10.5), else MySQL's. */
export function mysqlTools(): { dump: string; client: string } {
  const dump = ['mariadb-dump', 'mysqldump'].find(onPath);
  const client = ['mariadb', 'mysql'].find(onPath);
  if (!dump || !client) {
    throw new Error('neither mariadb-dump nor mysqldump (with its client) is installed: install `mariadb-client` or `mysql-client` on the runner (apt-get install mariadb-client)');
  }
  return { dump, client };
}

/**
 * Runs fn with a 0600 option file holding the credentials: the password never appears in argv, where
 * other processes could read it. The file must be the tools' first argument.
 */
function optionFile(conn: MysqlConnection): { arg: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-my-'));
  const file = join(dir, 'client.cnf');
  // Option files read \\, \", \n, \r and \t in quoted values: a password holding a newline stays one value.
  const quote = (v: string) => `"${v.replace(/[\\"\n\r\t]/g, (c) => ({ '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c] ?? `\\${c}`)}"`;
  // [mariadb-client] is read by MariaDB's `mariadb` only: its default of echoing a failed statement would print a dump's rows.
  writeFileSync(file, `[client]\nuser=${quote(conn.user)}\npassword=${quote(conn.password)}\nhost=${quote(conn.host)}\nport=${conn.port}\nprotocol=tcp\ndefault-character-set=utf8mb4\n[mariadb-client]\nskip-print-query-on-error\n`, { mode: 0o600 });
  return { arg: `--defaults-extra-file=${file}`, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function withOptionFile<T>(conn: MysqlConnection, fn: (arg: string) => Promise<T>): Promise<T> {
  const file = optionFile(conn);
  try {
    return await fn(file.arg);
  } finally {
    file.remove();
  }
}

/** The client's batch output escapes tabs, newlines, NULs and backslashes in values. */
const unescapeField = (field: string) => field.replace(/\\([0nt\\])/g, (_, c: string) => ({ '0': '\0', n: '\n', t: '\t' })[c] ?? '\\');

/**
 * Runs SQL with the client, given on stdin (no argv limit, and DELIMITER works for routine bodies);
 * rows as arrays of fields, multi-line values (SHOW CREATE …) whole.
 */
export async function mysqlQuery(uri: string, sql: string, database?: string): Promise<string[][]> {
  const conn = mysqlConnection(uri);
  const { client } = mysqlTools();
  const result = await withOptionFile(conn, (opt) => exec(client, [opt, '--batch', '--skip-column-names', '--binary-mode', ...(database ? ['--', database] : [])], { silent: true, secrets: [conn.password], input: sql }));
  return result.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t').map(unescapeField));
}

/** A table a restore creates first in its staging database: what tells a leftover staging database from a user's of a similar name. */
const STAGING_MARK = '_slipway_restore_staging';

const ident = (name: string) => `\`${name.replace(/`/g, '``')}\``;

/**
 * Named locks (GET_LOCK) held by a client kept open on stdin for as long as this process lives: when
 * the process ends, however it ends (a cancelled job's node is killed, its children are not), the
 * client reads end of file and exits, and the server frees the locks. Returns whether each was free.
 */
async function holdLocks(uri: string, names: readonly string[]): Promise<{ held: boolean[]; connection: string; release: () => Promise<void> }> {
  const conn = mysqlConnection(uri);
  const { client } = mysqlTools();
  const file = optionFile(conn);
  const child = spawn(client, [file.arg, '--batch', '--skip-column-names', '--unbuffered'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  child.stdin.on('error', () => {
    // The client exited; its stderr says why.
  });
  const closed = once(child, 'close').catch(() => undefined);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  try {
    // The client is idle while the restore runs: a server's wait_timeout (as low as a minute on some hosted servers) would end its session and free the locks.
    child.stdin.write(`SET SESSION wait_timeout = 31536000;\nSELECT CONNECTION_ID(), ${names.map((n) => `GET_LOCK(${mysqlString(n)}, 0)`).join(', ')};\n`);
    const first = await Promise.race([lines.next(), closed.then(() => undefined)]);
    if (!first || first.done) throw new Error(`${client} could not take the restore's locks: ${redact(stderr.trim(), [conn.password]) || 'it exited'}`);
    const [connection = '', ...held] = first.value.split('\t');
    return {
      connection,
      held: held.map((v) => v === '1'),
      release: async () => {
        child.stdin.end();
        await closed;
      },
    };
  } catch (error) {
    child.kill('SIGTERM');
    throw error;
  } finally {
    // The client read its options when it connected.
    file.remove();
  }
}

/**
 * Takes a staging database's lock (and `extraLocks`), then drops the staging databases of the same
 * database whose lock is free (`<database>_restore_<8 hex>` holding the STAGING_MARK table): what a
 * restore left when its process was killed, which could not drop them itself. Returns the locks (and
 * the id of the session holding them) to release once the staging is dropped.
 */
async function claimMysqlStaging(uri: string, database: string, scratch: string, extraLocks: readonly string[]): Promise<{ held: boolean[]; connection: string; release: () => Promise<void> }> {
  const locks = await holdLocks(uri, [scratch, ...extraLocks]);
  try {
    const prefix = `${database.slice(0, 40)}_restore_`;
    const pattern = { prefix, test: (name: string) => name.startsWith(prefix) && /^[0-9a-f]{8}$/.test(name.slice(prefix.length)) };
    // Only a database holding the mark a restore creates first: a user's own `shop_restore_20240101` is not a leftover.
    const rows = await mysqlQuery(
      uri,
      `SELECT s.SCHEMA_NAME, IS_FREE_LOCK(s.SCHEMA_NAME) FROM information_schema.SCHEMATA s WHERE s.SCHEMA_NAME LIKE ${mysqlString(`${pattern.prefix.replace(/[\\%_]/g, '\\$&')}%`)}
       AND EXISTS (SELECT 1 FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = s.SCHEMA_NAME AND t.TABLE_NAME = ${mysqlString(STAGING_MARK)})`,
    );
    for (const [name = '', free] of rows) {
      if (name === scratch || free !== '1' || !pattern.test(name)) continue;
      await dropMysqlDatabase(uri, name);
      core.info(`Dropped ${name}, a staging database left by an earlier restore of ${database} that was interrupted.`);
    }
  } catch (error) {
    await locks.release();
    throw error;
  }
  return locks;
}

async function baseTables(uri: string, database: string): Promise<string[]> {
  const rows = await mysqlQuery(uri, `SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name`, database);
  return rows.map((r) => r[0] as string);
}

export interface MysqlDump {
  stream: AsyncGenerator<Buffer>;
  manifest: Manifest;
}

function versionOf(what: string, text: string): MysqlVersion {
  const version = parseMysqlVersion(text);
  if (!version) throw new Error(`could not read the version of ${what} from ${JSON.stringify(text.trim().slice(0, 100))}`);
  return version;
}

/**
 * `mariadb-dump`/`mysqldump` of one database in one consistent transaction (InnoDB), with routines,
 * triggers and events, and the flags this tool needs for this server (mysqlDumpArgs). Row counts come
 * from the dump itself as it streams, so they match what it holds.
 */
export function dumpMysql(uri: string, selection: { include?: string[]; exclude?: string[] }, tool: string): MysqlDump {
  const conn = mysqlConnection(uri);
  if (!conn.database) throw new InputError('uri', uri, 'a URI that names the database, such as `mysql://user@host/shop`', true);
  const manifest: Manifest = { engine: 'mysql', databases: [conn.database], tool, objects: [] };
  async function* generate(): AsyncGenerator<Buffer> {
    const { dump } = mysqlTools();
    manifest.serverVersion = (await mysqlQuery(uri, 'SELECT VERSION()'))[0]?.[0];
    const server = versionOf('the server', manifest.serverVersion ?? '');
    const client = versionOf(dump, (await exec(dump, ['--version'], { silent: true })).stdout);
    let tables: string[] = [];
    if (selection.include?.length || selection.exclude?.length) {
      const selected = selector(selection.include ?? [], selection.exclude ?? []);
      tables = (await baseTables(uri, conn.database)).filter((t) => selected(`${conn.database}.${t}`, t));
      if (tables.length === 0) throw new Error('there is nothing to back up: no table matched `include` and `exclude`');
    }
    const scanner = new SqlDumpScanner();
    const file = optionFile(conn);
    try {
      for await (const chunk of streamCommand(dump, mysqlDumpArgs(file.arg, conn.database, tables, client, server), { secrets: [conn.password, uri] })) {
        scanner.update(chunk);
        yield chunk;
      }
    } finally {
      file.remove();
    }
    if (!scanner.completed) throw new Error(`${dump} ended without its "-- Dump completed" trailer: the dump is incomplete`);
    manifest.objects = scanner.objects(conn.database);
  }
  return { stream: generate(), manifest };
}

/** Reads a dump through, checking it ends with the trailer the dump tools write only on success. */
export async function checkMysqlDump(source: AsyncIterable<Uint8Array>): Promise<{ tables: number; rows: number }> {
  const scanner = new SqlDumpScanner();
  for await (const chunk of source) scanner.update(chunk);
  if (!scanner.completed) throw new Error('the SQL dump does not end with "-- Dump completed": it is truncated or damaged');
  const rows = [...scanner.rows().values()];
  return { tables: rows.length, rows: rows.reduce((a, b) => a + b, 0) };
}

/** Exact row counts of the manifest's tables as they are now, in `database`. */
export async function inventoryMysql(uri: string, database: string, objects: readonly ManifestObject[]): Promise<ManifestObject[]> {
  const present = new Set(await baseTables(uri, database));
  const wanted = objects.filter((o) => present.has(o.name));
  if (wanted.length === 0) return [];
  const sql = wanted.map((o) => `SELECT ${mysqlString(o.name)}, COUNT(*) FROM ${ident(o.name)}`).join(' UNION ALL ');
  const rows = await mysqlQuery(uri, sql, database);
  return rows.map(([name, count]) => ({ database, name: name as string, kind: 'table' as const, count: Number(count) }));
}

function mysqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Creates `database` and feeds the dump to the client into it; returns the scanner that read the dump on its way. */
export async function loadMysqlDump(source: AsyncIterable<Uint8Array>, uri: string, database: string, charset = 'CHARACTER SET utf8mb4'): Promise<SqlDumpScanner> {
  const conn = mysqlConnection(uri);
  const { client } = mysqlTools();
  await mysqlQuery(uri, `CREATE DATABASE IF NOT EXISTS ${ident(database)} ${charset}`);
  const scanner = new SqlDumpScanner();
  async function* scanned(): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      scanner.update(chunk);
      yield chunk;
    }
  }
  await withOptionFile(conn, (opt) => feedCommand(client, [opt, '--binary-mode', '--', database], scanned(), { secrets: [conn.password, uri], onStderr: (t) => process.stderr.write(t) }));
  return scanner;
}

type MysqlKind = 'table' | 'view' | 'trigger' | 'function' | 'procedure' | 'event';

interface MysqlObject {
  kind: MysqlKind;
  name: string;
  /** A trigger's table. */
  table: string;
}

/** Tables and views share one namespace; routine, trigger and event names ignore case. */
const namespaceKey = (o: MysqlObject) => (o.kind === 'table' || o.kind === 'view' ? `relation ${o.name}` : `${o.kind} ${o.name.toLowerCase()}`);

/** Everything a database holds that a dump creates, triggers in the order they fire. */
async function mysqlObjects(uri: string, database: string): Promise<MysqlObject[]> {
  const db = mysqlString(database);
  const rows = await mysqlQuery(
    uri,
    `SELECT IF(TABLE_TYPE = 'VIEW', 'view', 'table'), TABLE_NAME, '', 0 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${db}
     UNION ALL SELECT 'trigger', TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_ORDER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ${db}
     UNION ALL SELECT LOWER(ROUTINE_TYPE), ROUTINE_NAME, '', 0 FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ${db}
     UNION ALL SELECT 'event', EVENT_NAME, '', 0 FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ${db}
     ORDER BY 1, 3, 4, 2`,
  );
  return rows.map(([kind, name = '', table = '']) => ({ kind: kind as MysqlKind, name, table }));
}

/** A view, trigger, routine or event as SHOW CREATE gives it, with the session settings it was created under. */
interface Definition {
  object: MysqlObject;
  statement: string;
  settings: string;
}

/**
 * SHOW CREATE of each object, run in the database that holds it so that the statements name their own
 * database's objects unqualified and can be run in another.
 */
async function definitions(uri: string, database: string, objects: readonly MysqlObject[]): Promise<Definition[]> {
  if (objects.length === 0) return [];
  const rows = await mysqlQuery(uri, objects.map((o) => `SHOW CREATE ${o.kind.toUpperCase()} ${ident(o.name)};`).join('\n'), database);
  return objects.map((object, i) => {
    const row = rows[i] ?? [];
    // Columns: VIEW name, statement, client charset, collation; TRIGGER, FUNCTION, PROCEDURE name, sql_mode, statement, …; EVENT name, sql_mode, time_zone, statement, ….
    const [statement, sqlMode, timeZone, charset, collation] =
      object.kind === 'view' ? [row[1], undefined, undefined, row[2], row[3]] : object.kind === 'event' ? [row[3], row[1], row[2], row[4], row[5]] : [row[2], row[1], undefined, row[3], row[4]];
    if (!statement || statement === 'NULL') throw new Error(`SHOW CREATE ${object.kind.toUpperCase()} ${object.name} gave no definition (the restoring user needs to see it: SELECT on mysql.proc, or the object's owner)`);
    const settings = [
      sqlMode === undefined ? '' : `sql_mode = ${mysqlString(sqlMode)}`,
      timeZone === undefined ? '' : `time_zone = ${mysqlString(timeZone)}`,
      `character_set_client = ${mysqlString(charset ?? 'utf8mb4')}`,
      `collation_connection = ${mysqlString(collation ?? 'utf8mb4_general_ci')}`,
    ].filter(Boolean);
    return { object, statement, settings: `SET SESSION ${settings.join(', ')}` };
  });
}

const DELIMITER = '$$slipway$$';

/**
 * A script creating the definitions in the client's database: views first as stand-ins with their
 * columns (views may select from views), then each object under the settings it was made with.
 */
function creationScript(defs: readonly Definition[], viewColumns: ReadonlyMap<string, string[]>): string {
  const lines = ['SET NAMES utf8mb4;'];
  for (const d of defs) {
    if (d.object.kind === 'view') lines.push(`CREATE VIEW ${ident(d.object.name)} AS SELECT ${(viewColumns.get(d.object.name) ?? ['1']).map((c) => `1 AS ${ident(c)}`).join(', ')};`);
  }
  lines.push(`DELIMITER ${DELIMITER}`);
  for (const d of defs) {
    const statement = d.object.kind === 'view' ? d.statement.replace(/^CREATE /, 'CREATE OR REPLACE ') : d.statement;
    lines.push(`${d.settings}${DELIMITER}`, `${statement}${DELIMITER}`, `SET NAMES utf8mb4${DELIMITER}`);
  }
  lines.push('DELIMITER ;', '');
  return lines.join('\n');
}

const listed = (names: readonly string[]) => `${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}`;

export interface MysqlRestoreOptions {
  /** Replace the backup's tables, views, triggers, routines and events in the target; nothing else of it is touched. */
  drop?: boolean;
  /** Row counts the staged tables must have before the swap. */
  manifest?: Manifest;
  /** Runs when the backup is staged and checked, before the swap (the download's checksum): throwing leaves the target as it was. */
  beforeCommit?: () => Promise<void>;
}

/**
 * Restores a dump into `database` through a staging database on the same server, because MySQL cannot
 * roll schema changes back: the dump is loaded there (its own `DROP … IF EXISTS` lines touch only the
 * staging copy), its row counts checked against the manifest, then its tables are moved into the target
 * with one atomic multi-table RENAME TABLE (with drop, the target's tables and views of the same names
 * move aside in the same statement and are dropped afterwards). Any failure before that statement
 * leaves the target exactly as it was. Views, triggers, routines and events, which RENAME cannot move
 * between databases, are then created in the target as SHOW CREATE gives them from the staging copy,
 * where they were just created. Without drop, anything of the backup's that the target has stops the
 * restore before the swap. A restore holds two locks while it runs: one of the target's name (a second
 * restore into it stops at once) and one of its staging database's name, by which a later restore
 * knows a staging database whose process was killed, and drops it.
 */
export async function restoreMysql(source: AsyncIterable<Uint8Array>, targetUri: string, database: string, options: MysqlRestoreOptions = {}): Promise<void> {
  const suffix = randomBytes(4).toString('hex');
  const staging = `${database.slice(0, 40)}_restore_${suffix}`;
  // One restore into a database at a time (a second would swap its tables over the first's, half way through its views and triggers).
  const restoring = `slipway_restore_${createHash('sha256').update(database).digest('hex').slice(0, 40)}`;
  const locks = await claimMysqlStaging(targetUri, database, staging, [restoring]);
  try {
    if (!locks.held[1]) throw new Error(`another restore into ${database} on this server is running (it holds the lock ${restoring}); nothing was changed`);
    // The lock client's session can end while the restore runs (killed, the server restarted): the swap waits for proof that the lock is still this restore's.
    const stillLocked = async () => {
      const [[owner] = []] = await mysqlQuery(targetUri, `SELECT IS_USED_LOCK(${mysqlString(restoring)})`);
      if (owner !== locks.connection) throw new Error(`the restore lost its lock ${restoring} (the session holding it ended), so another restore into ${database} could be running`);
    };
    await restoreStaged(source, targetUri, database, staging, suffix, options, stillLocked);
  } finally {
    await locks.release();
  }
}

async function restoreStaged(source: AsyncIterable<Uint8Array>, targetUri: string, database: string, staging: string, suffix: string, options: MysqlRestoreOptions, stillLocked: () => Promise<void>): Promise<void> {
  const db = mysqlString(database);
  const target = await mysqlObjects(targetUri, database);
  const refuse = (found: readonly string[]) => {
    if (found.length) throw new InputError('drop', 'false', `true to replace what exists: ${database} already has ${listed(found)}; nothing was changed`);
  };
  // The manifest's tables are known before anything is read: a clash there stops the restore at once.
  const manifestTables = new Set(options.manifest?.objects.map((o) => o.name));
  if (!options.drop) refuse(target.filter((o) => (o.kind === 'table' || o.kind === 'view') && manifestTables.has(o.name)).map((o) => `${o.kind} ${o.name}`));

  const [charset] = await mysqlQuery(targetUri, `SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${db}`);
  const characterSet = charset ? `CHARACTER SET ${charset[0]} COLLATE ${charset[1]}` : 'CHARACTER SET utf8mb4';
  let swapped = false;
  try {
    await mysqlQuery(targetUri, `CREATE DATABASE ${ident(staging)} ${characterSet};\nCREATE TABLE ${ident(staging)}.${ident(STAGING_MARK)} (id INT);`);
    const scanner = await loadMysqlDump(source, targetUri, staging, characterSet);
    if (!scanner.completed) throw new Error('the SQL dump does not end with "-- Dump completed": it is truncated or damaged');
    const expected = options.manifest ?? { engine: 'mysql', databases: [database], tool: '', objects: scanner.objects(database) };
    const problems = compareManifest(expected, await inventoryMysql(targetUri, staging, expected.objects), () => staging);
    if (problems.length) throw new Error(`the staged restore differs from the backup's manifest:\n- ${problems.join('\n- ')}`);
    await options.beforeCommit?.();

    const staged = (await mysqlObjects(targetUri, staging)).filter((o) => !(o.kind === 'table' && o.name === STAGING_MARK));
    const replaced = new Set(staged.map(namespaceKey));
    const clashing = target.filter((o) => replaced.has(namespaceKey(o)));
    if (!options.drop) refuse(clashing.map((o) => `${o.kind} ${o.name}`));
    const tables = staged.filter((o) => o.kind === 'table').map((o) => o.name);
    const moved = new Set(clashing.filter((o) => o.kind === 'table' || o.kind === 'view').map((o) => o.name));
    if (options.drop && moved.size) {
      // A foreign key from a table the backup does not replace would follow the old table aside, and dangle once it is dropped.
      const names = [...moved].map(mysqlString).join(', ');
      const dependents = await mysqlQuery(
        targetUri,
        `SELECT CONCAT(CONSTRAINT_SCHEMA, '.', TABLE_NAME, ' (', CONSTRAINT_NAME, ') references ', REFERENCED_TABLE_NAME) FROM information_schema.REFERENTIAL_CONSTRAINTS
         WHERE UNIQUE_CONSTRAINT_SCHEMA = ${db} AND REFERENCED_TABLE_NAME IN (${names}) AND NOT (CONSTRAINT_SCHEMA = ${db} AND TABLE_NAME IN (${names}))`,
      );
      if (dependents.length) throw new Error(`drop: true would replace tables that others reference by foreign key: ${listed(dependents.map((r) => r[0] as string))}; drop those foreign keys first, or restore a backup that holds those tables too`);
    }
    const defs = await definitions(targetUri, staging, staged.filter((o) => o.kind !== 'table'));
    const views = defs.filter((d) => d.object.kind === 'view').map((d) => d.object.name);
    const viewColumns = new Map<string, string[]>();
    if (views.length) {
      const rows = await mysqlQuery(targetUri, `SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ${mysqlString(staging)} AND TABLE_NAME IN (${views.map(mysqlString).join(', ')}) ORDER BY TABLE_NAME, ORDINAL_POSITION`);
      for (const [view = '', column = ''] of rows) viewColumns.set(view, [...(viewColumns.get(view) ?? []), column]);
    }
    // A backup made with `include` may hold foreign keys to tables it does not: they point into the
    // staging database now and would keep doing so after the move; point them at the target's tables.
    if (tables.length) {
      const outside = await mysqlQuery(
        targetUri,
        `SELECT r.TABLE_NAME, r.CONSTRAINT_NAME, r.REFERENCED_TABLE_NAME, r.UPDATE_RULE, r.DELETE_RULE,
           GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR '\\t'), GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR '\\t')
         FROM information_schema.REFERENTIAL_CONSTRAINTS r JOIN information_schema.KEY_COLUMN_USAGE k
           ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA AND k.TABLE_NAME = r.TABLE_NAME AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME
         WHERE r.CONSTRAINT_SCHEMA = ${mysqlString(staging)} AND r.UNIQUE_CONSTRAINT_SCHEMA = ${mysqlString(staging)} AND r.REFERENCED_TABLE_NAME NOT IN (${tables.map(mysqlString).join(', ')})
         GROUP BY 1, 2, 3, 4, 5`,
      );
      const columns = (list = '') => list.split('\t').map(ident).join(', ');
      const rule = (r = '') => (/^(RESTRICT|CASCADE|SET NULL|NO ACTION|SET DEFAULT)$/.test(r) ? r : 'RESTRICT');
      const repoint = outside.map(
        ([table = '', name = '', referenced = '', onUpdate, onDelete, cols, refCols]) =>
          `ALTER TABLE ${ident(table)} DROP FOREIGN KEY ${ident(name)};\nALTER TABLE ${ident(table)} ADD CONSTRAINT ${ident(name)} FOREIGN KEY (${columns(cols)}) REFERENCES ${ident(database)}.${ident(referenced)} (${columns(refCols)}) ON DELETE ${rule(onDelete)} ON UPDATE ${rule(onUpdate)};`,
      );
      if (repoint.length) await mysqlQuery(targetUri, `SET FOREIGN_KEY_CHECKS = 0;\n${repoint.join('\n')}`, staging);
    }
    // RENAME TABLE refuses to move a table with triggers to another database: they are created again after the swap.
    const triggers = staged.filter((o) => o.kind === 'trigger');
    if (triggers.length) await mysqlQuery(targetUri, triggers.map((t) => `DROP TRIGGER ${ident(t.name)};`).join('\n'), staging);

    const aside = [...moved].map((name, i) => [name, `_slipway_old_${suffix}_${i}`] as const);
    const renames = [
      ...aside.map(([name, old]) => `${ident(database)}.${ident(name)} TO ${ident(database)}.${ident(old)}`),
      ...tables.map((t) => `${ident(staging)}.${ident(t)} TO ${ident(database)}.${ident(t)}`),
    ];
    await stillLocked();
    if (!charset) await mysqlQuery(targetUri, `CREATE DATABASE IF NOT EXISTS ${ident(database)} ${characterSet}`);
    try {
      if (renames.length) await mysqlQuery(targetUri, `RENAME TABLE ${renames.join(',\n  ')};`);
    } catch (error) {
      // One statement: it failed as a whole. A database made for it goes again.
      if (!charset) await dropMysqlDatabase(targetUri, database);
      throw error;
    }
    swapped = true;

    // After the swap: what was set aside goes (with its triggers, whose names the backup's may reuse), then the rest is created.
    const movedViews = new Set(clashing.filter((o) => o.kind === 'view').map((o) => o.name));
    const drops = [
      'SET FOREIGN_KEY_CHECKS = 0;',
      ...aside.map(([name, old]) => `DROP ${movedViews.has(name) ? 'VIEW' : 'TABLE'} ${ident(old)};`),
      ...clashing.filter((o) => o.kind !== 'table' && o.kind !== 'view').map((o) => `DROP ${o.kind.toUpperCase()} IF EXISTS ${ident(o.name)};`),
    ];
    try {
      await mysqlQuery(targetUri, `${drops.join('\n')}\n${creationScript(defs, viewColumns)}`, database);
    } catch (error) {
      const now = new Set((await mysqlObjects(targetUri, database)).map(namespaceKey));
      const missing = defs.filter((d) => !now.has(namespaceKey(d.object))).map((d) => `${d.object.kind} ${d.object.name}`);
      throw new Error(`the backup's tables are in ${database}, but creating its views, triggers, routines and events there failed (missing: ${listed(missing)}): ${(error as Error).message}`, { cause: error });
    }
  } catch (error) {
    if (swapped || error instanceof InputError) throw error;
    throw new Error(`${(error as Error).message}\nNothing was changed in ${database}: the restore was staged in ${staging}, dropped again.`, { cause: error });
  } finally {
    await dropMysqlDatabase(targetUri, staging);
  }
}

export async function dropMysqlDatabase(uri: string, database: string): Promise<void> {
  await mysqlQuery(uri, `DROP DATABASE IF EXISTS ${ident(database)}`);
}
