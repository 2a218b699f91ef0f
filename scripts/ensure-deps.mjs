// Runs before `npm test` with nothing but Node: installs node_modules when missing or stale, then
// provisions the system packages the tests start as real services. Safe to run again: it only acts on
// what is missing.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = join(root, 'node_modules', '.slipway-deps');

/** What tests need from Debian: the command that must exist and the package that provides it. */
const SYSTEM = [
  { command: 'prometheus-pushgateway', pkg: 'prometheus-pushgateway', why: 'metrics push tests' },
  { command: 'openssl', pkg: 'openssl', why: 'TLS certificates for the SMTP tests' },
];

function sh(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  return result.status === 0;
}

function lockHash() {
  const hash = createHash('sha256');
  for (const file of ['package-lock.json', 'package.json']) {
    if (existsSync(join(root, file))) hash.update(readFileSync(join(root, file)));
  }
  return hash.digest('hex');
}

function ensureNodeModules() {
  const want = lockHash();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  console.log('[slipway] installing node_modules (missing or older than package-lock.json) …');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const args = existsSync(join(root, 'package-lock.json')) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'];
  if (!sh(npm, args)) fail('`npm ci` failed; see the output above.');
  writeFileSync(stamp, want);
}

function have(command) {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { stdio: 'ignore' }).status === 0;
}

function ensureSystemPackages() {
  const missing = SYSTEM.filter((s) => !have(s.command));
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
  for (const m of missing) if (!have(m.command)) fail(`${m.pkg} was installed but '${m.command}' is still not on PATH.`);
}

function fail(message) {
  console.error(`[slipway] ${message}`);
  process.exit(1);
}

ensureNodeModules();
ensureSystemPackages();
