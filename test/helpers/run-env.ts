/** The variables a runner sets for a push to main of acme/shop, for tests that need a run context. */
export function runEnv(runId: string): Record<string, string> {
  return {
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SHA: 'c0ffee0123456789abcdef0123456789abcdef01',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_REF_NAME: 'main',
    GITHUB_ACTOR: 'octocat',
    GITHUB_WORKFLOW: 'Release',
    GITHUB_RUN_ID: runId,
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_SERVER_URL: 'https://github.com',
  };
}
