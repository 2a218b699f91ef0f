import { randomBytes } from 'node:crypto';
import * as core from '@actions/core';
import { InputError } from '../inputs';
import { compareManifest, type Manifest } from './manifest';
import { checkMongoArchive, dropMongoDatabases, dumpMongo, inventoryMongo, mongoUriDatabase, restoreMongo } from './mongo/mongodb';
import { checkMysqlDump, dropMysqlDatabase, dumpMysql, inventoryMysql, loadMysqlDump, mysqlConnection, restoreMysql } from './mysql';
import { checkPgDump, choosePgClient, createPgDatabase, dropPgDatabase, dumpPostgres, inventoryPostgres, pgConnection, uriWithDatabase, restorePostgres } from './postgres';
import { checkPgClientReads, findPgClients, pickPgClient, type PgClient } from './postgres-client';

export const ENGINES = ['mongodb', 'postgres', 'mysql'] as const;
export type Engine = (typeof ENGINES)[number];

const SCHEMES: Record<string, Engine> = {
  'mongodb:': 'mongodb',
  'mongodb+srv:': 'mongodb',
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'mysql:': 'mysql',
  'mariadb:': 'mysql',
};

/** The engine a connection string's scheme names, or undefined. */
export function engineOf(uri: string): Engine | undefined {
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(uri)?.[0].toLowerCase();
  return scheme ? SCHEMES[scheme] : undefined;
}

/** `engine` when given, else from the URI's scheme; a URI of another engine is an error. */
export function resolveEngine(engine: string, uri: string, input = 'uri'): Engine {
  const fromUri = engineOf(uri);
  if (engine) {
    if (!(ENGINES as readonly string[]).includes(engine)) throw new InputError('engine', engine, `one of ${ENGINES.join(', ')}`);
    if (fromUri && fromUri !== engine) throw new InputError(input, uri, `a ${engine} connection string (its scheme says ${fromUri})`, true);
    return engine as Engine;
  }
  if (!fromUri) throw new InputError(input, uri, 'a connection string starting with mongodb://, mongodb+srv://, postgres://, postgresql://, mysql:// or mariadb:// (or set `engine`)', true);
  return fromUri;
}

/** The file type inside compression and encryption. */
export const DUMP_EXTENSIONS: Record<Engine, string> = { mongodb: '.archive', postgres: '.dump', mysql: '.sql' };

export interface Selection {
  databases: string[];
  include: string[];
  exclude: string[];
}

/** The database part of a backup's name: one database by name, several joined, or `all`; `input` names the URI in its errors. */
export function databaseLabel(engine: Engine, uri: string, selection: Selection, input = 'uri'): string {
  if (engine !== 'mongodb') {
    if (selection.databases.length > 1) {
      throw new InputError('databases', selection.databases.join(', '), `one database per step for ${engine} (add a step or a matrix entry per database)`);
    }
    const fromUri = engine === 'postgres' ? pgConnection(uri, input).database : mysqlConnection(uri, input).database;
    return selection.databases[0] ?? fromUri;
  }
  if (selection.databases.length) return selection.databases.join('+');
  return mongoUriDatabase(uri, input) ?? 'all';
}

/**
 * `pgClient`: PostgreSQL's client (choosePgClient); without it, the runner's newest, checked against
 * the server. `pgDumpVersion`: PostgreSQL's pg_dump that wrote the dump, once the stream has started.
 */
export function dump(engine: Engine, uri: string, selection: Selection, tool: string, pgClient?: PgClient): { stream: AsyncGenerator<Buffer>; manifest: Manifest; pgDumpVersion?: string } {
  if (engine === 'mongodb') return dumpMongo(uri, selection, tool);
  const database = databaseLabel(engine, uri, selection);
  const target = uriWithDatabase(uri, database);
  if (engine === 'postgres') return dumpPostgres(target, { include: selection.include, exclude: selection.exclude, tool, client: pgClient });
  return dumpMysql(target, selection, tool);
}

/**
 * Fails before any of a backup is read when the client is older than the tool that wrote it, as the
 * backup records it (`pgDumpVersion`, PostgreSQL's pg_dump: PgClientTooOld); `pgClient` as for checkDump.
 */
export function checkClientReads(engine: Engine, pgDumpVersion: string | undefined, pgClient?: PgClient): void {
  if (engine === 'postgres' && pgDumpVersion) checkPgClientReads(pgClient ?? pickPgClient(findPgClients(), []), pgDumpVersion);
}

