import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadBlocks } from '../src/azure/block-upload';
import { compressStream, decompressStream } from '../src/backup/compression';
import { decryptStream, encryptStream, parseIdentities } from '../src/backup/encryption';
import { dumpPostgres, pgConnection } from '../src/backup/postgres';
import { exec } from '../src/index';
import { startAzurite, type Azurite } from '../../../test/services/azurite';
import { startPostgres, type Postgres } from '../../../test/services/postgres';
import { collect } from '../../../test/helpers/streams';

let pg: Postgres;
let azurite: Azurite;
const dir = mkdtempSync(join(tmpdir(), 'slipway-pgstream-'));

beforeAll(async () => {
  [pg, azurite] = await Promise.all([startPostgres(), startAzurite()]);
  pg.sql('create database shop');
  pg.sql(
    `create schema sales;
     create table sales.orders (id bigserial primary key, customer text not null, payload bytea, placed timestamptz default now());
     insert into sales.orders (customer, payload) select 'customer ' || g || ' ü', decode(md5(g::text), 'hex') from generate_series(1, 5000) g;
     create view sales.big_orders as select * from sales.orders where id > 4000;
     create table public.notes (id int primary key, body text);
     insert into public.notes values (1, 'hello'), (2, repeat('x', 100000));`,
    'shop',
  );
}, 120_000);
afterAll(async () => {
  await Promise.all([pg?.stop(), azurite?.stop()]);
});

describe('pg_dump → gzip → age → Azure blob, and back into a new database', () => {
  it('round-trips schemas, bytea, sequences and views', async () => {
    await exec('age-keygen', ['-o', join(dir, 'key.txt')], { silent: true });
    const recipient = (await exec('age-keygen', ['-y', join(dir, 'key.txt')], { silent: true })).stdout.trim();
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('backups');
    await container.createIfNotExists();
    const blob = container.getBlockBlobClient('postgres/shop/test.dump.gz.age');

    const stream = await encryptStream(compressStream(dumpPostgres(pg.uri('shop'), { onStderr: () => {} }).stream, 'gzip', 1), { recipients: [recipient] });
    const uploaded = await uploadBlocks(blob, stream, { blockSize: 256 * 1024 });
    expect(uploaded.sizeBytes).toBeGreaterThan(10_000);

    const download = (await blob.download()).readableStreamBody as AsyncIterable<Buffer>;
    const identities = parseIdentities(readFileSync(join(dir, 'key.txt'), 'utf8'));
    const plain = decompressStream(await decryptStream(download, { identities }), 'gzip');
    writeFileSync(join(dir, 'shop.dump'), await collect(plain));

    pg.sql('create database restored');
    const target = pgConnection(pg.uri('restored'));
    await exec('pg_restore', ['--no-password', '--exit-on-error', `--dbname=${target.dbname}`, join(dir, 'shop.dump')], {
      env: { ...process.env, PGPASSWORD: target.password },
      silent: true,
    });
    const probe = `select count(*), sum(length(payload)), max(id) from sales.orders;
                   select count(*) from sales.big_orders;
                   select nextval('sales.orders_id_seq');
                   select length(body) from public.notes where id = 2;`;
    expect(pg.sql(probe, 'restored')).toBe(pg.sql(probe, 'shop'));
  });

  it('fails the stream, naming no password, when pg_dump cannot log in', async () => {
    const wrong = pg.uri('shop').replace(encodeURIComponent(pg.password), 'wrong-password');
    const consume = async () => {
      for await (const chunk of compressStream(dumpPostgres(wrong, { onStderr: () => {} }).stream, 'gzip', 1)) expect(chunk).toBeDefined();
    };
    const error = await consume().catch((e: Error) => e);
    expect(String(error)).toMatch(/psql failed:[\s\S]*password authentication failed/);
    expect(String(error)).not.toContain('wrong-password');
  });

  it('rejects a URI that is not PostgreSQL, naming the input and masking it', () => {
    expect(() => pgConnection('mysql://u:secret@h/db')).toThrow(/Input 'uri' is invalid: got "mysql:\/\/h\/\*\*\*"; expected a URI starting with postgres:\/\//);
    expect(() => pgConnection('postgres://u:secret@h/')).toThrow(/names the database/);
  });
});
