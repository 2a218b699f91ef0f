// `npm run cluster` (which first provisions the tools with ensure-deps): starts a local cluster on loopback and keeps
// it up until Ctrl-C, then stops every process and removes its folder. Each run is a fresh cluster on
// free ports, so several can run side by side.
import { startCluster } from '../test/cluster/cluster';
import { binDir } from '../test/cluster/tools.mjs';

const started = Date.now();
const cluster = await startCluster();
console.log(`Local cluster up in ${((Date.now() - started) / 1000).toFixed(1)} s at ${cluster.server}. In another shell:\n`);
console.log(`  export KUBECONFIG=${cluster.kubeconfig} PATH=${binDir()}:$PATH`);
console.log('  kubectl get nodes\n\nCtrl-C stops it.');
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping the local cluster …');
    cluster.stop().then(() => process.exit(0), (error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  });
}
