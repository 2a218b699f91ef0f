// Bundles every JavaScript action into dist/<action>/ with ncc. With --check, builds into a temporary
// folder and fails when the committed dist/ differs, so a stale bundle never lands.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

function build(name, outDir) {
  rmSync(outDir, { recursive: true, force: true });
  const result = spawnSync(
    process.execPath,
    [ncc, 'build', join(root, 'actions', name, 'src', 'main.ts'), '--out', outDir, '--license', 'licenses.txt', '--minify', '--target', 'es2023', '--quiet'],
    { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (result.status !== 0) {
    console.error(`ncc failed for ${name}`);
    process.exit(1);
  }
  // The bundle is ESM: node must be told so, as the action's own package.json is not beside it.
  writeFileSync(join(outDir, 'package.json'), '{\n  "type": "module"\n}\n');
}

const stale = [];
for (const name of jsActions()) {
  const dist = join(root, 'dist', name);
  if (!check) {
    build(name, dist);
    console.log(`built dist/${name}/ (${listFiles(dist).join(', ')})`);
    continue;
  }
  const tmp = mkdtempSync(join(tmpdir(), `slipway-dist-${name}-`));
  try {
    build(name, tmp);
    const fresh = listFiles(tmp);
    const committed = listFiles(dist);
    const names = new Set([...fresh, ...committed]);
    for (const file of names) {
      const a = join(tmp, file);
      const b = join(dist, file);
      if (!existsSync(a) || !existsSync(b) || !readFileSync(a).equals(readFileSync(b))) stale.push(`dist/${name}/${file}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
if (check) {
  if (stale.length) {
    console.error(`dist/ is stale; run \`npm run build\` and commit the result. Differs:\n  ${stale.join('\n  ')}`);
    process.exit(1);
  }
  console.log('dist/ matches the source.');
}
