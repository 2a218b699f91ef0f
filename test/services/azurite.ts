import { BlobServiceClient, type BlobItem } from '@azure/storage-blob';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net';
import { node24 } from '../helpers/node24';
import { startService, type Service } from './process';

const MAIN = join(import.meta.dirname, '..', '..', 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js');

/** Azurite's well-known development account (public, documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite extends Service {
  connectionString: string;
  /** Every blob of a container with its metadata, sidecars included. */
  blobs(container: string): Promise<BlobItem[]>;
  /** Stops the server but keeps its data, so a test can start it again on the same port. */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

export interface AzuriteOptions {
  /** Serve HTTPS with this certificate and key (PEM); clients must trust the certificate. */
  tls?: { cert: string; key: string };
  /** Accept OAuth bearer tokens (Azurite checks audience, issuer and lifetime; needs `tls`). */
  oauth?: boolean;
}

/** Azurite (npm) Blob service on a free loopback port with a throwaway data folder. Needs Node ≥ 22. */
export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  if (!existsSync(MAIN)) throw new Error('Azurite is not installed: run `npm ci` (devDependency azurite).');
  const port = await freePort();
  const location = mkdtempSync(join(tmpdir(), 'slipway-azurite-'));
  const args = [MAIN, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', location, '--silent', '--skipApiVersionCheck', '--loose'];
  if (options.tls) {
    writeFileSync(join(location, 'cert.pem'), options.tls.cert);
    writeFileSync(join(location, 'key.pem'), options.tls.key);
    args.push('--cert', join(location, 'cert.pem'), '--key', join(location, 'key.pem'));
  }
  if (options.oauth) args.push('--oauth', 'basic');
  let proc = await startService('Azurite', node24(), args, port);
  const scheme = options.tls ? 'https' : 'http';
  const url = `${scheme}://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const connectionString = `DefaultEndpointsProtocol=${scheme};AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${url};`;
  return {
    url,
    port,
    connectionString,
    async blobs(container) {
      const items: BlobItem[] = [];
      for await (const blob of BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container).listBlobsFlat({ includeMetadata: true })) items.push(blob);
      return items;
    },
    pause: () => proc.stop(),
    resume: async () => {
      proc = await startService('Azurite', node24(), args, port);
    },
    stop: async () => {
      await proc.stop();
      rmSync(location, { recursive: true, force: true });
    },
  };
}
