// The Actions cache stand-in is only as good as its checks: its v2 (Twirp) side must refuse what the
// service would, and the signed URLs it hands out must allow no more than the service's do.
import { BlockBlobClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type Azurite } from '../services/azurite';
import { startActionsCache, type ActionsCache } from './actions-cache';

const TOKEN = 'actions-runtime-token-for-tests';
const VERSION = 'a'.repeat(64);
let azurite: Azurite;
let service: ActionsCache;
beforeAll(async () => {
  azurite = await startAzurite();
  service = await startActionsCache(TOKEN, azurite);
}, 60_000);
afterAll(async () => {
  await service?.stop();
  await azurite?.stop();
});

async function call(method: string, body: object, token = TOKEN): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${service.resultsUrl}twirp/github.actions.results.api.v1.CacheService/${method}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('Actions cache stand-in, v2 (Twirp)', () => {
  it('refuses a wrong token, fields the messages do not define, wrong types and keys the service refuses', async () => {
    expect(await call('CreateCacheEntry', { key: 'k', version: VERSION }, 'wrong')).toMatchObject({ status: 401, body: { code: 'unauthenticated' } });
    expect(await call('CreateCacheEntry', { key: 'k', version: VERSION, sizeBytes: '1' })).toMatchObject({ status: 400, body: { code: 'malformed', msg: expect.stringContaining('sizeBytes is not a field') } });
    expect(await call('FinalizeCacheEntryUpload', { key: 'k', version: VERSION, size_bytes: '1.5' })).toMatchObject({ status: 400, body: { msg: 'size_bytes must be an int64 (a decimal string or an integer)' } });
    expect(await call('GetCacheEntryDownloadURL', { key: 'k', version: VERSION, restore_keys: 'k-' })).toMatchObject({ status: 400, body: { msg: 'restore_keys must be an array of strings' } });
    expect(await call('CreateCacheEntry', { key: 'k', version: VERSION, metadata: { repository_id: '1', scope: [{ scope: 'refs/heads/main', permission: 'write' }] } })).toMatchObject({ status: 400, body: { msg: 'metadata.scope[0].permission must be an int64 (a decimal string or an integer)' } });
    expect(await call('CreateCacheEntry', { key: 'a,b', version: VERSION })).toMatchObject({ status: 400, body: { code: 'invalid_argument', msg: 'key contains a comma' } });
    expect(await call('CreateCacheEntry', { key: 'k'.repeat(513), version: VERSION })).toMatchObject({ status: 400 });
    expect(await call('CreateCacheEntry', { key: 'k' })).toMatchObject({ status: 400, body: { msg: 'version is required' } });
    expect(await call('DeleteCacheEntry', { key: 'k', version: VERSION })).toMatchObject({ status: 404, body: { code: 'bad_route' } });
    expect(service.problems).toHaveLength(9);
    service.problems.length = 0;
  });

  it('reserves once per key and version, signs an upload-only and a download-only URL, and finalizes only the uploaded size', async () => {
    const created = await call('CreateCacheEntry', { key: 'deps-linux-1', version: VERSION });
    expect(created).toMatchObject({ status: 200, body: { ok: true } });
    expect(await call('CreateCacheEntry', { key: 'deps-linux-1', version: VERSION })).toMatchObject({ status: 409, body: { code: 'already_exists' } });
    const upload = created.body.signed_upload_url as string;
    const data = Buffer.from('an archive of the cached paths');
    await new BlockBlobClient(upload).upload(data, data.length);
    // The upload URL cannot read, and a URL whose signature is altered is refused by Azurite itself.
    expect((await fetch(upload)).status).toBe(403);
    const altered = new URL(upload);
    altered.searchParams.set('sig', Buffer.alloc(32).toString('base64'));
    expect((await fetch(altered, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: 'tampered' })).status).toBe(403);

    expect(await call('GetCacheEntryDownloadURL', { key: 'deps-linux-1', version: VERSION })).toMatchObject({ status: 200, body: { ok: false } });
    expect(await call('FinalizeCacheEntryUpload', { key: 'deps-linux-1', version: VERSION, size_bytes: String(data.length + 1) })).toMatchObject({ status: 400, body: { msg: `size_bytes ${data.length + 1} is not the ${data.length} bytes uploaded` } });
    expect(await call('FinalizeCacheEntryUpload', { key: 'deps-linux-1', version: VERSION, size_bytes: String(data.length) })).toMatchObject({ status: 200, body: { ok: true, entry_id: expect.stringMatching(/^\d+$/) } });
    expect(await call('FinalizeCacheEntryUpload', { key: 'deps-linux-1', version: VERSION, size_bytes: String(data.length) })).toMatchObject({ status: 404, body: { code: 'not_found' } });

    // Found by a restore key's prefix, within its version only; the download URL cannot write.
    expect(await call('GetCacheEntryDownloadURL', { key: 'deps-linux-1', version: 'b'.repeat(64), restore_keys: ['deps-'] })).toMatchObject({ body: { ok: false } });
    const found = await call('GetCacheEntryDownloadURL', { key: 'deps-linux-2', version: VERSION, restore_keys: ['deps-linux-'] });
    expect(found).toMatchObject({ status: 200, body: { ok: true, matched_key: 'deps-linux-1' } });
    const download = found.body.signed_download_url as string;
    expect(Buffer.from(await (await fetch(download)).arrayBuffer())).toEqual(data);
    expect((await fetch(download, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: 'overwritten' })).status).toBe(403);
    expect(service.entries()).toEqual([{ key: 'deps-linux-1', version: VERSION, protocol: 'v2', size: data.length }]);
    expect(service.problems).toEqual([`POST FinalizeCacheEntryUpload: size_bytes ${data.length + 1} is not the ${data.length} bytes uploaded`, 'POST FinalizeCacheEntryUpload: no cache entry reserved for key deps-linux-1 and version ' + VERSION]);
  });
});
