import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A kubeconfig given as content (a secret), written to a 0600 file in a private folder so kubectl and
 * helm can read it; remove() deletes both. Without content there is no file: the tools then use the
 * runner's KUBECONFIG or ~/.kube/config.
 */
export class KubeconfigFile {
  readonly path?: string;
  private readonly dir?: string;

  constructor(content: string | undefined) {
    if (!content) return;
    this.dir = mkdtempSync(join(tmpdir(), 'slipway-kube-'));
    this.path = join(this.dir, 'kubeconfig');
    writeFileSync(this.path, content, { mode: 0o600 });
  }

  remove(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
