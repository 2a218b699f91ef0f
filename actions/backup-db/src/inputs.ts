import { resolve } from 'node:path';
import { InputError, checkDatabaseUri, getBoolean, getContext, getDuration, getEndpoint, getEnum, getInteger, getList, getString, type Endpoint } from '@slipway/shared';
import * as backup from '@slipway/shared/backup';

export interface BackupDbConfig {
  mode: 'backup' | 'restore' | 'verify' | 'prune';
  engine: backup.Engine;
  /** The URI whose engine and database name the backup group (uri, else target-uri). */
  uri: string;
  targetUri: string;
  selection: backup.Selection;
  /** Whose backups `latest` and retention see: a restore given only target-uri names no server. */
  group: backup.BackupGroup;
  storage: 'azure' | 'local';
  azure: backup.AzureAuth;
  container: string;
  prefix: string;
  localPath: string;
  compression: backup.Compression;
  compressionLevel?: number;
  encryption: backup.EncryptionKeys;
  decryption: backup.DecryptionKeys;
  verify: backup.VerifyMode;
  verifyUri: string;
  retention: backup.RetentionPolicy;
  retentionDryRun: boolean;
  /** `legacy-server` names this group's server: its backups from before servers were recorded may be pruned. */
  pruneLegacy: boolean;
  backup: string;
  drop: boolean;
  blockSize: number;
  concurrency: number;
  timeoutMs: number;
  metricsPushgateway?: Endpoint;
  summary: boolean;
  /** `postgres-bin`: the PostgreSQL client to use instead of the runner's newest. */
  postgresClient?: backup.PgClient;
  runId: string;
  runUrl: string;
}

const COUNT = { min: 0, max: 100_000 };
/** 0 (the default) means the rule is off. */
const rule = (n: number) => (n > 0 ? n : undefined);

