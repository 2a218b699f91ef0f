// backup-db benchmark: wall time of the action as the runner runs it (gzip level 1, upload to a real
// Azurite) against the same dump tool piped to `gzip -1 > file`, measured in the same run and
// interleaved, so the ratio does not depend on the machine; and the action's peak RSS at two sizes,
// which must stay flat as the data grows. Sizes, runs and engines can be narrowed by environment.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { MongoClient } from 'mongodb';
import { runAction } from '../test/helpers/action';
import { runEnv } from '../test/helpers/run-env';
import { startAzurite, type Azurite } from '../test/services/azurite';
import { startFerretDb } from '../test/services/ferretdb';
import { startPostgres } from '../test/services/postgres';
import { requireCommand } from '../test/services/process';

const MiB = 1024 * 1024;
const SIZES = (process.env.BENCH_BACKUP_SIZES ?? '100,1024').split(',').map(Number);
const RUNS = Number(process.env.BENCH_BACKUP_RUNS ?? 3);
const ENGINES = (process.env.BENCH_BACKUP_ENGINES ?? 'postgres,mongodb').split(',');
const PROBE = join(import.meta.dirname, 'rss-probe.mjs');
const work = mkdtempSync(join(tmpdir(), 'slipway-bench-backup-'));

interface Sample {
  seconds: number;
  storedBytes: number;
  rawBytes?: number;
  rssMiB?: number;
}

const exitOf = (child: ChildProcess) => new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** The baseline: `<dump tool> | gzip -1 > file`, two processes joined by a pipe, no shell. */
async function dumpToGzip(command: string, args: string[]): Promise<Sample> {
  const out = join(work, 'baseline.gz');
  const started = performance.now();
  const file = openSync(out, 'w');
  const dump = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const gzip = spawn('gzip', ['-1'], { stdio: [dump.stdout, file, 'inherit'] });
  // gzip has its own copy of the pipe; ours would keep it open and the dump's exit unreported.
  dump.stdout?.destroy();
  let stderr = '';
  dump.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const [dumped, zipped] = await Promise.all([exitOf(dump), exitOf(gzip)]);
  closeSync(file);
  if (dumped !== 0 || zipped !== 0) throw new Error(`${command} | gzip -1 failed (exit ${dumped}, ${zipped}):\n${stderr}`);
  const sample = { seconds: (performance.now() - started) / 1000, storedBytes: statSync(out).size };
  rmSync(out);
  return sample;
}

/** backup-db's bundle on Node 24 with INPUT_* variables; its peak RSS comes from the --import probe. */
async function backupDb(azurite: Azurite, uri: string, run: number): Promise<Sample> {
  const rssFile = join(work, `rss-${run}`);
  const started = performance.now();
  const result = await runAction(
    'backup-db',
    { uri, 'azure-connection-string': azurite.connectionString, container: 'bench', prefix: `run${run}`, compression: 'gzip', 'compression-level': '1', verify: 'none', summary: 'false' },
    { ...runEnv(String(run)), NODE_OPTIONS: `--import=${PROBE}`, SLIPWAY_RSS_FILE: rssFile },
  );
  const seconds = (performance.now() - started) / 1000;
  if (result.exitCode !== 0) throw new Error(`backup-db failed (exit ${result.exitCode}):\n${result.stdout}${result.stderr}`);
  // Keep Azurite's folder small: each run's blob goes once it is measured.
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('bench');
  const name = result.outputs['backup-name'] ?? '';
  await Promise.all([container.deleteBlob(name), container.deleteBlob(`${name}.manifest.json`)]);
  return {
    seconds,
    storedBytes: Number(result.outputs['size-bytes']),
    rawBytes: Number(result.outputs['raw-size-bytes']),
    rssMiB: Number(readFileSync(rssFile, 'utf8')) / 1024,
  };
}

interface Row {
  engine: string;
  data: string;
  baselineName: string;
  baseline: Sample[];
  action: Sample[];
}

let runNumber = 0;
/** Baseline and action interleaved, so drift in the machine's speed hits both alike. */
async function measure(engine: string, data: string, baselineName: string, baseline: () => Promise<Sample>, action: () => Promise<Sample>): Promise<Row> {
  const row: Row = { engine, data, baselineName, baseline: [], action: [] };
  for (let i = 0; i < RUNS; i++) {
    row.baseline.push(await baseline());
    row.action.push(await action());
    console.error(`  ${engine} ${data} run ${i + 1}/${RUNS}: ${baselineName} ${row.baseline.at(-1)?.seconds.toFixed(2)} s, backup-db ${row.action.at(-1)?.seconds.toFixed(2)} s`);
  }
  return row;
}

