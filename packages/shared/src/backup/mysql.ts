import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { exec, feedCommand, streamCommand } from '../exec';
import { InputError, checkDatabaseUri } from '../inputs';
import { selector } from './glob';
import type { Manifest, ManifestObject } from './manifest';
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
  const quote = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  writeFileSync(file, `[client]\nuser=${quote(conn.user)}\npassword=${quote(conn.password)}\nhost=${quote(conn.host)}\nport=${conn.port}\nprotocol=tcp\ndefault-character-set=utf8mb4\n`, { mode: 0o600 });
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

/** Runs one query with the client; rows as arrays of tab-separated fields. */
export async function mysqlQuery(uri: string, sql: string, database?: string): Promise<string[][]> {
  const conn = mysqlConnection(uri);
  const { client } = mysqlTools();
  const result = await withOptionFile(conn, (opt) => exec(client, [opt, '--batch', '--skip-column-names', '--raw', ...(database ? [database] : []), '-e', sql], { silent: true, secrets: [conn.password] }));
  return result.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

const ident = (name: string) => `\`${name.replace(/`/g, '``')}\``;

async function baseTables(uri: string, database: string): Promise<string[]> {
  const rows = await mysqlQuery(uri, `SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name`, database);
  return rows.map((r) => r[0] as string);
}

export interface MysqlDump {
  stream: AsyncGenerator<Buffer>;
  manifest: Manifest;
}

/**
 * `mariadb-dump`/`mysqldump` of one database in one consistent transaction (InnoDB), with routines,
 * triggers and events. Row counts come from the dump itself as it streams, so they match what it holds.
 */
export function dumpMysql(uri: string, selection: { include?: string[]; exclude?: string[] }, tool: string): MysqlDump {
  const conn = mysqlConnection(uri);
  if (!conn.database) throw new InputError('uri', uri, 'a URI that names the database, such as `mysql://user@host/shop`', true);
  const manifest: Manifest = { engine: 'mysql', databases: [conn.database], tool, objects: [] };
  async function* generate(): AsyncGenerator<Buffer> {
    const { dump } = mysqlTools();
    manifest.serverVersion = (await mysqlQuery(uri, 'SELECT VERSION()'))[0]?.[0];
    let tables: string[] = [];
    if (selection.include?.length || selection.exclude?.length) {
      const selected = selector(selection.include ?? [], selection.exclude ?? []);
      tables = (await baseTables(uri, conn.database)).filter((t) => selected(`${conn.database}.${t}`, t));
      if (tables.length === 0) throw new Error('there is nothing to back up: no table matched `include` and `exclude`');
    }
    const scanner = new SqlDumpScanner();
    const file = optionFile(conn);
    try {
      const args = [file.arg, '--single-transaction', '--routines', '--triggers', '--events', '--hex-blob', '--skip-add-drop-table', '--default-character-set=utf8mb4', '--', conn.database, ...tables];
      for await (const chunk of streamCommand(dump, args, { secrets: [conn.password, uri] })) {
        scanner.update(chunk);
        yield chunk;
      }
    } finally {
      file.remove();
    }
    if (!scanner.completed) throw new Error(`${dump} ended without its "-- Dump completed" trailer: the dump is incomplete`);
    manifest.objects = [...scanner.rows()].map(([name, count]) => ({ database: conn.database, name, kind: 'table' as const, count }));
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

/**
 * Restores a dump into `database` with the client. Without drop, tables of the backup that already
 * exist stop the restore before anything runs; with drop, the database is dropped and created first.
 */
export async function restoreMysql(source: AsyncIterable<Uint8Array>, targetUri: string, database: string, options: { drop?: boolean; tables?: readonly string[] } = {}): Promise<void> {
  const conn = mysqlConnection(targetUri, 'target-uri');
  const { client } = mysqlTools();
  if (options.drop) {
    await mysqlQuery(targetUri, `DROP DATABASE IF EXISTS ${ident(database)}; CREATE DATABASE ${ident(database)} CHARACTER SET utf8mb4`);
  } else {
    await mysqlQuery(targetUri, `CREATE DATABASE IF NOT EXISTS ${ident(database)} CHARACTER SET utf8mb4`);
    const existing = (await baseTables(targetUri, database)).filter((t) => !options.tables || options.tables.includes(t));
    if (existing.length) throw new InputError('drop', 'false', `true to replace what exists: ${database} already has ${existing.slice(0, 5).join(', ')}${existing.length > 5 ? ', …' : ''}; nothing was changed`);
  }
  await withOptionFile(conn, (opt) => feedCommand(client, [opt, '--binary-mode', '--', database], source, { secrets: [conn.password, targetUri], onStderr: (t) => process.stderr.write(t) }));
}

export async function dropMysqlDatabase(uri: string, database: string): Promise<void> {
  await mysqlQuery(uri, `DROP DATABASE IF EXISTS ${ident(database)}`);
}
