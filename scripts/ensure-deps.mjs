// Runs before `npm test` with nothing but Node: installs node_modules when missing or stale, then
// provisions the system packages the tests start as real services. Safe to run again: it only acts on
// what is missing. With --demo, only what `npm run demo` starts (no Go, Rust or Kubernetes builds).
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureClusterTools } from '../test/cluster/tools.mjs';
import { ensureEmbeddedPostgres } from '../test/services/embedded-postgres.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
// npm writes this after every install; older than package-lock.json means node_modules is stale.
const installed = join(root, 'node_modules', '.package-lock.json');

const DEMO = process.argv.includes('--demo');

/** What tests need from Debian: the command that must exist and the package that provides it; `demo` also for `npm run demo`. */
const SYSTEM = [
  { command: 'prometheus-pushgateway', pkg: 'prometheus-pushgateway', why: 'metrics push tests' },
  { command: 'openssl', pkg: 'openssl', why: 'TLS certificates for the SMTP tests' },
  { command: 'age', pkg: 'age', why: 'the standard age CLI decrypts what backups encrypt' },
  { command: 'zstd', pkg: 'zstd', why: 'the standard zstd CLI reads what backups compress' },
  { command: 'unzip', pkg: 'unzip', why: 'kubectl and helm come zipped in an npm package' },
  { command: 'zip', pkg: 'zip', why: 'Helm\'s Windows releases are .zip archives; a test zips one as they are laid out' },
  { command: 'nginx', pkg: 'nginx', why: 'the nginx traffic router is tested against a real nginx', demo: true },
  { command: 'prometheus', pkg: 'prometheus', why: 'watch queries and canary analysis read a real Prometheus', demo: true },
  // The client tools often come without the server; look for the server binary itself.
  { command: 'mariadbd', pkg: 'mariadb-server', why: 'MariaDB server for backup tests' },
  { command: 'mariadb-dump', pkg: 'mariadb-client', why: 'MariaDB client and dump tool for backup tests' },
  { command: 'buildah', pkg: 'buildah', why: 'build-scan builds images daemonlessly with buildah' },
  { command: 'skopeo', pkg: 'skopeo', why: 'build-scan pushes the scanned OCI layout byte for byte with skopeo' },
  { command: 'shellcheck', pkg: 'shellcheck', why: 'actionlint checks the workflows\' run: scripts with shellcheck' },
  { command: 'docker-registry', pkg: 'docker-registry', why: 'build-scan pushes to a real registry on loopback' },
  { command: 'postgres', pkg: 'postgresql', why: 'PostgreSQL server for backup tests', present: () => debianServer('postgresql', 'postgres'), demo: true },
];

function sh(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  return result.status === 0;
}

function ensureNodeModules() {
  const lock = join(root, 'package-lock.json');
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return;
  console.log('[slipway] installing node_modules (missing or older than package-lock.json) …');
  if (!sh(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['ci', '--no-audit', '--no-fund'])) fail('`npm ci` failed; see the output above.');
}

/** Debian installs versioned servers off PATH, e.g. /usr/lib/postgresql/15/bin/postgres. */
function debianServer(folder, binary) {
  const root = join('/usr/lib', folder);
  return existsSync(root) && readdirSync(root).some((version) => existsSync(join(root, version, 'bin', binary)));
}

function have(command) {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { stdio: 'ignore' }).status === 0;
}

function ensureSystemPackages() {
  const isPresent = (s) => (s.present ? s.present() : have(s.command));
  const missing = SYSTEM.filter((s) => (!DEMO || s.demo) && !isPresent(s));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  console.log(`[slipway] installing Debian packages for tests: ${pkgs.join(' ')} (${missing.map((m) => m.why).join('; ')})`);
  if (!have('apt-get')) fail(`apt-get is not available; install ${pkgs.join(' ')} by hand.`);
  // As root apt-get runs directly; otherwise through passwordless sudo, never a prompt.
  const aptEnv = { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } };
  const asRoot = (args) => (process.getuid?.() === 0 ? sh('apt-get', args, aptEnv) : sh('sudo', ['-n', 'apt-get', ...args], aptEnv));
  if (!asRoot(['update', '-qq']) || !asRoot(['install', '-y', '-qq', '--no-install-recommends', ...pkgs])) {
    fail(`could not install ${pkgs.join(' ')} with apt-get (run as root or with passwordless sudo, or install them by hand).`);
  }
  for (const m of missing) if (!isPresent(m)) fail(`${m.pkg} was installed but '${m.command}' is still not there.`);
}

/**
 * Programs built from the Go module proxy into $(go env GOPATH)/bin. `go install mod@version` cannot
 * be used: it asks the proxy for the module's version list (for deprecation notices), which this
 * machine's proxy refuses, and FerretDB's module zip lacks the version file its build embeds. So each
 * is downloaded at its pinned version, copied out of the read-only module cache and built.
 */
