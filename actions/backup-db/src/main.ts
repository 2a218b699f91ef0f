import * as core from '@actions/core';
import { RunMetrics, addTable, checkPlatform, formatDuration, getContext, pushMetrics, redact, run, writeSummary } from '@slipway/shared';
import * as backup from '@slipway/shared/backup';
import { readInputs, type BackupDbConfig } from './inputs';

const TOOL = 'slipway-backup-db/1';

async function openStore(config: BackupDbConfig): Promise<backup.BackupStore> {
  if (config.storage === 'local') return new backup.LocalStore(config.localPath);
  return new backup.AzureBlobStore(await backup.containerClient(config.azure, config.container));
}

const human = (bytes: number) => (bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`);

async function main(config: BackupDbConfig, metrics: RunMetrics): Promise<void> {
  const started = performance.now();
  const store = await openStore(config);
  const pgClient = await postgresClient(config);
  const database = backup.databaseLabel(config.engine, config.uri, config.selection);
  const outputs: Record<string, string> = { verified: 'false', deleted: '[]' };
  const summaryRows: string[][] = [];
  let current: backup.StoredBackup | undefined;
  let made: string | undefined;
  const choose = async () => {
    const { backup: chosen, why } = await backup.findBackup(store, config.backup, config.group);
    core.info(`Chose ${chosen.name}: ${why}`);
    summaryRows.push(['Chosen', `${chosen.name}: ${why}`]);
    return chosen;
  };

  if (config.mode === 'backup') {
    core.info(`Backing up ${config.engine} ${database} on ${config.group.server} …`);
    const result = await backup.runBackup({
      engine: config.engine,
      uri: config.uri,
      selection: config.selection,
      store,
      prefix: config.prefix,
      compression: config.compression,
      compressionLevel: config.compressionLevel,
      encryption: config.encryption,
      blockSize: config.blockSize,
      concurrency: config.concurrency,
      runId: config.runId,
      runUrl: config.runUrl,
      tool: TOOL,
      pgClient,
    });
    core.info(`Stored ${result.name}: ${human(result.sizeBytes)} (${human(result.rawSizeBytes)} raw), sha256 ${result.sha256}`);
    Object.assign(outputs, {
      'backup-name': result.name,
      'backup-url': result.url,
      'size-bytes': String(result.sizeBytes),
      'raw-size-bytes': String(result.rawSizeBytes),
      sha256: result.sha256,
      manifest: JSON.stringify(result.manifest),
    });
    summaryRows.push(['Backup', result.name], ['Size', `${human(result.sizeBytes)} stored, ${human(result.rawSizeBytes)} raw`], ['SHA-256', result.sha256]);
    metrics.set('size_bytes', 'Stored size of the last backup.', result.sizeBytes, { engine: config.engine, database });
    metrics.set('backup_duration_seconds', 'Time to dump and upload the last backup.', result.durationSeconds, { engine: config.engine, database });
    current = await store.get(result.name);
    made = result.name;
  }

  if (config.mode === 'verify' || (config.mode === 'backup' && config.verify !== 'none')) {
    const verifying = (current ??= await choose());
    const mode = config.verify === 'none' ? 'checksum' : config.verify;
    core.info(`Verifying ${verifying.name} (${mode}) …`);
    const { verifiedAt } = await backup
      .verifyBackup({ store, backup: verifying, mode, decryption: config.mode === 'backup' ? backupKeysForVerify(config) : config.decryption, verifyUri: config.verifyUri, pgClient })
      .catch(async (error: unknown) => {
        if (error instanceof backup.VerificationFailed) await markFailed(store, verifying.name, mode, error);
        else core.info(`The verification of ${verifying.name} could not run to a verdict; the backup is not marked as failed.`);
        throw withPostgresBin(error);
      });
    outputs.verified = 'true';
    summaryRows.push(['Verified', `${mode} at ${verifiedAt}`]);
  }

  if (config.mode === 'restore') {
    current = await choose();
    core.info(`Restoring ${current.name} …`);
    await backup.restoreBackup({ store, backup: current, targetUri: config.targetUri, drop: config.drop, decryption: config.decryption, pgClient }).catch((error: unknown) => {
      throw withPostgresBin(error);
    });
    summaryRows.push(['Restored', current.name], ['Drop first', String(config.drop)]);
  }

  if (config.mode === 'backup' || config.mode === 'prune') {
    const pruned = await backup.pruneBackups(store, config.group, config.retention, { dryRun: config.retentionDryRun, keep: made ? [made] : [], pruneLegacy: config.pruneLegacy });
    outputs.deleted = JSON.stringify(pruned.deleted);
    for (const name of pruned.deleted) core.info(`${config.retentionDryRun ? 'Would delete' : 'Deleted'} ${name}`);
    if (pruned.unattributed.length && backup.hasRetention(config.retention)) {
      core.warning(
        `Retention left ${pruned.unattributed.length} backups of ${config.engine} ${database} alone: they were made before backups recorded their server and their databases, and this prefix holds backups of another server's ${database} too, or their label was shared by two sets of databases (${pruned.unattributed.join(', ')}). Delete them by hand when no longer needed.`,
      );
    }
    if (pruned.legacyKept.length && backup.hasRetention(config.retention)) {
      core.warning(
        `Retention kept ${pruned.legacyKept.length} backups of ${config.engine} ${database} made before backups recorded their server (${pruned.legacyKept.join(', ')}): another server's backups of ${database} may be among them. Set \`legacy-server\` to the host:port that made them, in that server's step, to let retention prune them.`,
      );
    }
    if (backup.hasRetention(config.retention)) summaryRows.push([config.retentionDryRun ? 'Retention (dry run) would delete' : 'Retention deleted', pruned.deleted.length ? pruned.deleted.join('<br>') : 'nothing']);
  }

  if (current) {
    outputs['backup-name'] ??= current.name;
    outputs['backup-url'] ??= store.locate(current.name);
    outputs['size-bytes'] ??= String(current.sizeBytes);
    outputs['raw-size-bytes'] ??= current.metadata[backup.META.rawSize] ?? '';
    outputs.sha256 ??= current.metadata[backup.META.sha256] ?? '';
    outputs.manifest ??= (await store.readText(backup.manifestName(current.name))) ?? '';
  }
  outputs['duration-seconds'] = ((performance.now() - started) / 1000).toFixed(1);
  core.setOutput('backup-name', outputs['backup-name'] ?? '');
  core.setOutput('backup-url', outputs['backup-url'] ?? '');
  core.setOutput('size-bytes', outputs['size-bytes'] ?? '');
  core.setOutput('raw-size-bytes', outputs['raw-size-bytes'] ?? '');
  core.setOutput('sha256', outputs.sha256 ?? '');
  core.setOutput('duration-seconds', outputs['duration-seconds']);
  core.setOutput('verified', outputs.verified ?? 'false');
  core.setOutput('deleted', outputs.deleted ?? '[]');
  core.setOutput('manifest', outputs.manifest ?? '');

  if (config.summary) {
    core.summary.addHeading(`backup-db: ${config.mode} ${config.engine} ${database}`, 3);
    addTable(['', ''], summaryRows);
    const recent = (await backup.listGroup(store, config.group)).backups.slice(0, 10);
    if (recent.length) {
      core.summary.addHeading('Latest backups', 4);
      addTable(
        ['Backup', 'Created', 'Size', 'Verified'],
        recent.map((b) => [b.name, backup.printable(b.metadata[backup.META.createdAt] ?? ''), human(b.sizeBytes), backup.printable(backup.verificationFailed(b) ? `failed at ${b.metadata[backup.META.verifyFailedAt]}` : (b.metadata[backup.META.verifiedAt] ?? 'no'))]),
      );
    }
    core.summary.addRaw(`Took ${formatDuration(Number(outputs['duration-seconds']) * 1000)}.`, true);
    await writeSummary();
  }
}

