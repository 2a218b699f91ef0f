import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient, ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters } from '@azure/storage-blob';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec } from '../../../packages/shared/src/exec';
import { runAction, visible } from '../../../test/helpers/action';
import { runEnv } from '../../../test/helpers/run-env';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type Azurite } from '../../../test/services/azurite';
import { startFerretDb, type FerretDb } from '../../../test/services/ferretdb';
import { startMariaDb, type MariaDb } from '../../../test/services/mariadb';
import { startPostgres, type Postgres } from '../../../test/services/postgres';

let azurite: Azurite;
let pg: Postgres;
let maria: MariaDb;
let mongo: FerretDb;
const dir = mkdtempSync(join(tmpdir(), 'slipway-backup-db-'));
let identity: string;
let recipient: string;

const PG_PROBE = `select count(*), sum(length(payload)), max(id) from sales.orders;
  select count(*) from sales.big_orders;
  select last_value from sales.orders_id_seq;`;
const MY_PROBE = `SELECT COUNT(*), SUM(CHAR_LENGTH(name)), MAX(name) FROM people; SELECT shout('hi'); SELECT trigger_name, action_statement FROM information_schema.triggers WHERE trigger_schema = DATABASE();`;


beforeAll(async () => {
  [azurite, pg, maria, mongo] = await Promise.all([startAzurite(), startPostgres(), startMariaDb(), startFerretDb()]);
  await exec('age-keygen', ['-o', join(dir, 'key.txt')], { silent: true });
  identity = readFileSync(join(dir, 'key.txt'), 'utf8');
  recipient = (await exec('age-keygen', ['-y', join(dir, 'key.txt')], { silent: true })).stdout.trim();
  pg.sql('create database shop');
  pg.sql(
    `create schema sales;
     create table sales.orders (id bigserial primary key, customer text not null, payload bytea);
     insert into sales.orders (customer, payload) select 'customer ' || g || ' ü', decode(md5(g::text), 'hex') from generate_series(1, 3000) g;
     create view sales.big_orders as select * from sales.orders where id > 2000;
     create table public.empty_table (id int);`,
    'shop',
  );
  maria.sql('CREATE DATABASE shop CHARACTER SET utf8mb4');
  maria.sql(
    `CREATE TABLE people (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100)) ENGINE=InnoDB;
     CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(100)) ENGINE=InnoDB;
     INSERT INTO people (name) VALUES ('Zoë 🚀'), ('名前'), ('O''Brien; (x)'), ('back\\\\slash');
     CREATE TRIGGER people_ai AFTER INSERT ON people FOR EACH ROW INSERT INTO audit (what) VALUES (NEW.name);
     CREATE FUNCTION shout(s VARCHAR(20)) RETURNS VARCHAR(40) DETERMINISTIC RETURN CONCAT(UPPER(s), '!');`,
    'shop',
  );
  const client = new MongoClient(mongo.uri());
  await client.db('app').collection('users').insertMany(Array.from({ length: 500 }, (_, i) => ({ i, name: `user ${i}` })));
  await client.db('app').collection('users').createIndex({ name: 1 }, { unique: true });
  await client.close();
}, 180_000);
afterAll(async () => {
  await Promise.all([azurite?.stop(), pg?.stop(), maria?.stop(), mongo?.stop()]);
});

const RUN_ENV = runEnv('4242');