/** Parses a decrypted, decompressed dump all the way through (verify `checksum`). */
export async function checkDump(engine: Engine, source: AsyncIterable<Uint8Array>, pgClient?: PgClient): Promise<void> {
  if (engine === 'mongodb') await checkMongoArchive(source);
  else if (engine === 'postgres') await checkPgDump(source, pgClient);
  else await checkMysqlDump(source);
}

export interface RestoreOptions {
  /** Replace what the backup holds in the target (and only that); without it, a restore that would replace anything stops before changing the target. */
  drop: boolean;
  /** What the backup holds: the restore is checked against it before it is committed. */
  manifest?: Manifest;
  /**
   * Runs when the whole backup is restored but not yet committed to — PostgreSQL before its COMMIT,
   * MySQL and MongoDB before the swap from staging names — so throwing leaves the target as it was.
   */
  beforeCommit?: () => Promise<void>;
  /** PostgreSQL's client (choosePgClient); without it, the runner's newest, checked against the target. */
  pgClient?: PgClient;
}

/** Restores into the target: the URI's database, or for MongoDB the backed-up databases by name. */
export async function restore(engine: Engine, source: AsyncIterable<Uint8Array>, targetUri: string, options: RestoreOptions): Promise<void> {
  if (engine === 'mongodb') {
    // A target URI naming a database takes a single-database backup into it (restoreMongo refuses more).
    await restoreMongo(source, targetUri, { ...options, into: mongoUriDatabase(targetUri, 'target-uri') });
  } else if (engine === 'postgres') await restorePostgres(source, targetUri, { ...options, client: options.pgClient });
  else {
    const database = mysqlConnection(targetUri, 'target-uri').database;
    if (!database) throw new InputError('target-uri', targetUri, 'a URI that names the database to restore into', true);
    await restoreMysql(source, targetUri, database, options);
  }
}

/**
 * Restores into scratch databases on the verify server, compares every count (and MongoDB content
 * hash) with the manifest, and drops the scratch databases whatever happens. Returns the differences.
 */
export async function restoreAndCompare(engine: Engine, source: AsyncIterable<Uint8Array>, verifyUri: string, manifest: Manifest, pgClient?: PgClient): Promise<string[]> {
  // Checked against the verify server before a scratch database is made.
  const client = engine === 'postgres' ? (pgClient ?? (await choosePgClient([{ uri: verifyUri, input: 'verify-uri' }]))) : undefined;
  const suffix = randomBytes(4).toString('hex');
  const scratch = (db: string) => `${db.slice(0, 40)}_verify_${suffix}`;
  const scratchDbs = manifest.databases.map(scratch);
  const compare = async (): Promise<string[]> => {
    if (engine === 'mongodb') {
      await restoreMongo(source, verifyUri, { rename: scratch, inPlace: true });
      return compareManifest(manifest, await inventoryMongo(verifyUri, manifest.objects, scratch), scratch);
    }
    const database = manifest.databases[0] as string;
    if (engine === 'postgres') {
      await createPgDatabase(verifyUri, scratch(database), client);
      const uri = uriWithDatabase(verifyUri, scratch(database));
      await restorePostgres(source, uri, { client });
      return compareManifest(manifest, await inventoryPostgres(uri, manifest.objects, scratch(database), client), scratch);
    }
    await loadMysqlDump(source, verifyUri, scratch(database));
    return compareManifest(manifest, await inventoryMysql(verifyUri, scratch(database), manifest.objects), scratch);
  };
  const drop = async (): Promise<void> => {
    if (engine === 'mongodb') await dropMongoDatabases(verifyUri, scratchDbs);
    else if (engine === 'postgres') await dropPgDatabase(verifyUri, scratchDbs[0] as string, client);
    else await dropMysqlDatabase(verifyUri, scratchDbs[0] as string);
  };
  let problems: string[];
  try {
    problems = await compare();
  } catch (error) {
    // The restore's own failure is the one to report (and decides whether the backup is marked); a
    // scratch database it could not drop afterwards is only worth a warning then.
    await drop().catch((dropError: unknown) => core.warning(`the scratch database ${scratchDbs.join(', ')} on the verify server could not be dropped: ${(dropError as Error).message.split('\n')[0]}`));
    throw error;
  }
  await drop();
  return problems;
}
