import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { exec, feedCommand, streamCommand } from '../exec';
import { InputError, checkDatabaseUri } from '../inputs';
import { formatDatabaseUri, parseDatabaseUri, redact } from '../secrets/index';
import { selector } from './glob';
import type { Manifest, ManifestObject } from './manifest';

export interface PgConnection {
  /** The URI without its password, for `--dbname` (libpq takes the other parameters from it). */
  dbname: string;
  database: string;
  /** Goes to pg_dump through PGPASSWORD, never argv, where other users of the machine could read it. */
  password: string;
}

/** Reads a `postgres://` / `postgresql://` URI; the error names the input and masks the URI. */
export function pgConnection(uri: string, input = 'uri'): PgConnection {
  const parsed = checkDatabaseUri(input, uri, 'postgres');
  if (!parsed.database) throw new InputError(input, uri, 'a URI that names the database, such as `postgres://user@host/shop`', true);
  return { dbname: formatDatabaseUri(parsed, { password: false }), database: parsed.database, password: parsed.password ?? '' };
}

const SEP = '\u001f';
const END = '__slipway_end__';

/** The password goes through the environment, never argv. */
function pgEnv(conn: PgConnection): NodeJS.ProcessEnv {
  return { ...process.env, PGPASSWORD: conn.password, PGCONNECT_TIMEOUT: process.env.PGCONNECT_TIMEOUT ?? '15' };
}

/**
 * A psql session held open over stdin, for a transaction that must outlive one command: the backup
 * exports its snapshot to pg_dump (`--snapshot`) and counts rows in that same snapshot, so the
 * manifest's counts are exactly what the dump holds, even while the database is being written to.
 */
class PsqlSession {
  private readonly child;
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;
  private stderr = '';
  private exited = false;

  constructor(private readonly conn: PgConnection) {
    this.child = spawn('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-F', SEP, '--no-password', `--dbname=${conn.dbname}`], { env: pgEnv(conn), stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.waiter?.();
    });
    this.child.stderr.setEncoding('utf8').on('data', (t: string) => (this.stderr += t));
    this.child.stdin.on('error', () => {
      // psql exited (it reports why on stderr); query() turns that into an error.
    });
    this.child.once('close', () => {
      this.exited = true;
      this.waiter?.();
    });
    this.child.once('error', () => {
      this.exited = true;
      this.waiter?.();
    });
  }

  /** Runs SQL (psql meta-commands allowed) and returns its output rows. */
  async query(sql: string): Promise<string[][]> {
    this.child.stdin.write(`${sql}\n\\echo ${END}\n`);
    const out: string[][] = [];
    for (;;) {
      const line = this.lines.shift();
      if (line === END) return out;
      if (line !== undefined) {
        if (line !== '') out.push(line.split(SEP));
        continue;
      }
      if (this.exited) throw new Error(`psql failed: ${redact(this.stderr.trim(), [this.conn.password])}`);
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const closed = new Promise((resolve) => this.child.once('close', resolve));
    this.child.stdin.end('COMMIT;\n\\q\n');
    await closed;
  }
}

const TABLES_SQL = `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
  ORDER BY 1, 2`;

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
const quoteLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;

async function countRows(session: PsqlSession, tables: readonly [string, string][], database: string): Promise<ManifestObject[]> {
  if (tables.length === 0) return [];
  const sql = tables.map(([schema, table]) => `SELECT ${quoteLiteral(`${schema}.${table}`)}, count(*) FROM ${quoteIdent(schema)}.${quoteIdent(table)}`).join(' UNION ALL ');
  const rows = await session.query(`${sql};`);
  return rows.map(([name, count]) => ({ database, name: name as string, kind: 'table' as const, count: Number(count) }));
}

/** pg_dump refuses a newer server; say what to install instead of its terse message. */
function explainVersionMismatch(error: unknown): never {
  const text = String((error as Error).message ?? error);
  const m = /server version: ([\d.]+); pg_dump version: ([\d.]+)/.exec(text);
  if (m) throw new Error(`pg_dump ${m[2]} is older than the server (${m[1]}) and cannot dump it: install postgresql-client-${(m[1] as string).split('.')[0]} on the runner`, { cause: error });
  throw error;
}

export interface PgDump {
  stream: AsyncGenerator<Buffer>;
  manifest: Manifest;
}

/**
 * `pg_dump --format=custom` of one database, streamed, in a snapshot shared with a psql session that
 * counts every table's rows for the manifest. Fails (as the iteration's error) when pg_dump does.
 */
