import { createRequire } from 'node:module';
import { join } from 'node:path';

const AsyncFunction = (async () => {}).constructor;
// github-script's require resolves from the workspace, and node: builtins as usual.
const require = createRequire(join(process.env.GITHUB_WORKSPACE ?? process.cwd(), 'noop.js'));
try {
  await new AsyncFunction('require', process.env.INPUT_SCRIPT ?? '')(require);
} catch (error) {
  console.log(`::error::Unhandled error: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