/**
 * PostgreSQL's client for the step, checked before anything is done against every server it dumps or
 * restores into: one older than any of them fails the step with what to install.
 */
async function postgresClient(config: BackupDbConfig): Promise<backup.PgClient | undefined> {
  if (config.engine !== 'postgres' || config.mode === 'prune') return undefined;
  const verifyServer = config.verify === 'restore' && config.mode !== 'restore' ? [{ uri: config.verifyUri, input: 'verify-uri' }] : [];
  const servers = config.mode === 'restore' ? [{ uri: config.targetUri, input: 'target-uri' }] : config.mode === 'backup' ? [{ uri: config.uri, input: 'uri' }, ...verifyServer] : verifyServer;
  const client = await backup.choosePgClient(servers, { client: config.postgresClient }).catch((error: unknown) => {
    throw withPostgresBin(error);
  });
  core.info(`PostgreSQL client: pg_dump ${client.version} in ${client.bin}`);
  return client;
}

/** A client too old for a server or a backup: the error also says which input chooses another. */
function withPostgresBin(error: unknown): unknown {
  if (!(error instanceof backup.PgClientTooOld)) return error;
  return new Error(`${error.message}\nOr set postgres-bin to the bin folder of a PostgreSQL ${error.major} client or newer.`, { cause: error });
}

/**
 * Marks a backup that verification found wrong, so that `latest` and retention pass it over from now on.
 * The reason is the error's first line with every registered secret taken out (metadata is not masked).
 */
async function markFailed(store: backup.BackupStore, name: string, mode: string, error: unknown): Promise<void> {
  const reason = redact(`${mode}: ${String((error as Error).message ?? error).split('\n')[0]}`).slice(0, 200);
  try {
    await store.setMetadata(name, { [backup.META.verifyFailedAt]: new Date().toISOString(), [backup.META.verifyFailure]: encodeURIComponent(reason) });
    core.info(`Marked ${name} as failed in verification: it is never chosen as latest and never counted by retention.`);
  } catch (markError) {
    core.warning(`${name} failed verification, and marking it so failed too (${(markError as Error).message.split('\n')[0]}): delete it, or it may be chosen as latest`);
  }
}

/** A backup encrypted to recipients is verified with the given identity; a passphrase backup with its passphrase. */
function backupKeysForVerify(config: BackupDbConfig): backup.DecryptionKeys {
  if (config.encryption.passphrase) return { passphrase: config.encryption.passphrase };
  return config.decryption;
}

run(async () => {
  checkPlatform('backup-db', { platforms: ['linux', 'darwin'] }); // Verification reads PostgreSQL dumps through pg_restore into /dev/null, which Windows lacks.
  const metrics = new RunMetrics('backup_db');
  const config = readInputs();
  if (config.mode === 'backup' && config.verify !== 'none' && config.encryption.recipients?.length && !config.decryption.identities?.length) {
    throw new Error("Input 'decryption-identity' is needed to verify a backup encrypted to recipients: give the identity, or set `verify: none`");
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`backup-db did not finish within ${formatDuration(config.timeoutMs)} (input 'timeout')`)), config.timeoutMs);
  });
  let ok = false;
  try {
    await Promise.race([main(config, metrics), timeout]);
    ok = true;
  } finally {
    clearTimeout(timer);
    const database = backup.databaseLabel(config.engine, config.uri, config.selection);
    await pushMetrics(metrics, config.metricsPushgateway, getContext(), ok && config.mode === 'backup', { grouping: { engine: config.engine, database } });
  }
});