describe('dist/backup-db/index.js as the runner runs it', () => {
  it('PostgreSQL: encrypted backup to Azure, verified by a test restore, retention, then restored with the real data', async () => {
    const common = { 'azure-connection-string': azurite.connectionString, container: 'pg-backups', prefix: 'nightly' };
    const first = await runAction('backup-db', { ...common, uri: pg.uri('shop'), 'encryption-recipients': recipient, 'decryption-identity': identity, verify: 'restore', 'verify-uri': pg.uri('postgres'), 'keep-last': '1' }, RUN_ENV);
    expect(first.stderr).not.toContain(pg.password);
    expect(visible(first.stdout)).not.toContain(pg.password);
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(first.outputs['backup-name']).toMatch(/^nightly\/postgres\/shop\/\d{4}\/\d{2}\/\d{2}\/\d{8}T\d{6}Z-4242-[0-9a-f]{8}\.dump\.gz\.age$/);
    expect(first.outputs['backup-url']).toBe(`${azurite.url}/pg-backups/${first.outputs['backup-name']}`);
    expect(first.outputs.verified).toBe('true');
    expect(Number(first.outputs['raw-size-bytes'])).toBeGreaterThan(Number(first.outputs['size-bytes']) / 2);
    const manifest = JSON.parse(first.outputs.manifest ?? '{}') as { objects: { name: string; count: number }[] };
    expect(manifest.objects).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'sales.orders', count: 3000 }), expect.objectContaining({ name: 'public.empty_table', count: 0 })]));
    expect(first.summary).toContain('Latest backups');
    expect(first.summary).toContain(first.outputs['backup-name']);

    // The standard age CLI decrypts what the action stored, and pg_restore reads it.
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('pg-backups');
    const blob = container.getBlobClient(first.outputs['backup-name'] ?? '');
    writeFileSync(join(dir, 'pg.age'), await blob.downloadToBuffer());
    const props = await blob.getProperties();
    expect(props.metadata?.sha256).toBe(first.outputs.sha256);
    expect(props.metadata?.verified_at).toMatch(/^\d{4}-/);
    await exec('sh', ['-c', `age -d -i "${join(dir, 'key.txt')}" "${join(dir, 'pg.age')}" | gunzip > "${join(dir, 'pg.dump')}"`], { silent: true });
    expect((await exec('pg_restore', ['--list', join(dir, 'pg.dump')], { silent: true })).stdout).toContain('TABLE DATA sales orders');

    // A second run: retention keeps the last one only, never the newest verified.
    const second = await runAction('backup-db', { ...common, uri: pg.uri('shop'), 'encryption-recipients': recipient, 'decryption-identity': identity, 'keep-last': '1' }, runEnv('4243'));
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    expect(JSON.parse(second.outputs.deleted ?? '[]')).toEqual([first.outputs['backup-name']]);

    // Restore with the wrong key fails before the target is touched.
    pg.sql('create database restored');
    pg.sql('create table marker (id int); insert into marker values (1);', 'restored');
    const other = await exec('age-keygen', [], { silent: true });
    const wrong = await runAction('backup-db', { ...common, mode: 'restore', 'target-uri': pg.uri('restored'), databases: 'shop', 'decryption-identity': other.stdout }, RUN_ENV);
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stdout).toMatch(/::error::.*(no identity matched|decrypt)/i);
    expect(pg.sql('select count(*) from marker', 'restored').trim()).toBe('1');
    expect(pg.sql(`select count(*) from pg_tables where schemaname = 'sales'`, 'restored').trim()).toBe('0');

    const restored = await runAction('backup-db', { ...common, mode: 'restore', 'target-uri': pg.uri('restored'), databases: 'shop', 'decryption-identity': identity }, RUN_ENV);
    expect(restored.exitCode, restored.stdout + restored.stderr).toBe(0);
    expect(restored.outputs['backup-name']).toBe(second.outputs['backup-name']);
    expect(pg.sql(PG_PROBE, 'restored')).toBe(pg.sql(PG_PROBE, 'shop'));

    // Restoring again without drop would overwrite: it stops and says so; with drop it replaces.
    const again = await runAction('backup-db', { ...common, mode: 'restore', 'target-uri': pg.uri('restored'), databases: 'shop', 'decryption-identity': identity }, RUN_ENV);
    expect(again.exitCode).toBe(1);
    expect(again.stdout).toMatch(/Input 'drop' is invalid.*sales\.orders.*nothing was changed/);
    const dropped = await runAction('backup-db', { ...common, mode: 'restore', 'target-uri': pg.uri('restored'), databases: 'shop', 'decryption-identity': identity, drop: 'true' }, RUN_ENV);
    expect(dropped.exitCode, dropped.stdout + dropped.stderr).toBe(0);
    expect(pg.sql(PG_PROBE, 'restored')).toBe(pg.sql(PG_PROBE, 'shop'));
  }, 180_000);

  it('MySQL/MariaDB: local storage, zstd, test restore, routines and triggers, restored elsewhere', async () => {
    const local = join(dir, 'local');
    const common = { storage: 'local', 'local-path': local };
    const made = await runAction('backup-db', { ...common, uri: maria.uri('shop'), compression: 'zstd', verify: 'restore', 'verify-uri': maria.uri() }, RUN_ENV);
    expect(made.exitCode, made.stdout + made.stderr).toBe(0);
    expect(made.outputs['backup-name']).toMatch(/^mysql\/shop\/.*-4242-[0-9a-f]{8}\.sql\.zst$/);
    expect(made.outputs['backup-url']).toBe(join(local, ...(made.outputs['backup-name'] ?? '').split('/')));
    expect(JSON.parse(made.outputs.manifest ?? '{}').objects).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'people', count: 4 }), expect.objectContaining({ name: 'audit', count: 0 })]),
    );
    const sql = (await exec('zstd', ['-dc', made.outputs['backup-url'] ?? ''], { silent: true })).stdout;
    expect(sql).toMatch(/-- Dump completed/);
    expect(sql).toContain('Zoë 🚀');

    maria.sql('CREATE DATABASE copy');
    const restored = await runAction('backup-db', { ...common, mode: 'restore', 'target-uri': maria.uri('copy'), databases: 'shop' }, RUN_ENV);
    expect(restored.exitCode, restored.stdout + restored.stderr).toBe(0);
    expect(maria.sql(MY_PROBE, 'copy')).toBe(maria.sql(MY_PROBE, 'shop'));
  }, 180_000);

  it('MongoDB (FerretDB): backup, checksum verify, restored into another database with its index', async () => {
    const common = { 'azure-connection-string': azurite.connectionString, container: 'mongo' };
    const made = await runAction('backup-db', { ...common, uri: mongo.uri('app') }, RUN_ENV);
    expect(made.exitCode, made.stdout + made.stderr).toBe(0);
    expect(made.outputs['backup-name']).toMatch(/^mongodb\/app\/.*\.archive\.gz$/);
    expect(made.outputs.verified).toBe('true');
    const restored = await runAction('backup-db', { ...common, mode: 'restore', engine: 'mongodb', databases: 'app', 'target-uri': mongo.uri('app_copy') }, RUN_ENV);
    expect(restored.exitCode, restored.stdout + restored.stderr).toBe(0);
    const client = new MongoClient(mongo.uri());
    try {
      expect(await client.db('app_copy').collection('users').countDocuments()).toBe(500);
      expect((await client.db('app_copy').collection('users').listIndexes().toArray()).find((i) => i.name === 'name_1')?.unique).toBe(true);
    } finally {
      await client.close();
    }
  }, 180_000);

  it('Azure through a container SAS: blob index tags where the SAS allows them, a warning and a stored backup where not', async () => {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    await service.getContainerClient('sas-backups').create();
    const sas = (permissions: string) =>
      generateBlobSASQueryParameters(
        { containerName: 'sas-backups', permissions: ContainerSASPermissions.parse(permissions), expiresOn: new Date(Date.now() + 3_600_000) },
        new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
      ).toString();
    const common = { uri: pg.uri('shop'), 'azure-account-url': azurite.url, container: 'sas-backups' };

    const token = sas('racwdlt');
    const tagged = await runAction('backup-db', { ...common, 'azure-sas-token': token }, RUN_ENV);
    expect(tagged.exitCode, tagged.stdout + tagged.stderr).toBe(0);
    const signature = new URLSearchParams(token).get('sig') ?? '';
    expect(visible(tagged.stdout) + tagged.stderr).not.toContain(signature);
    expect(tagged.outputs['backup-url']).toBe(`${azurite.url}/sas-backups/${tagged.outputs['backup-name']}`);
    expect(tagged.stdout).not.toContain('::warning::');
    const tags = (await service.getContainerClient('sas-backups').getBlobClient(tagged.outputs['backup-name'] ?? '').getTags()).tags;
    expect(tags).toEqual({ engine: 'postgres', databases: 'shop', created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), tool: 'slipway-backup-db/1', verified_at: expect.stringMatching(/^\d{4}-/) });

    // Without the tag permission the backup is still stored and verified; the step says what it skipped.
    const untagged = await runAction('backup-db', { ...common, 'azure-sas-token': sas('racwdl') }, runEnv('4244'));
    expect(untagged.exitCode, untagged.stdout + untagged.stderr).toBe(0);
    expect(untagged.outputs.verified).toBe('true');
    expect(untagged.stdout).toMatch(/::warning::Blob index tags were not set on postgres\/shop\/.*'t' permission/);
  }, 120_000);

  it('verify fails clearly on a blob with one byte flipped', async () => {
    const common = { 'azure-connection-string': azurite.connectionString, container: 'flip' };
    const made = await runAction('backup-db', { ...common, uri: pg.uri('shop'), verify: 'none' }, RUN_ENV);
    expect(made.exitCode, made.stdout + made.stderr).toBe(0);
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('flip').getBlockBlobClient(made.outputs['backup-name'] ?? '');
    const props = await blob.getProperties();
    const data = await blob.downloadToBuffer();
    const at = Math.floor(data.length / 2);
    data.writeUInt8(data.readUInt8(at) ^ 0x01, at);
    await blob.upload(data, data.length, { metadata: props.metadata });
    const verified = await runAction('backup-db', { ...common, mode: 'verify', uri: pg.uri('shop') }, RUN_ENV);
    expect(verified.exitCode).toBe(1);
    expect(verified.stdout).toMatch(/::error::.*checksum mismatch for postgres\/shop\/.*the backup is damaged/);
  }, 120_000);

  it('bad inputs fail naming the input, with secrets masked', async () => {
    const engine = await runAction('backup-db', { uri: 'redis://u:s3cret@h/0', 'azure-connection-string': azurite.connectionString }, RUN_ENV);
    expect(engine.exitCode).toBe(1);
    expect(visible(engine.stdout)).toMatch(/Input 'uri' is invalid: got ".*\*\*\*.*"; expected a connection string starting with mongodb:\/\//);
    expect(visible(engine.stdout)).not.toContain('s3cret');
    const twoWays = await runAction('backup-db', { uri: pg.uri('shop'), 'azure-connection-string': azurite.connectionString, 'azure-account-url': 'https://a.blob.core.windows.net', 'azure-sas-token': 'sv=1&sig=x' }, RUN_ENV);
    expect(twoWays.exitCode).toBe(1);
    expect(twoWays.stdout).toMatch(/Input 'azure-sas-token' is invalid.*one way into Azure, not several/);
    const container = await runAction('backup-db', { uri: pg.uri('shop'), 'azure-connection-string': azurite.connectionString, container: 'pg' }, RUN_ENV);
    expect(container.stdout).toMatch(/Input 'container' is invalid: got "pg"; expected 3 to 63 lowercase letters/);
    const unknown = await runAction('backup-db', { uri: pg.uri('shop'), engine: 'oracle', 'azure-connection-string': azurite.connectionString }, RUN_ENV);
    expect(unknown.stdout).toMatch(/Input 'engine' is invalid: got "oracle"; expected one of mongodb, postgres, mysql/);
    const noKey = await runAction('backup-db', { uri: pg.uri('shop'), 'azure-connection-string': azurite.connectionString, 'encryption-recipients': recipient }, RUN_ENV);
    expect(noKey.stdout).toMatch(/Input 'decryption-identity' is needed to verify/);
    const unreachable = await runAction('backup-db', { uri: 'postgres://u:pw@127.0.0.1:1/shop', 'azure-connection-string': azurite.connectionString, container: 'unreachable' }, RUN_ENV);
    expect(unreachable.exitCode).toBe(1);
    expect(unreachable.stdout).toMatch(/::error::.*(connection refused|could not connect|Connection refused)/i);
    // The server is asked for its version (to choose the client) before anything is written: not even the container is made.
    expect(await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('unreachable').exists()).toBe(false);
  }, 120_000);
});
