import * as core from '@actions/core';
import type { ContainerClient } from '@azure/storage-blob';
import { InputError, checkUrl } from '../inputs';
import { requestOk } from '../http';

export interface AzureAuth {
  connectionString?: string;
  accountUrl?: string;
  sasToken?: string;
  clientId?: string;
  tenantId?: string;
  /** Microsoft Entra ID's host (sovereign clouds differ). */
  authorityHost?: string;
}

/**
 * A credential that trades the workflow's GitHub OIDC token for an Entra ID access token (workload
 * identity federation): no stored secret. Tokens are fetched again shortly before they expire.
 */
export function githubOidcCredential(tenantId: string, clientId: string, authorityHost = 'https://login.microsoftonline.com') {
  let cached: { token: string; expiresOnTimestamp: number } | undefined;
  return {
    async getToken(): Promise<{ token: string; expiresOnTimestamp: number }> {
      if (cached && cached.expiresOnTimestamp - Date.now() > 120_000) return cached;
      const assertion = await core.getIDToken('api://AzureADTokenExchange');
      const body = new URLSearchParams({
        client_id: clientId,
        scope: 'https://storage.azure.com/.default',
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      });
      const url = `${authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`;
      const response = await requestOk(
        { url, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString(), label: 'Microsoft Entra ID token exchange' },
        { retries: 3, timeoutMs: 30_000 },
      );
      const json = JSON.parse(response.body) as { access_token?: string; expires_in?: number };
      if (!json.access_token) throw new Error('Microsoft Entra ID answered without an access token');
      core.setSecret(json.access_token);
      cached = { token: json.access_token, expiresOnTimestamp: Date.now() + (json.expires_in ?? 3600) * 1000 };
      return cached;
    },
  };
}

/** Checks that exactly one way in is given, naming the inputs when not. */
export function checkAzureAuth(auth: AzureAuth): 'connection-string' | 'sas' | 'oidc' {
  const ways = [auth.connectionString && 'azure-connection-string', auth.sasToken && 'azure-sas-token', (auth.clientId || auth.tenantId) && 'azure-client-id/azure-tenant-id'].filter(Boolean);
  if (ways.length > 1) throw new InputError(String(ways[1]).split('/')[0] as string, '(set)', `one way into Azure, not several: got ${ways.join(' and ')}`);
  if (auth.connectionString) return 'connection-string';
  if (!auth.accountUrl) {
    throw new InputError('azure-account-url', '', 'the storage account URL (https://<account>.blob.core.windows.net) with azure-sas-token or azure-client-id + azure-tenant-id, or set azure-connection-string');
  }
  // The SAS or the access token goes to this URL with every request: https only (plain http on loopback,
  // for Azurite), no user-info and no query (a SAS belongs in azure-sas-token, which is masked).
  const accountUrl = checkUrl('azure-account-url', auth.accountUrl, { secret: true });
  if (accountUrl.search || accountUrl.hash) throw new InputError('azure-account-url', auth.accountUrl, 'the account URL without a query (give a SAS in azure-sas-token)', true);
  if (auth.sasToken) return 'sas';
  if (!auth.clientId || !auth.tenantId) throw new InputError(auth.clientId ? 'azure-tenant-id' : 'azure-client-id', '', 'both azure-client-id and azure-tenant-id for OIDC (or azure-sas-token)');
  // The workflow's OIDC token is sent to it.
  if (auth.authorityHost) checkUrl('azure-authority-host', auth.authorityHost);
  return 'oidc';
}

/** The container client for the chosen way in; the SDK retries transient failures itself. */
export async function containerClient(auth: AzureAuth, container: string): Promise<ContainerClient> {
  const { BlobServiceClient } = await import('@azure/storage-blob');
  const retryOptions = { maxTries: 5 };
  const way = checkAzureAuth(auth);
  if (way === 'connection-string') return BlobServiceClient.fromConnectionString(auth.connectionString as string, { retryOptions }).getContainerClient(container);
  const url = (auth.accountUrl as string).replace(/\/+$/, '');
  if (way === 'sas') return new BlobServiceClient(`${url}?${(auth.sasToken as string).replace(/^\?/, '')}`, undefined, { retryOptions }).getContainerClient(container);
  return new BlobServiceClient(url, githubOidcCredential(auth.tenantId as string, auth.clientId as string, auth.authorityHost), { retryOptions }).getContainerClient(container);
}
