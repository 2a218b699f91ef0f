// Bundles every JavaScript action into dist/<action>/ with ncc. With --check, builds into a temporary
// folder and fails when the committed dist/ differs, so a stale bundle never lands.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const ncc = join(root, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js');

function jsActions() {
  return readdirSync(join(root, 'actions'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, 'actions', d.name, 'src', 'main.ts')))
    .map((d) => d.name)
    .filter((name) => only.length === 0 || only.includes(name));
}

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

// Types are checked once by `npm run typecheck`; ncc only strips them (--transpile-only), which emits
// the same bundle in a third of the time. Actions are bundled side by side, one per core.
function build(name, outDir) {
  rmSync(outDir, { recursive: true, force: true });
  const args = [ncc, 'build', join(root, 'actions', name, 'src', 'main.ts'), '--out', outDir, '--license', 'licenses.txt', '--minify', '--transpile-only', '--target', 'es2023', '--quiet'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`ncc failed for ${name} (exit code ${code})`));
      // The bundle is ESM: node must be told so, as the action's own package.json is not beside it.
      writeFileSync(join(outDir, 'package.json'), '{\n  "type": "module"\n}\n');
      resolve();
    });
  });
}

const stale = [];
async function buildOrCheck(name) {
  const dist = join(root, 'dist', name);
  if (!check) {
    await build(name, dist);
    console.log(`built dist/${name}/ (${listFiles(dist).join(', ')})`);
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), `slipway-dist-${name}-`));
  try {
    await build(name, tmp);
    const fresh = listFiles(tmp);
    const committed = listFiles(dist);
    for (const file of new Set([...fresh, ...committed])) {
      const a = join(tmp, file);
      const b = join(dist, file);
      if (!existsSync(a) || !existsSync(b) || !readFileSync(a).equals(readFileSync(b))) stale.push(`dist/${name}/${file}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const queue = jsActions();
const worker = async () => {
  for (let name = queue.shift(); name; name = queue.shift()) await buildOrCheck(name);
};
try {
  await Promise.all(Array.from({ length: Math.min(availableParallelism(), queue.length) }, worker));
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
if (check) {
  if (stale.length) {
    console.error(`dist/ is stale; run \`npm run build\` and commit the result. Differs:\n  ${stale.join('\n  ')}`);
    process.exit(1);
  }
  console.log('dist/ matches the source.');
}
