// A stand-in for the GitHub Actions cache service, in both protocols @actions/cache speaks.
//
// v1, REST (`_apis/artifactcache`, as GitHub Enterprise Server serves it and @actions/cache speaks it
// without ACTIONS_CACHE_SERVICE_V2): it checks the runtime token, the API version in Accept, reserve
// before upload, Content-Range chunks that fit, and a commit whose size is what was uploaded.
//
// v2, Twirp (`/twirp/github.actions.results.api.v1.CacheService/*` under ACTIONS_RESULTS_URL, as
// github.com serves it): given an Azurite, it checks the runtime token and each JSON body against the
// message definitions (node_modules/@actions/cache/lib/generated/results/api/v1/cache.js), hands out
// SAS URLs to a blob in Azurite as the service hands out signed Azure Blob URLs (write-only to
// upload, read-only to download; Azurite checks the signature), and accepts a finalize only with the
// size of the blob that was uploaded.
//
// Both refuse a second entry for a key and version, and look keys up as the service does: each key
// exactly, then as a prefix, newest first, within the same version.
import { BlobSASPermissions, BlobServiceClient, StorageSharedKeyCredential, generateBlobSASQueryParameters, type ContainerClient } from '@azure/storage-blob';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, readBody, readBytes } from '../helpers/net';
import { AZURITE_ACCOUNT, AZURITE_KEY, type Azurite } from '../services/azurite';

export type CacheProtocol = 'v1' | 'v2';

interface Entry {
  id: number;
  protocol: CacheProtocol;
  key: string;
  version: string;
  /** v1: the uploaded chunks by offset. */
  chunks: Buffer[];
  /** v2: the blob in Azurite that the signed URLs point at. */
  blob?: string;
  size: number;
  committed: boolean;
  created: number;
}

export interface ActionsCache {
  /** ACTIONS_CACHE_URL (v1), ending in `/`. */
  url: string;
  /** ACTIONS_RESULTS_URL (v2), ending in `/`, when started with an Azurite. */
  resultsUrl?: string;
  /** Committed entries, with the protocol that saved them. */
  entries(): { key: string; version: string; protocol: CacheProtocol; size: number }[];
  problems: string[];
  stop(): Promise<void>;
}

const SERVICE = 'github.actions.results.api.v1.CacheService';
const CONTAINER = 'actions-cache';

/** A field of a Twirp message, as protobuf's JSON mapping reads it. */
type Field = 'string' | 'int64' | 'bool' | 'strings' | { message: Record<string, Field> } | { messages: Record<string, Field> };
// From the generated definitions (field names as the client sends them, useProtoFieldName).
const CACHE_SCOPE: Record<string, Field> = { scope: 'string', permission: 'int64' };
const CACHE_METADATA: Record<string, Field> = { repository_id: 'int64', scope: { messages: CACHE_SCOPE } };
const REQUESTS: Record<string, Record<string, Field>> = {
  CreateCacheEntry: { metadata: { message: CACHE_METADATA }, key: 'string', version: 'string' },
  FinalizeCacheEntryUpload: { metadata: { message: CACHE_METADATA }, key: 'string', size_bytes: 'int64', version: 'string' },
  GetCacheEntryDownloadURL: { metadata: { message: CACHE_METADATA }, key: 'string', restore_keys: 'strings', version: 'string' },
};

