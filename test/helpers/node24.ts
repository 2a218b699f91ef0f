/**
 * The Node that runs the action bundles in tests: the one running the tests, which `npm test` starts
 * on Node 24 (scripts/node24.mjs), the runtime `runs: using: node24` gives.
 */
export function node24(): string {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24) throw new Error(`The tests run on Node ${process.versions.node}; run them with \`npm test\`, which starts them on Node 24.`);
  return process.execPath;
}