/** Reads and checks every input before any data moves. Secrets are registered for masking first. */
export function readInputs(env: NodeJS.ProcessEnv = process.env): BackupDbConfig {
  const secret = { secret: true };
  const uriInput = getString('uri', secret);
  const targetUri = getString('target-uri', secret);
  const verifyUri = getString('verify-uri', secret);
  const azure: backup.AzureAuth = {
    connectionString: getString('azure-connection-string', secret),
    accountUrl: getString('azure-account-url'),
    sasToken: getString('azure-sas-token', secret),
    clientId: getString('azure-client-id'),
    tenantId: getString('azure-tenant-id'),
    authorityHost: getString('azure-authority-host') || 'https://login.microsoftonline.com',
  };
  const passphrase = getString('encryption-passphrase', secret);
  const identityText = getString('decryption-identity', secret);
  const decryptionPassphrase = getString('decryption-passphrase', secret);
  // Each URI is read whole before anything derived from it can be printed: its password (raw and
  // decoded) and secret parameters are registered, and a URI that cannot be read fails here.
  for (const [name, uri] of [['uri', uriInput], ['target-uri', targetUri], ['verify-uri', verifyUri]] as const) if (uri) checkDatabaseUri(name, uri);

  const mode = getEnum('mode', ['backup', 'restore', 'verify', 'prune'] as const, 'backup');
  const uri = uriInput || (mode === 'restore' ? targetUri : '');
  if (!uri) {
    throw new InputError(mode === 'restore' ? 'target-uri' : 'uri', '', mode === 'restore' ? 'the connection string to restore into' : 'the connection string of the database (mongodb://, postgres://, mysql://…)', true);
  }
  if (mode === 'restore' && !targetUri) throw new InputError('target-uri', '', 'the connection string to restore into', true);
  const uriName = uriInput ? 'uri' : 'target-uri';
  const engine = backup.resolveEngine(getString('engine'), uri, uriName);
  const selection = { databases: getList('databases'), include: getList('include', { separator: 'newline' }), exclude: getList('exclude', { separator: 'newline' }) };
  // Read first with the input's name, so that a URI without its database is blamed on the input it came from.
  backup.databaseLabel(engine, uri, selection, uriName);
  const group = backup.backupGroup(engine, uri, selection, getString('prefix'));
  const pruneLegacy = legacyServerIs(engine, getString('legacy-server'), group.server);

  const storage = getEnum('storage', ['azure', 'local'] as const, 'azure');
  const localPath = getString('local-path');
  if (storage === 'azure') backup.checkAzureAuth(azure);
  else if (!localPath) throw new InputError('local-path', '', 'a folder for backups when `storage: local`');
  // Linux's limits (NAME_MAX, PATH_MAX), checked before any data moves rather than met half way.
  else if (Buffer.byteLength(localPath) >= 4096 || localPath.split('/').some((folder) => Buffer.byteLength(folder) > 255)) {
    throw new InputError('local-path', localPath, 'a folder path under 4,096 bytes whose folder names are at most 255 bytes each');
  }

  const compression = getEnum('compression', backup.COMPRESSIONS, 'gzip');
  const levelText = getString('compression-level');
  const compressionLevel = levelText ? getInteger('compression-level', 0, { min: 1, max: compression === 'gzip' ? 9 : 19 }) : undefined;
  if (compression === 'zstd' && !backup.hasZstd()) {
    throw new InputError('compression', 'zstd', `gzip or none: this Node.js (${process.versions.node}) has no zstd in node:zlib`);
  }
  const encryption = { recipients: getList('encryption-recipients', { separator: 'newline' }), passphrase };
  backup.checkEncryptionKeys(encryption);
  const decryption = { identities: backup.parseIdentities(identityText), passphrase: decryptionPassphrase };
  backup.checkDecryptionKeys(decryption);

  const verify = getEnum('verify', ['checksum', 'restore', 'none'] as const, 'checksum');
  if (verify === 'restore' && !verifyUri) throw new InputError('verify-uri', '', 'a server to restore a scratch copy into, for `verify: restore`', true);
  if (verifyUri) backup.resolveEngine(engine, verifyUri, 'verify-uri');
  if (targetUri) backup.resolveEngine(engine, targetUri, 'target-uri');

  const container = getString('container') || 'backups';
  if (storage === 'azure' && !/^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(container)) {
    throw new InputError('container', container, '3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit (Azure container names)');
  }
  const postgresBin = getString('postgres-bin');
  // Checked whatever the engine (a value that cannot be a client folder is refused, not ignored); relative to the workspace.
  const postgresClient = postgresBin ? backup.pgClientAt(resolve(postgresBin), 'postgres-bin') : undefined;
  const context = getContext(env);
  return {
    mode,
    engine,
    uri,
    targetUri,
    selection,
    group: uriInput ? group : { ...group, server: undefined },
    storage,
    azure,
    container,
    prefix: group.prefix,
    localPath,
    compression,
    compressionLevel,
    encryption,
    decryption,
    verify,
    verifyUri,
    retention: {
      keepDays: rule(getInteger('keep-days', 0, COUNT)),
      keepLast: rule(getInteger('keep-last', 0, COUNT)),
      keepDaily: rule(getInteger('keep-daily', 0, COUNT)),
      keepWeekly: rule(getInteger('keep-weekly', 0, COUNT)),
      keepMonthly: rule(getInteger('keep-monthly', 0, COUNT)),
    },
    retentionDryRun: getBoolean('retention-dry-run', false),
    pruneLegacy,
    backup: getString('backup') || 'latest',
    drop: getBoolean('drop', false),
    blockSize: getInteger('block-size', 4, { min: 1, max: 4000 }) * 1024 * 1024,
    concurrency: getInteger('upload-concurrency', 4, { min: 1, max: 64 }),
    timeoutMs: getDuration('timeout', '6h'),
    metricsPushgateway: getEndpoint('metrics-pushgateway-url', { allowInsecure: true }),
    summary: getBoolean('summary', true),
    postgresClient,
    runId: context.runId ? `${context.runId}${context.runAttempt && context.runAttempt !== '1' ? `.${context.runAttempt}` : ''}` : 'local',
    runUrl: context.runUrl,
  };
}

/**
 * Whether `legacy-server` (`host:port`, or several for MongoDB) is the server this step backs up,
 * compared as backup metadata records servers (lower case, default port, canonical addresses).
 */
function legacyServerIs(engine: backup.Engine, value: string, server: string): boolean {
  if (!value) return false;
  const expected = 'the `host:port` of the server that made the backups from before servers were recorded, e.g. `db.example.com:5432`';
  if (!/^[\w.:[\],%-]+$/.test(value)) throw new InputError('legacy-server', value, expected);
  try {
    return backup.serverOf(engine, `${engine}://${value}/db`) === server;
  } catch {
    throw new InputError('legacy-server', value, expected);
  }
}
