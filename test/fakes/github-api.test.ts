// The GitHub stand-in is only as good as its checks: it must refuse what GitHub would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitHubApi, type GitHubApi } from './github-api';

const TOKEN = 'ghs_standintest00000000000000000000000';
let api: GitHubApi;
beforeAll(async () => {
  api = await startGitHubApi(TOKEN);
}, 60_000);
afterAll(async () => api?.stop());

const post = (path: string, body: object, token = TOKEN) =>
  fetch(`${api.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('GitHub REST stand-in (from @octokit/openapi)', () => {
  it('accepts a valid deployment and refuses bad credentials, unknown fields, wrong types and enums', async () => {
    expect((await post('/repos/acme/shop/deployments', { ref: 'main', environment: 'staging', required_contexts: [] })).status).toBe(201);
    expect((await post('/repos/acme/shop/deployments', { ref: 'main' }, 'wrong')).status).toBe(401);
    const unknown = await post('/repos/acme/shop/deployments', { ref: 'main', enviroment: 'staging' });
    expect(unknown.status).toBe(422);
    expect(JSON.stringify(await unknown.json())).toContain('additionalProperty');
    expect((await post('/repos/acme/shop/deployments', { ref: 'main', auto_merge: 'no' })).status).toBe(422);
    expect((await post('/repos/acme/shop/deployments', { environment: 'staging' })).status).toBe(422);
    expect((await post('/repos/acme/shop/deployments/1/statuses', { state: 'done' })).status).toBe(422);
    expect((await post('/repos/acme/shop/no-such-thing', {})).status).toBe(404);
  });
});