/** What is wrong with a JSON value as this message, if anything. The service would drop an unknown field; here it is a client bug. */
function messageProblem(value: unknown, fields: Record<string, Field>, at: string): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${at || 'the body'} is not a JSON object`;
  for (const [name, v] of Object.entries(value)) {
    const field = fields[name];
    const path = at ? `${at}.${name}` : name;
    if (!field) return `${path} is not a field of the message (fields: ${Object.keys(fields).join(', ')})`;
    if (v === null) continue; // protobuf's JSON mapping reads null as the default
    if (field === 'string' && typeof v !== 'string') return `${path} must be a string`;
    if (field === 'bool' && typeof v !== 'boolean') return `${path} must be a boolean`;
    if (field === 'int64' && !(typeof v === 'string' ? /^-?\d+$/.test(v) : Number.isSafeInteger(v))) return `${path} must be an int64 (a decimal string or an integer)`;
    if (field === 'strings' && !(Array.isArray(v) && v.every((s) => typeof s === 'string'))) return `${path} must be an array of strings`;
    if (typeof field === 'object' && 'message' in field) {
      const problem = messageProblem(v, field.message, path);
      if (problem) return problem;
    }
    if (typeof field === 'object' && 'messages' in field) {
      if (!Array.isArray(v)) return `${path} must be an array`;
      for (const [i, item] of v.entries()) {
        const problem = messageProblem(item, field.messages, `${path}[${i}]`);
        if (problem) return problem;
      }
    }
  }
  return undefined;
}

/** The key rules @actions/cache and the service share: at most 512 characters, no commas. */
const keyProblem = (key: unknown, name: string): string | undefined => (typeof key !== 'string' || key === '' ? `${name} is required` : key.length > 512 ? `${name} is longer than 512 characters` : key.includes(',') ? `${name} contains a comma` : undefined);

/** The newest committed entry of this version matching one of the keys, each exactly and then as a prefix. */
function lookup(entries: Entry[], keys: string[], version: string, protocol: CacheProtocol): Entry | undefined {
  const committed = entries.filter((e) => e.committed && e.version === version && e.protocol === protocol).sort((a, b) => b.created - a.created);
  for (const key of keys) {
    const hit = committed.find((e) => e.key === key) ?? committed.find((e) => e.key.startsWith(key));
    if (hit) return hit;
  }
  return undefined;
}

/** Starts the stand-in; with an Azurite it also serves v2, keeping the archives there. */
export async function startActionsCache(token: string, azurite?: Azurite): Promise<ActionsCache> {
  const entries: Entry[] = [];
  const problems: string[] = [];
  let container: ContainerClient | undefined;
  if (azurite) {
    container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(CONTAINER);
    await container.createIfNotExists();
  }
  const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
  /** A SAS URL to the entry's blob, as the service signs one: short-lived, and only what the step needs. */
  const signedUrl = (blob: string, permissions: string) => {
    const sas = generateBlobSASQueryParameters({ containerName: CONTAINER, blobName: blob, permissions: BlobSASPermissions.parse(permissions), expiresOn: new Date(Date.now() + 10 * 60_000) }, credential);
    return `${container?.getBlockBlobClient(blob).url}?${sas.toString()}`;
  };
  const newEntry = (protocol: CacheProtocol, key: string, version: string): Entry => {
    const entry: Entry = { id: entries.length + 1, protocol, key, version, chunks: [], size: 0, committed: false, created: Date.now() + entries.length };
    entries.push(entry);
    return entry;
  };

  async function twirp(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    const reply = (body: object) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    // Twirp's error body and the HTTP status of its code.
    const error = (code: string, msg: string, record = true) => {
      if (record) problems.push(`POST ${method}: ${msg}`);
      const status = { unauthenticated: 401, bad_route: 404, not_found: 404, already_exists: 409, invalid_argument: 400, malformed: 400, failed_precondition: 412 }[code] ?? 500;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code, msg }));
    };
    if (!container) return error('bad_route', 'this stand-in was started without Azurite, so it serves only v1');
    const fields = REQUESTS[method];
    if (req.method !== 'POST' || !fields) return error('bad_route', `no such method: ${req.method} ${SERVICE}/${method}`);
    if (req.headers.authorization !== `Bearer ${token}`) return error('unauthenticated', 'the runtime token is missing or wrong');
    if (String(req.headers['content-type']).split(';')[0] !== 'application/json') return error('bad_route', `Content-Type must be application/json, got ${req.headers['content-type']}`);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(await readBody(req)) as Record<string, unknown>;
    } catch {
      return error('malformed', 'the body is not JSON');
    }
    const shape = messageProblem(body, fields, '');
    if (shape) return error('malformed', shape);
    const key = body.key as string | undefined;
    const version = body.version as string | undefined;
    const invalid = keyProblem(key, 'key') ?? (version ? undefined : 'version is required');
    if (invalid) return error('invalid_argument', invalid);

    if (method === 'CreateCacheEntry') {
      if (entries.some((e) => e.protocol === 'v2' && e.key === key && e.version === version)) return error('already_exists', 'cache entry with the same key, version, and scope already exists', false);
      const entry = newEntry('v2', key as string, version as string);
      entry.blob = `entries/${entry.id}`;
      return reply({ ok: true, signed_upload_url: signedUrl(entry.blob, 'cw'), message: '' });
    }
    if (method === 'FinalizeCacheEntryUpload') {
      const entry = entries.find((e) => e.protocol === 'v2' && e.key === key && e.version === version && !e.committed);
      if (!entry?.blob) return error('not_found', `no cache entry reserved for key ${key} and version ${version}`);
      const uploaded = await container.getBlockBlobClient(entry.blob).getProperties().then((p) => p.contentLength ?? 0, () => undefined);
      if (uploaded === undefined) return error('failed_precondition', `nothing was uploaded to the signed URL of ${key}`);
      if (String(body.size_bytes) !== String(uploaded)) return error('invalid_argument', `size_bytes ${body.size_bytes} is not the ${uploaded} bytes uploaded`);
      Object.assign(entry, { size: uploaded, committed: true });
      return reply({ ok: true, entry_id: String(entry.id), message: '' });
    }
    const restoreKeys = (body.restore_keys ?? []) as string[];
    const badRestoreKey = restoreKeys.length > 9 ? 'at most 9 restore_keys' : restoreKeys.map((k, i) => keyProblem(k, `restore_keys[${i}]`)).find(Boolean);
    if (badRestoreKey) return error('invalid_argument', badRestoreKey);
    const hit = lookup(entries, [key as string, ...restoreKeys], version as string, 'v2');
    return reply(hit?.blob ? { ok: true, signed_download_url: signedUrl(hit.blob, 'r'), matched_key: hit.key } : { ok: false, signed_download_url: '', matched_key: '' });
  }

  const listening = await listen(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = new RegExp(`^/twirp/${SERVICE.replace(/\./g, '\\.')}/(\\w+)$`).exec(url.pathname);
    if (method) return twirp(req, res, method[1] as string);
    const send = (status: number, body?: object) => res.writeHead(status, body ? { 'content-type': 'application/json' } : {}).end(body ? JSON.stringify(body) : undefined);
    const problem = (status: number, message: string) => {
      problems.push(`${req.method} ${url.pathname}: ${message}`);
      send(status, { message });
    };
    const archive = /^\/archive\/(\d+)$/.exec(url.pathname);
    if (archive && req.method === 'GET') {
      const entry = entries.find((e) => e.id === Number(archive[1]) && e.protocol === 'v1' && e.committed);
      return entry ? res.writeHead(200, { 'content-length': entry.size }).end(Buffer.concat(entry.chunks)) : send(404);
    }
    if (req.headers.authorization !== `Bearer ${token}`) return problem(401, 'the runtime token is missing or wrong');
    if (!String(req.headers.accept ?? '').includes('api-version=6.0-preview.1')) return problem(400, `Accept must name api-version=6.0-preview.1, got ${req.headers.accept}`);
    const path = url.pathname.replace(/^\/_apis\/artifactcache\//, '');
    if (req.method === 'GET' && path === 'cache') {
      const hit = lookup(entries, (url.searchParams.get('keys') ?? '').split(','), url.searchParams.get('version') ?? '', 'v1');
      return hit ? send(200, { cacheKey: hit.key, scope: 'refs/heads/main', archiveLocation: `${listening.url}/archive/${hit.id}` }) : send(204);
    }
    if (req.method === 'POST' && path === 'caches') {
      const body = JSON.parse(await readBody(req)) as { key?: string; version?: string; cacheSize?: number };
      if (!body.key || !body.version) return problem(400, 'key and version are required');
      if (entries.some((e) => e.protocol === 'v1' && e.key === body.key && e.version === body.version)) return send(409, { message: `Cache already exists. Scope: refs/heads/main, Key: ${body.key}, Version: ${body.version}` });
      return send(201, { cacheId: newEntry('v1', body.key, body.version).id });
    }
    const id = /^caches\/(\d+)$/.exec(path)?.[1];
    const entry = entries.find((e) => e.id === Number(id) && e.protocol === 'v1');
    if (!entry) return problem(404, 'no such reserved cache');
    if (req.method === 'PATCH') {
      const range = /^bytes (\d+)-(\d+)\/\*$/.exec(String(req.headers['content-range'] ?? ''));
      const chunk = await readBytes(req);
      if (!range || Number(range[2]) - Number(range[1]) + 1 !== chunk.length) return problem(400, `Content-Range ${req.headers['content-range']} does not fit a chunk of ${chunk.length} bytes`);
      if (entry.committed) return problem(409, 'the cache is committed already');
      entry.chunks[Number(range[1])] = chunk;
      entry.size += chunk.length;
      return send(204);
    }
    if (req.method === 'POST') {
      const body = JSON.parse(await readBody(req)) as { size?: number };
      entry.chunks = entry.chunks.filter(Boolean);
      if (body.size !== entry.size) return problem(400, `committed size ${body.size} is not the ${entry.size} bytes uploaded`);
      entry.committed = true;
      return send(204);
    }
    return problem(405, 'method not allowed');
  });
  return {
    url: `${listening.url}/`,
    resultsUrl: azurite ? `${listening.url}/` : undefined,
    entries: () => entries.filter((e) => e.committed).map(({ key, version, protocol, size }) => ({ key, version, protocol, size })),
    problems,
    stop: () => listening.close(),
  };
}