async function benchPostgres(azurite: Azurite): Promise<Row[]> {
  requireCommand('pgbench', 'apt-get install postgresql-client');
  const pg = await startPostgres();
  const rows: Row[] = [];
  try {
    for (const size of SIZES) {
      const db = `bench_${size}`;
      pg.sql(`create database ${db}`);
      // pgbench's tables take about 15 MiB per scale unit with their indexes.
      const scale = Math.max(1, Math.round(size / 15));
      console.error(`PostgreSQL: pgbench -i -s ${scale} into ${db} …`);
      const init = spawnSync('pgbench', ['-i', '-q', '-I', 'dtGvp', '-s', String(scale), pg.uri(db)], { encoding: 'utf8' });
      if (init.status !== 0) throw new Error(`pgbench -i failed:\n${init.stderr}`);
      const bytes = Number(pg.sql(`select pg_database_size('${db}')`).trim());
      // The same pg_dump arguments the action uses, less the exported snapshot.
      const args = ['--format=custom', '--compress=0', '--no-password', `--dbname=${pg.uri(db)}`];
      rows.push(await measure('PostgreSQL', `${(bytes / MiB).toFixed(0)} MiB database`, 'pg_dump | gzip -1', () => dumpToGzip('pg_dump', args), () => backupDb(azurite, pg.uri(db), ++runNumber)));
      pg.sql(`drop database ${db}`);
    }
  } finally {
    await pg.stop();
  }
  return rows;
}

/** Deterministic documents of about 1 KiB with text that compresses like real records (about 3:1). */
function* documents(count: number): Generator<Record<string, unknown>> {
  const words = 'order customer shipped pending invoice refund warehouse berlin paris tokyo express standard fragile gift priority returned delayed'.split(' ');
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let i = 0; i < count; i++) {
    const text = Array.from({ length: 110 }, () => words[next() % words.length]).join(' ');
    yield { i, customer: `customer-${next() % 100_000}`, amount: (next() % 100_000) / 100, at: new Date(1_700_000_000_000 + i * 1000), tags: [words[next() % words.length], words[next() % words.length]], text };
  }
}

async function benchMongo(azurite: Azurite): Promise<Row[]> {
  requireCommand('mongodump', 'build it with `node scripts/ensure-deps.mjs` (MongoDB Database Tools from the Go module proxy)');
  const mongo = await startFerretDb();
  const rows: Row[] = [];
  try {
    for (const size of SIZES) {
      const db = `bench_${size}`;
      const count = Math.round((size * MiB) / 1024);
      console.error(`MongoDB (FerretDB): inserting ${count} documents into ${db}.events …`);
      const client = new MongoClient(mongo.uri());
      const events = client.db(db).collection('events');
      let batch: Record<string, unknown>[] = [];
      for (const doc of documents(count)) {
        batch.push(doc);
        if (batch.length === 2000) {
          await events.insertMany(batch, { ordered: false });
          batch = [];
        }
      }
      if (batch.length) await events.insertMany(batch, { ordered: false });
      const stats = await client.db(db).command({ dbStats: 1 });
      await client.close();
      const data = `${count.toLocaleString('en')} docs, ${(Number(stats.dataSize) / MiB).toFixed(0)} MiB`;
      const args = [`--uri=${mongo.uri(db)}`, '--archive', '--quiet'];
      rows.push(await measure('MongoDB', data, 'mongodump --archive | gzip -1', () => dumpToGzip('mongodump', args), () => backupDb(azurite, mongo.uri(db), ++runNumber)));
      const drop = new MongoClient(mongo.uri());
      await drop.db(db).dropDatabase();
      await drop.close();
    }
  } finally {
    await mongo.stop();
  }
  return rows;
}

const azurite = await startAzurite();
const rows: Row[] = [];
try {
  if (ENGINES.includes('postgres')) rows.push(...(await benchPostgres(azurite)));
  if (ENGINES.includes('mongodb')) rows.push(...(await benchMongo(azurite)));
} finally {
  await azurite.stop();
  rmSync(work, { recursive: true, force: true });
}

const mib = (bytes: number) => (bytes / MiB).toFixed(1);
console.log(`\nbackup-db, median of ${RUNS} interleaved runs, Node ${process.versions.node}, ${spawnSync('nproc').stdout.toString().trim()} cores (goals: ratio ≤ 1.15; peak RSS flat and ≤ 200 MB)\n`);
console.log('| engine | data | raw dump MiB | stored MiB | baseline | baseline s | backup-db s | ratio | backup-db peak RSS MiB |');
console.log('|---|---|---:|---:|---|---:|---:|---:|---:|');
for (const row of rows) {
  const base = median(row.baseline.map((s) => s.seconds));
  const ours = median(row.action.map((s) => s.seconds));
  const rss = Math.max(...row.action.map((s) => s.rssMiB ?? 0));
  const last = row.action.at(-1);
  console.log(
    `| ${row.engine} | ${row.data} | ${mib(last?.rawBytes ?? 0)} | ${mib(last?.storedBytes ?? 0)} | \`${row.baselineName.replace(/\|/g, '\\|')}\` | ${base.toFixed(2)} | ${ours.toFixed(2)} | ${(ours / base).toFixed(2)} | ${rss.toFixed(0)} |`,
  );
}