export function dumpPostgres(uri: string, options: { include?: string[]; exclude?: string[]; tool?: string; onStderr?: (text: string) => void } = {}): PgDump {
  const conn = pgConnection(uri);
  const manifest: Manifest = { engine: 'postgres', databases: [conn.database], tool: options.tool ?? 'pg_dump', objects: [] };
  async function* generate(): AsyncGenerator<Buffer> {
    const session = new PsqlSession(conn);
    try {
      await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;');
      const [[snapshot] = []] = await session.query('SELECT pg_export_snapshot();');
      manifest.serverVersion = (await session.query('SHOW server_version;'))[0]?.[0];
      const all = (await session.query(`${TABLES_SQL};`)).map(([schema, table]) => [schema, table] as [string, string]);
      const filtered = Boolean(options.include?.length || options.exclude?.length);
      const selected = selector(options.include ?? [], options.exclude ?? []);
      const tables = all.filter(([schema, table]) => selected(`${schema}.${table}`, table));
      if (filtered && tables.length === 0) throw new Error('there is nothing to back up: no table matched `include` and `exclude`');
      // Uncompressed (-Z0): the pipeline compresses once with the chosen codec; pg_dump's own zlib would
      // double the CPU cost and leave nothing for gzip/zstd to gain.
      const args = ['--format=custom', '--compress=0', '--no-password', `--snapshot=${snapshot}`, `--dbname=${conn.dbname}`];
      if (filtered) args.push(...tables.map(([schema, table]) => `--table=${quoteIdent(schema)}.${quoteIdent(table)}`));
      const dump = streamCommand('pg_dump', args, { env: pgEnv(conn), secrets: [conn.password, uri], onStderr: options.onStderr });
      let first = true;
      try {
        for await (const chunk of dump) {
          // pg_dump has imported the snapshot once it writes; count in it while the dump streams.
          if (first) {
            first = false;
            manifest.objects = await countRows(session, tables, conn.database);
          }
          yield chunk;
        }
      } catch (error) {
        explainVersionMismatch(error);
      }
    } finally {
      await session.close();
    }
  }
  return { stream: generate(), manifest };
}

/**
 * Reads a custom-format dump through with pg_restore into /dev/null: unlike `--list`, which stops after
 * the table of contents, this decompresses every data block, so damage anywhere is found.
 */
export async function checkPgDump(source: AsyncIterable<Uint8Array>): Promise<void> {
  await feedCommand('pg_restore', ['--file=/dev/null'], source, { onStderr: () => {} });
}

/** Exact row counts of the given tables as they are now. */
export async function inventoryPostgres(uri: string, objects: readonly ManifestObject[], database: string): Promise<ManifestObject[]> {
  const conn = pgConnection(uri, 'verify-uri');
  const session = new PsqlSession(conn);
  try {
    const present = new Set((await session.query(`${TABLES_SQL};`)).map(([schema, table]) => `${schema}.${table}`));
    const tables = objects.filter((o) => present.has(o.name)).map((o) => {
      const dot = o.name.indexOf('.');
      return [o.name.slice(0, dot), o.name.slice(dot + 1)] as [string, string];
    });
    return await countRows(session, tables, database);
  } finally {
    await session.close();
  }
}

/** Runs statements on the server's maintenance connection (CREATE/DROP DATABASE cannot run in a transaction). */
async function adminSql(uri: string, sql: string, input: string): Promise<void> {
  const conn = pgConnection(uri, input);
  await exec('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--no-password', `--dbname=${conn.dbname}`, '-c', sql], { env: pgEnv(conn), silent: true, secrets: [conn.password] });
}

/** The same connection string with another database in its path (PostgreSQL and MySQL alike). */
export function uriWithDatabase(uri: string, database: string): string {
  return formatDatabaseUri(parseDatabaseUri(uri), { password: true, database });
}

export async function createPgDatabase(uri: string, database: string): Promise<void> {
  await adminSql(uri, `CREATE DATABASE ${quoteIdent(database)}`, 'verify-uri');
}

export async function dropPgDatabase(uri: string, database: string): Promise<void> {
  await adminSql(uri, `DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`, 'verify-uri');
}

/**
 * Restores a custom-format dump with pg_restore. Without drop, tables of the backup that already exist
 * in the target stop the restore before anything runs; with drop, they are dropped first (`--clean`).
 */
export async function restorePostgres(source: AsyncIterable<Uint8Array>, targetUri: string, options: { drop?: boolean; tables?: readonly string[] } = {}): Promise<void> {
  const conn = pgConnection(targetUri, 'target-uri');
  if (!options.drop && options.tables?.length) {
    const session = new PsqlSession(conn);
    let existing: string[];
    try {
      const wanted = new Set(options.tables);
      existing = (await session.query(`${TABLES_SQL};`)).map(([schema, table]) => `${schema}.${table}`).filter((t) => wanted.has(t));
    } finally {
      await session.close();
    }
    if (existing.length) throw new InputError('drop', 'false', `true to replace what exists: ${conn.database} already has ${existing.slice(0, 5).join(', ')}${existing.length > 5 ? ', …' : ''}; nothing was changed`);
  }
  const args = ['--no-password', '--exit-on-error', '--no-owner', `--dbname=${conn.dbname}`, ...(options.drop ? ['--clean', '--if-exists'] : [])];
  await feedCommand('pg_restore', args, source, { env: pgEnv(conn), secrets: [conn.password, targetUri], onStderr: (t) => process.stderr.write(t) });
}
