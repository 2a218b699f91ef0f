// Uploads a SARIF log to GitHub code scanning (REST `POST /code-scanning/sarifs`), gzipped and base64
// encoded as the API takes it, then waits briefly for GitHub to process it.
import { gzipSync } from 'node:zlib';
import { GITHUB_POLICY, githubHeaders, repoEndpoint, type GitHubApi } from './github-api';
import { postJson, requestOk } from './http';
import { sleep } from './retry';

/** GitHub refuses SARIF uploads over 10 MB once gzipped. */
const MAX_GZIPPED = 10 * 1024 * 1024;

export interface SarifUpload {
  /** The upload's id, for `GET /code-scanning/sarifs/{id}`. */
  id: string;
  /** `complete`, `pending` (still processing when we stopped waiting) or `failed`. */
  status: string;
  errors: string[];
}

export async function uploadSarif(api: GitHubApi, upload: { sarif: string; commitSha: string; ref: string; toolName: string; waitMs?: number }): Promise<SarifUpload> {
  const gzipped = gzipSync(upload.sarif);
  if (gzipped.length > MAX_GZIPPED) throw new Error(`the SARIF log is ${gzipped.length} bytes gzipped; code scanning takes at most ${MAX_GZIPPED}`);
  const response = await postJson('GitHub code scanning upload', repoEndpoint(api, '/code-scanning/sarifs'), {
    commit_sha: upload.commitSha,
    ref: upload.ref,
    sarif: gzipped.toString('base64'),
    tool_name: upload.toolName,
  }, GITHUB_POLICY, githubHeaders(api));
  const id = String((JSON.parse(response.body) as { id: string }).id);
  const deadline = Date.now() + (upload.waitMs ?? 30_000);
  for (let delay = 1000; ; delay = Math.min(delay * 2, 5000)) {
    const status = JSON.parse((await requestOk({ label: 'GitHub code scanning upload status', url: repoEndpoint(api, `/code-scanning/sarifs/${id}`), headers: githubHeaders(api) }, GITHUB_POLICY)).body) as { processing_status?: string; errors?: string[] | null };
    const state = status.processing_status ?? 'pending';
    if (state !== 'pending' || Date.now() + delay > deadline) return { id, status: state, errors: status.errors ?? [] };
    await sleep(delay);
  }
}
