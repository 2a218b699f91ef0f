import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ExecError, exec, feedCommand, streamCommand, writeToStdin } from '../exec';
import { InputError, checkDatabaseUri } from '../inputs';
import { formatDatabaseUri, parseDatabaseUri, redact } from '../secrets/index';
import { selector } from './glob';
import { compareManifest, type Manifest, type ManifestObject } from './manifest';
import { findPgClients, isPlainPgVersion, parsePgServerVersion, pgArchiveTooNew, pgProgram, pickPgClient, type PgClient, type PgClientSearch, type PgVersion } from './postgres-client';

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
  private readonly closed: Promise<void>;

  constructor(
    private readonly conn: PgConnection,
    client: PgClient,
  ) {
    this.child = spawn(pgProgram(client, 'psql'), ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-F', SEP, '--no-password', `--dbname=${conn.dbname}`], { env: pgEnv(conn), stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.waiter?.();
    });
    this.child.stderr.setEncoding('utf8').on('data', (t: string) => (this.stderr += t));
    this.child.stdin.on('error', () => {
      // psql exited (it reports why on stderr); query() turns that into an error.
    });
    this.closed = new Promise((resolve) => {
      this.child.once('close', () => {
        this.exited = true;
        this.waiter?.();
        resolve();
      });
      this.child.once('error', () => {
        this.exited = true;
        this.waiter?.();
        resolve();
      });
    });
  }

  /** Writes a stream (a pg_restore script) to psql's input, paced by psql; stops when psql exits. */
  async feed(source: AsyncIterable<Uint8Array>): Promise<void> {
    for await (const chunk of source) {
      if (this.exited) return;
      if (!this.child.stdin.write(chunk)) await Promise.race([once(this.child.stdin, 'drain'), this.closed]);
    }
  }

  /** What psql reported on stderr so far (errors of the statements it ran), redacted. */
  errors(): string {
    return redact(this.stderr.trim(), [this.conn.password]);
  }

  /** Ends the session without COMMIT: the server rolls back whatever the session's transaction did. */
  async abort(): Promise<void> {
    if (!this.exited) this.child.kill('SIGTERM');
    await this.closed;
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
    this.child.stdin.end('COMMIT;\n\\q\n');
    await this.closed;
  }
}

/** The server's version, asked with the client's psql (any psql reads it from any server); `input` names the URI in its errors. */
export async function pgServerVersion(uri: string, client: PgClient, input = 'uri'): Promise<PgVersion> {
  const conn = pgConnection(uri, input);
  const sql = "SELECT current_setting('server_version_num') || ' ' || current_setting('server_version')";
  let out: string;
  try {
    out = (await exec(pgProgram(client, 'psql'), ['-X', '-A', '-t', '-q', '--no-password', `--dbname=${conn.dbname}`, '-c', sql], { env: pgEnv(conn), silent: true, secrets: [conn.password, uri] })).stdout.trim();
  } catch (error) {
    const stderr = error instanceof ExecError ? error.result.stderr.trim() : (error as Error).message;
    throw new Error(`could not ask the server of ${input} for its version, so nothing was dumped, restored or marked as failed: psql failed: ${redact(stderr, [conn.password])}`, { cause: error });
  }
  const [num = '', version = ''] = out.split(' ');
  const parsed = parsePgServerVersion(num, version);
  if (!parsed) throw new Error(`the server answered ${JSON.stringify(out.slice(0, 100))} for its version, which is no PostgreSQL version`);
  return parsed;
}

/** A server the client works with, and the input its URI came from (for errors about the URI). */
export interface PgServer {
  uri: string;
  input: string;
}

/**
 * The client that backs up, verifies and restores: the given one, else the newest on the runner
 * (`search`), and in either case not older than any of the servers it works with, checked before
 * anything is done (PgClientTooOld says what to install).
 */
