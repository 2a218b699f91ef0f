// A stand-in for the GitHub Actions cache service, REST protocol v1 (`_apis/artifactcache`, as GitHub
// Enterprise Server serves it and @actions/cache speaks it without ACTIONS_CACHE_SERVICE_V2). It
// checks what the service checks: the runtime token, the API version in Accept, reserve before
// upload, Content-Range chunks that fit, a commit whose size is what was uploaded, and no second
// entry for a key and version. Lookups match each key exactly, then as a prefix, newest first.
import { listen, readBody, readBytes } from '../helpers/net';

interface Entry {
  id: number;
  key: string;
  version: string;
  chunks: Buffer[];
  size: number;
  committed: boolean;
  created: number;
}

export interface ActionsCache {
  /** ACTIONS_CACHE_URL, ending in `/`. */
  url: string;
  /** The keys of committed entries. */
  keys(): string[];
  problems: string[];
  stop(): Promise<void>;
}

export async function startActionsCache(token: string): Promise<ActionsCache> {
  const entries: Entry[] = [];
  const problems: string[] = [];
  const listening = await listen(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, body?: object) => res.writeHead(status, body ? { 'content-type': 'application/json' } : {}).end(body ? JSON.stringify(body) : undefined);
    const problem = (status: number, message: string) => {
      problems.push(`${req.method} ${url.pathname}: ${message}`);
      send(status, { message });
    };
    const archive = /^\/archive\/(\d+)$/.exec(url.pathname);
    if (archive && req.method === 'GET') {
      const entry = entries.find((e) => e.id === Number(archive[1]) && e.committed);
      return entry ? res.writeHead(200, { 'content-length': entry.size }).end(Buffer.concat(entry.chunks)) : send(404);
    }
    if (req.headers.authorization !== `Bearer ${token}`) return problem(401, 'the runtime token is missing or wrong');
    if (!String(req.headers.accept ?? '').includes('api-version=6.0-preview.1')) return problem(400, `Accept must name api-version=6.0-preview.1, got ${req.headers.accept}`);
    const path = url.pathname.replace(/^\/_apis\/artifactcache\//, '');
    if (req.method === 'GET' && path === 'cache') {
      const keys = (url.searchParams.get('keys') ?? '').split(',');
      const version = url.searchParams.get('version') ?? '';
      const committed = entries.filter((e) => e.committed && e.version === version).sort((a, b) => b.created - a.created);
      for (const key of keys) {
        const hit = committed.find((e) => e.key === key) ?? committed.find((e) => e.key.startsWith(key));
        if (hit) return send(200, { cacheKey: hit.key, scope: 'refs/heads/main', archiveLocation: `${listening.url}/archive/${hit.id}` });
      }
      return send(204);
    }
    if (req.method === 'POST' && path === 'caches') {
      const body = JSON.parse(await readBody(req)) as { key?: string; version?: string; cacheSize?: number };
      if (!body.key || !body.version) return problem(400, 'key and version are required');
      if (entries.some((e) => e.key === body.key && e.version === body.version)) return send(409, { message: `Cache already exists. Scope: refs/heads/main, Key: ${body.key}, Version: ${body.version}` });
      const entry: Entry = { id: entries.length + 1, key: body.key, version: body.version, chunks: [], size: 0, committed: false, created: Date.now() + entries.length };
      entries.push(entry);
      return send(201, { cacheId: entry.id });
    }
    const id = /^caches\/(\d+)$/.exec(path)?.[1];
    const entry = entries.find((e) => e.id === Number(id));
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
  return { url: `${listening.url}/`, keys: () => entries.filter((e) => e.committed).map((e) => e.key), problems, stop: () => listening.close() };
}
