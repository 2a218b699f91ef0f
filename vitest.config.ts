import { spawnSync } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { homedir } from 'node:os';
import { defineConfig } from 'vitest/config';
import { binDir } from './test/cluster/tools.mjs';

// The pretest builds FerretDB, the MongoDB tools, act and actionlint into GOPATH/bin and zizmor into
// ~/.cargo/bin, which are often not on PATH.
const gopath = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).stdout?.trim() || join(homedir(), 'go');
const cargoBin = join(process.env.CARGO_HOME ?? join(homedir(), '.cargo'), 'bin');

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'actions/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start real servers on loopback; two cores, so keep files parallel but bounded.
    maxWorkers: 2,
    // kubectl, helm and helm3 of the local cluster's pinned tools come first (test/cluster/tools.mjs).
    env: { PATH: [binDir(), process.env.PATH, join(gopath, 'bin'), cargoBin].filter(Boolean).join(delimiter) },
    // One local Kubernetes control plane for the run, for the tests that need one (test/cluster/).
    globalSetup: ['test/cluster/global-setup.ts'],
  },
});