export async function choosePgClient(servers: readonly PgServer[], options: { client?: PgClient; search?: PgClientSearch } = {}): Promise<PgClient> {
  const clients = options.client ? [options.client] : findPgClients(options.search);
  const probe = pickPgClient(clients, []);
  const versions = await Promise.all(servers.map(async ({ uri, input }) => ({ ...(await pgServerVersion(uri, probe, input)), address: parseDatabaseUri(uri).serverIdentity })));
  return pickPgClient(clients, versions);
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

export interface PgDump {
  stream: AsyncGenerator<Buffer>;
  manifest: Manifest;
  /** The version of the pg_dump that writes the dump, once the stream has started: a client older than it cannot read the backup. */
  pgDumpVersion?: string;
}

/**
 * `pg_dump --format=custom` of one database, streamed, in a snapshot shared with a psql session that
 * counts every table's rows for the manifest. Fails (as the iteration's error) when pg_dump does.
 */
export function dumpPostgres(uri: string, options: { include?: string[]; exclude?: string[]; tool?: string; onStderr?: (text: string) => void; client?: PgClient } = {}): PgDump {
  const conn = pgConnection(uri);
  const manifest: Manifest = { engine: 'postgres', databases: [conn.database], tool: options.tool ?? 'pg_dump', objects: [] };
  const dumped: PgDump = { stream: generate(), manifest };
  async function* generate(): AsyncGenerator<Buffer> {
    const client = options.client ?? (await choosePgClient([{ uri, input: 'uri' }]));
    // Recorded in the backup's metadata, which holds plain ASCII only; a client of another form records nothing.
    if (isPlainPgVersion(client.version)) dumped.pgDumpVersion = client.version;
    const session = new PsqlSession(conn, client);
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
      const dump = streamCommand(pgProgram(client, 'pg_dump'), args, { env: pgEnv(conn), secrets: [conn.password, uri], onStderr: options.onStderr });
      let first = true;
      for await (const chunk of dump) {
        // pg_dump has imported the snapshot once it writes; count in it while the dump streams.
        if (first) {
          first = false;
          manifest.objects = await countRows(session, tables, conn.database);
        }
        yield chunk;
      }
    } finally {
      await session.close();
    }
  }
  return dumped;
}

/**
 * Reads a custom-format dump through with pg_restore into /dev/null: unlike `--list`, which stops after
 * the table of contents, this decompresses every data block, so damage anywhere is found.
 */
export async function checkPgDump(source: AsyncIterable<Uint8Array>, client: PgClient = pickPgClient(findPgClients(), [])): Promise<void> {
  await feedCommand(pgProgram(client, 'pg_restore'), ['--file=/dev/null'], source, { onStderr: () => {} }).catch((error: unknown) => {
    throw (error instanceof ExecError && pgArchiveTooNew(client, error.result.stderr)) || error;
  });
}

/** Exact row counts of those of the given tables that exist, in the session's database as it sees it now. */
async function inventory(session: PsqlSession, objects: readonly ManifestObject[], database: string): Promise<ManifestObject[]> {
  const present = new Set((await session.query(`${TABLES_SQL};`)).map(([schema, table]) => `${schema}.${table}`));
  const tables = objects.filter((o) => present.has(o.name)).map((o) => {
    const dot = o.name.indexOf('.');
    return [o.name.slice(0, dot), o.name.slice(dot + 1)] as [string, string];
  });
  return countRows(session, tables, database);
}

/** Exact row counts of the given tables as they are now. */
export async function inventoryPostgres(uri: string, objects: readonly ManifestObject[], database: string, client?: PgClient): Promise<ManifestObject[]> {
  const session = new PsqlSession(pgConnection(uri, 'verify-uri'), client ?? (await choosePgClient([{ uri, input: 'verify-uri' }])));
  try {
    return await inventory(session, objects, database);
  } finally {
    await session.close();
  }
}