const GO = [
  {
    command: 'ferretdb',
    module: 'github.com/FerretDB/FerretDB',
    version: 'v1.24.2',
    packages: [['ferretdb', './cmd/ferretdb']],
    prepare: (dir) => writeFileSync(join(dir, 'build/version/version.txt'), 'v1.24.2\n'),
    why: 'FerretDB, the MongoDB-protocol server for backup tests',
  },
  {
    // The MongoDB Database Tools tag versions without a `v`, so the proxy knows them only by commit.
    // A July 2025 commit after release 100.12.2. mongorestore checks that our archives restore; mongodump
    // is the benchmark's baseline.
    command: 'mongorestore',
    module: 'github.com/mongodb/mongo-tools',
    version: 'v0.0.0-20250715155915-887641268977',
    packages: [['mongorestore', './mongorestore/main'], ['mongodump', './mongodump/main']],
    env: { GONOSUMDB: 'github.com/mongodb/mongo-tools' },
    why: 'mongorestore/mongodump, the reference reader of mongodump archives',
  },
  {
    // build-scan's pinned default. Its module has no replace lines; it needs encoding/json/v2, which Go
    // builds only with GOEXPERIMENT=jsonv2, and its version comes from the linker as a release's does.
    command: 'trivy',
    module: 'github.com/aquasecurity/trivy',
    version: 'v0.69.3',
    packages: [['trivy', './cmd/trivy']],
    env: { GOEXPERIMENT: 'jsonv2', GOTOOLCHAIN: 'local' },
    ldflags: '-s -w -X github.com/aquasecurity/trivy/pkg/version/app.ver=0.69.3',
    why: 'Trivy, the scanner build-scan runs (secret scanning and SBOMs need no online database)',
  },
  {
    command: 'act',
    module: 'github.com/nektos/act',
    version: 'v0.2.87',
    packages: [['act', '.']],
    ldflags: '-s -w -X main.version=0.2.87',
    why: 'act, which runs the workflow templates end to end',
  },
  {
    command: 'actionlint',
    module: 'github.com/rhysd/actionlint',
    version: 'v1.7.12',
    packages: [['actionlint', './cmd/actionlint']],
    ldflags: '-s -w -X github.com/rhysd/actionlint.version=1.7.12',
    why: 'actionlint, which lints the workflows',
  },
];

/**
 * Programs from crates.io, installed with `cargo install --locked` into ~/.cargo/bin. zizmor 1.25.2 is
 * the newest whose lock file builds with Rust 1.95 (1.28 needs 1.97).
 */
const CARGO = [{ command: 'zizmor', crate: 'zizmor', version: '1.25.2', why: 'zizmor, the workflow security linter' }];

function goBin() {
  const gopath = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).stdout?.trim();
  return gopath ? join(gopath, 'bin') : undefined;
}

function ensureGoPrograms() {
  const bin = goBin();
  // Tests look in GOPATH/bin as well as PATH; see test/services/process.ts.
  const missing = GO.filter((g) => !have(g.command) && !(bin && existsSync(join(bin, g.command))));
  if (missing.length === 0) return;
  if (!bin) fail(`Go is needed to build ${missing.map((m) => m.command).join(', ')} from the Go module proxy; install Go (https://go.dev/dl/).`);
  for (const g of missing) {
    console.log(`[slipway] building ${g.packages.map(([name]) => name).join(', ')} from ${g.module}@${g.version} (${g.why}) …`);
    const env = { ...process.env, GOFLAGS: '-mod=mod', ...g.env };
    const download = spawnSync('go', ['mod', 'download', '-json', `${g.module}@${g.version}`], { encoding: 'utf8', env });
    const dir = download.status === 0 ? JSON.parse(download.stdout).Dir : undefined;
    if (!dir) fail(`could not download ${g.module}@${g.version} from the Go module proxy:\n${download.stdout}${download.stderr}`);
    const work = mkdtempSync(join(tmpdir(), 'slipway-go-'));
    try {
      cpSync(dir, work, { recursive: true });
      chmodSync(work, 0o755);
      spawnSync('chmod', ['-R', 'u+w', work]);
      g.prepare?.(work);
      for (const [name, pkg] of g.packages) {
        if (!sh('go', ['build', '-trimpath', ...(g.ldflags ? ['-ldflags', g.ldflags] : []), '-o', join(bin, name), pkg], { cwd: work, env })) fail(`building ${name} from ${g.module}@${g.version} failed; see the output above.`);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}

function ensureCargoPrograms() {
  const bin = join(process.env.CARGO_HOME ?? join(homedir(), '.cargo'), 'bin');
  const missing = CARGO.filter((c) => !have(c.command) && !existsSync(join(bin, c.command)));
  if (missing.length === 0) return;
  if (!have('cargo')) fail(`Rust's cargo is needed to build ${missing.map((m) => m.command).join(', ')} from crates.io; install it with rustup (https://rustup.rs).`);
  for (const c of missing) {
    console.log(`[slipway] building ${c.command} ${c.version} from crates.io (${c.why}) …`);
    if (!sh('cargo', ['install', '--locked', '--quiet', `${c.crate}@${c.version}`])) fail(`cargo install ${c.crate}@${c.version} failed; see the output above.`);
  }
}

function fail(message) {
  console.error(`[slipway] ${message}`);
  process.exit(1);
}

function ensureCluster() {
  try {
    ensureClusterTools();
  } catch (error) {
    fail(`the local Kubernetes tools (test/cluster/tools.mjs): ${error.message}`);
  }
}

function ensurePostgresMajors() {
  try {
    ensureEmbeddedPostgres();
  } catch (error) {
    fail(`the PostgreSQL servers of several majors (test/services/embedded-postgres.mjs): ${error.message}`);
  }
}

ensureNodeModules();
ensureSystemPackages();
if (!DEMO) {
  ensureGoPrograms();
  ensureCargoPrograms();
  ensureCluster();
  ensurePostgresMajors();
}