/** Runs statements on the server's maintenance connection (CREATE/DROP DATABASE cannot run in a transaction). */
async function adminSql(uri: string, sql: string, input: string, client?: PgClient): Promise<void> {
  const conn = pgConnection(uri, input);
  await exec(pgProgram(client ?? (await choosePgClient([{ uri, input }])), 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--no-password', `--dbname=${conn.dbname}`, '-c', sql], { env: pgEnv(conn), silent: true, secrets: [conn.password] });
}

/** The same connection string with another database in its path (PostgreSQL and MySQL alike). */
export function uriWithDatabase(uri: string, database: string): string {
  return formatDatabaseUri(parseDatabaseUri(uri), { password: true, database });
}

export async function createPgDatabase(uri: string, database: string, client?: PgClient): Promise<void> {
  await adminSql(uri, `CREATE DATABASE ${quoteIdent(database)}`, 'verify-uri', client);
}

export async function dropPgDatabase(uri: string, database: string, client?: PgClient): Promise<void> {
  await adminSql(uri, `DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`, 'verify-uri', client);
}

/**
 * The dump's table of contents as `pg_restore --list` prints it, read from the head of the stream
 * (pg_restore stops reading after the TOC), and the stream whole again for the restore.
 */
async function readToc(source: AsyncIterable<Uint8Array>, client: PgClient): Promise<{ toc: string; stream: AsyncIterable<Uint8Array> }> {
  const iterator = source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  const child = spawn(pgProgram(client, 'pg_restore'), ['--list'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let toc = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => (toc += t));
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  child.stdin.on('error', () => {
    // pg_restore stops reading once it has the TOC.
  });
  let exited = false;
  const closed = new Promise<number | null>((resolve, reject) => {
    child.once('exit', () => (exited = true));
    child.once('error', (error) => {
      exited = true;
      reject(error);
    });
    child.once('close', resolve);
  });
  let ended = false;
  try {
    while (!exited) {
      const next = await iterator.next();
      if (next.done) {
        ended = true;
        child.stdin.end();
        break;
      }
      head.push(next.value);
      if (!child.stdin.write(next.value)) await Promise.race([once(child.stdin, 'drain').catch(() => undefined), closed]);
    }
    if ((await closed) !== 0) throw pgArchiveTooNew(client, stderr) ?? new Error(`pg_restore cannot read the backup's table of contents: ${stderr.trim()}`);
  } catch (error) {
    child.kill('SIGTERM');
    throw error;
  }
  async function* whole(): AsyncGenerator<Uint8Array> {
    yield* head;
    if (ended) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { toc, stream: whole() };
}

/** TOC descriptions the restore looks at, by catalog (longest first, as a prefix of the entry). */
const TOC_DESCS: Record<string, readonly string[]> = {
  '1259': ['MATERIALIZED VIEW', 'FOREIGN TABLE', 'SEQUENCE', 'TABLE', 'VIEW', 'INDEX'], // pg_class
  '1247': ['DOMAIN', 'TYPE'], // pg_type
  '1255': ['AGGREGATE', 'FUNCTION', 'PROCEDURE'], // pg_proc
  '2606': ['CONSTRAINT'], // pg_constraint: primary keys, unique and exclusion constraints, each with an index of its name
  '2615': ['SCHEMA'], // pg_namespace
  '3079': ['EXTENSION'], // pg_extension
  '0': ['COMMENT', 'ACL'],
};

interface TocEntry {
  line: string;
  catalog: string;
  desc: string;
  /** `<schema> <name>` (functions `<schema> <name>(<argument types>)`, constraints `<schema> <table> <name>`). */
  name: string;
}

/** `<id>; <catalog oid> <oid> <desc> <schema> <name> <owner>`, names unquoted: the owner is cut at the last space. */
function parseToc(toc: string): TocEntry[] {
  const entries: TocEntry[] = [];
  for (const line of toc.split('\n')) {
    const m = /^\d+; (\d+) \d+ (.*) \S*$/.exec(line);
    if (!m) continue;
    const [, catalog = '', body = ''] = m;
    const desc = TOC_DESCS[catalog]?.find((d) => body.startsWith(`${d} `)) ?? '';
    entries.push({ line, catalog, desc, name: desc ? body.slice(desc.length + 1) : body });
  }
  return entries;
}

const USER_SCHEMA = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'`;

/**
 * What the target has, keyed as the TOC names it. Relations and types share one namespace (a table
 * has a row type of its name); argument types are formatted with an empty search_path, as pg_dump does.
 */
const TARGET_OBJECTS_SQL = `SET search_path = '';
SELECT 'relation', n.nspname || ' ' || c.relname, CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' WHEN 'c' THEN 'type' ELSE 'table' END
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMA}
UNION ALL SELECT 'type', n.nspname || ' ' || t.typname, CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.typrelid = 0 AND t.typcategory <> 'A' AND ${USER_SCHEMA}
UNION ALL SELECT 'function', n.nspname || ' ' || p.proname || '(' || pg_catalog.oidvectortypes(p.proargtypes) || ')', CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE ${USER_SCHEMA}
UNION ALL SELECT 'schema', '- ' || n.nspname, 'schema' FROM pg_catalog.pg_namespace n
UNION ALL SELECT 'extension', '- ' || e.extname, 'extension' FROM pg_catalog.pg_extension e;`;

type TargetObjects = Record<'relation' | 'type' | 'function' | 'schema' | 'extension', Map<string, string>>;

async function targetObjects(session: PsqlSession): Promise<TargetObjects> {
  const found: TargetObjects = { relation: new Map(), type: new Map(), function: new Map(), schema: new Map(), extension: new Map() };
  for (const [group, key = '', kind = ''] of await session.query(TARGET_OBJECTS_SQL)) found[group as keyof TargetObjects]?.set(key, kind);
  return found;
}

/** The relations, types and functions the dump would create that the target has already, as `view sales.orders`. */
function clashes(entries: readonly TocEntry[], target: TargetObjects): string[] {
  const found = new Set<string>();
  const add = (key: string, kind: string | undefined) => kind && found.add(`${kind} ${key.replace(' ', '.')}`);
  for (const e of entries) {
    if (!e.desc) continue;
    if (e.catalog === '1259' || e.catalog === '1247') add(e.name, target.relation.get(e.name) ?? target.type.get(e.name));
    else if (e.catalog === '1255') add(e.name, target.function.get(e.name));
    else if (e.desc === 'CONSTRAINT') {
      // `<schema> <table> <constraint>`, and table names may hold spaces: try each split.
      const schema = e.name.slice(0, e.name.indexOf(' '));
      for (let i = e.name.indexOf(' ', schema.length + 1); i > 0; i = e.name.indexOf(' ', i + 1)) {
        const key = `${schema} ${e.name.slice(i + 1)}`;
        if (target.relation.has(key)) add(key, target.relation.get(key));
      }
    }
  }
  return [...found];
}

/**
 * A schema or extension the target has already is kept as it is: not created (a schema would fail),
 * not dropped with `drop` (the target's own objects may use it: a column default calling an extension's
 * function makes DROP EXTENSION fail), its comment and grants left alone.
 */
function keepsShared(e: TocEntry, target: TargetObjects): boolean {
  if (e.desc === 'SCHEMA') return target.schema.has(e.name);
  if (e.desc === 'EXTENSION') return target.extension.has(e.name);
  if (e.desc !== 'COMMENT' && e.desc !== 'ACL') return false;
  const of = /^- (SCHEMA|EXTENSION) (.*)$/s.exec(e.name);
  return of !== null && target[of[1] === 'SCHEMA' ? 'schema' : 'extension'].has(`- ${of[2]}`);
}

/** pg_restore turning the dump on its stdin into an SQL script on its stdout. */
function pgRestoreScript(source: AsyncIterable<Uint8Array>, args: readonly string[], client: PgClient): { script: AsyncIterable<Buffer>; done: Promise<void> } {
  const child = spawn(pgProgram(client, 'pg_restore'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr = (stderr + t).slice(-4096)));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const done = (async () => {
    const sourceError = await writeToStdin(source, child.stdin);
    if (sourceError) child.kill('SIGTERM');
    const { code, signal } = await closed;
    if (sourceError) throw sourceError;
    if (code !== 0) throw new Error(`pg_restore ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
  })();
  done.catch(() => {
    // Awaited by the caller.
  });
  return { script: child.stdout, done };
}

const COMMIT = '\nCOMMIT;\n';

/** pg_restore's script without its closing COMMIT (the last statement it writes), which the restore sends itself when the checks pass. */
async function* withoutFinalCommit(script: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const tail = 64 * 1024;
  let held = Buffer.alloc(0);
  for await (const chunk of script) {
    held = Buffer.concat([held, chunk]);
    if (held.length > 2 * tail) {
      yield held.subarray(0, held.length - tail);
      held = held.subarray(held.length - tail);
    }
  }
  const at = held.lastIndexOf(COMMIT);
  if (at < 0) throw new Error('pg_restore wrote no closing COMMIT: its script is incomplete');
  yield Buffer.concat([held.subarray(0, at + 1), held.subarray(at + COMMIT.length)]);
}

/**
 * Why a restore failed, and that it was rolled back. One transaction locks every table, index and
 * sequence it creates, and the server's lock table holds max_locks_per_transaction ×
 * (max_connections + max_prepared_transactions) locks: past that, say what to set.
 */
function rolledBack(error: unknown, relations: number, settings: readonly string[]): Error {
  const message = String((error as Error)?.message ?? error);
  if (!/max_locks_per_transaction|out of shared memory/.test(message)) return new Error(`${message}\nThe restore was rolled back; nothing was changed.`, { cause: error });
  const [locks = 64, connections = 100, prepared = 0] = settings.map(Number);
  const slots = connections + prepared;
  const needed = Math.max(2 * locks, Math.ceil((2 * relations) / slots / 64) * 64);
  return new Error(
    `the restore runs in one transaction, which locks every table, index and sequence it creates (${relations} in this backup, more with their TOAST tables), ` +
      `more than the target server's lock table holds (max_locks_per_transaction ${locks} × ${slots} connections): ` +
      `set max_locks_per_transaction to ${needed} or more on the target server (postgresql.conf or ALTER SYSTEM, then restart it) and restore again. The restore was rolled back; nothing was changed.`,
    { cause: error },
  );
}

export interface PgRestoreOptions {
  /** Drop what the dump creates before creating it (`--clean --if-exists`); without it, anything the dump creates that exists stops the restore before it starts. */
  drop?: boolean;
  /** Row counts the restored tables must have before the transaction commits. */
  manifest?: Manifest;
  /** Runs when everything is restored, before COMMIT (the download's checksum): throwing rolls the restore back. */
  beforeCommit?: () => Promise<void>;
  /** The client, chosen for the target server (choosePgClient); default the runner's newest, checked against the target. */
  client?: PgClient;
}

/**
 * Restores a custom-format dump in one transaction: pg_restore writes it as SQL
 * (`--single-transaction`, and `--clean --if-exists` with drop), psql runs it, and pg_restore's closing
 * COMMIT is held back until the tables match the manifest and `beforeCommit` has passed, so any failure
 * — a dependent view, a name clash, a killed tool, a bad row, a changed blob — rolls everything back.
 * Without drop, a relation, type or function of the dump that the target has stops the restore before
 * anything runs. Schemas and extensions the target has are kept as they are.
 */
export async function restorePostgres(source: AsyncIterable<Uint8Array>, targetUri: string, options: PgRestoreOptions = {}): Promise<void> {
  const conn = pgConnection(targetUri, 'target-uri');
  const client = options.client ?? (await choosePgClient([{ uri: targetUri, input: 'target-uri' }]));
  const { toc, stream } = await readToc(source, client);
  const entries = parseToc(toc);
  const relations = entries.filter((e) => e.catalog === '1259' || e.desc === 'CONSTRAINT').length;
  const session = new PsqlSession(conn, client);
  const dir = mkdtempSync(join(tmpdir(), 'slipway-pg-'));
  let settings: string[] = [];
  let committed = false;
  try {
    const target = await targetObjects(session);
    settings = (await session.query(`SELECT current_setting('max_locks_per_transaction'), current_setting('max_connections'), current_setting('max_prepared_transactions');`))[0] ?? [];
    const found = options.drop ? [] : clashes(entries, target);
    if (found.length) throw new InputError('drop', 'false', `true to replace what exists: ${conn.database} already has ${found.slice(0, 5).join(', ')}${found.length > 5 ? ', …' : ''}; nothing was changed`);
    const args = ['--no-owner', '--single-transaction', '--file=-', ...(options.drop ? ['--clean', '--if-exists'] : [])];
    const kept = entries.filter((e) => !keepsShared(e, target));
    if (kept.length < entries.length) {
      writeFileSync(join(dir, 'toc.list'), `${kept.map((e) => e.line).join('\n')}\n`, { mode: 0o600 });
      args.push(`--use-list=${join(dir, 'toc.list')}`);
    }
    const restore = pgRestoreScript(stream, args, client);
    const [fed, done] = await Promise.allSettled([session.feed(withoutFinalCommit(restore.script)), restore.done]);
    const failed = [done, fed].find((r) => r.status === 'rejected');
    // A statement that fails stops psql, and then pg_restore on a closed pipe: psql's error is the cause.
    if (failed) throw session.errors() ? new Error(`psql: ${session.errors()}`, { cause: failed.reason }) : failed.reason;
    await session.query('');
    if (options.manifest) {
      const problems = compareManifest(options.manifest, await inventory(session, options.manifest.objects, conn.database), () => conn.database);
      if (problems.length) throw new Error(`the restored tables differ from the backup's manifest:\n- ${problems.join('\n- ')}`);
    }
    await options.beforeCommit?.();
    await session.query('COMMIT;');
    committed = true;
  } catch (error) {
    throw error instanceof InputError ? error : rolledBack(error, relations, settings);
  } finally {
    await (committed ? session.close() : session.abort());
    rmSync(dir, { recursive: true, force: true });
  }
}
